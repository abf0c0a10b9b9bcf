"""WhatsApp queues and their agents. Agents see only the queues they belong to."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from api.crud import ListOut, apply_patch, ensure_unreferenced, get_or_404, paginate
from api.deps import AdminUser, CurrentUser, PageDep, SessionDep
from api.directory.membership import add_member_routes
from api.directory.schemas import QueueIn, QueueOut, QueuePatch
from api.errors import not_found
from models import Account, Action, Queue, QueueAgent, Role

router = APIRouter(prefix="/api/whatsapp/queues", tags=["queues"])


@router.get("")
async def list_queues(user: CurrentUser, session: SessionDep, page: PageDep) -> ListOut[QueueOut]:
    query = select(Queue).order_by(Queue.name)
    if user.role is Role.agent:
        query = query.join(QueueAgent, QueueAgent.queue_id == Queue.id).where(QueueAgent.user_id == user.id)
    count, rows = await paginate(session, query, page)
    return ListOut(count=count, rows=[QueueOut.model_validate(row) for row in rows])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_queue(body: QueueIn, _: AdminUser, session: SessionDep) -> QueueOut:
    queue = Queue(**body.model_dump())
    session.add(queue)
    await session.flush()
    return QueueOut.model_validate(queue)


@router.get("/{queue_id}")
async def get_queue(queue_id: int, user: CurrentUser, session: SessionDep) -> QueueOut:
    queue = await get_or_404(session, Queue, queue_id, "queue")
    if user.role is Role.agent and await session.get(QueueAgent, (queue_id, user.id)) is None:
        raise not_found("queue", queue_id)
    return QueueOut.model_validate(queue)


@router.patch("/{queue_id}")
@router.put("/{queue_id}")  # the same update, under its own operation id
async def update_queue(queue_id: int, body: QueuePatch, _: AdminUser, session: SessionDep) -> QueueOut:
    queue = await get_or_404(session, Queue, queue_id, "queue")
    apply_patch(queue, body)
    await session.flush()
    return QueueOut.model_validate(queue)


@router.delete("/{queue_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_queue(queue_id: int, _: AdminUser, session: SessionDep) -> None:
    """Agent memberships go with the queue; action-plan steps that route to it block the delete."""
    queue = await get_or_404(session, Queue, queue_id, "queue")
    await ensure_unreferenced(
        session,
        f"queue {queue.name}",
        [
            (
                "queue steps of the action plans of accounts",
                select(Account.key)
                .join(Action, Action.account_id == Account.id)
                .where(Action.queue_id == queue_id),
            )
        ],
    )
    await session.delete(queue)


add_member_routes(router, Queue, QueueAgent, "queue_id", "queue")
