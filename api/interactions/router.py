"""Reading interactions and their messages. Admins and supervisors see all; agents see the
interactions of the accounts they belong to."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from api.crud import ListOut, paginate, paginate_ids, paginate_rows
from api.deps import CurrentUser, PageDep, ServicesDep, SessionDep
from api.errors import not_found
from api.interactions.conditions import search_fields
from api.interactions.schemas import (
    COUNT_LIMIT,
    InteractionFilters,
    InteractionListOut,
    InteractionOut,
    MessageOut,
    SearchFieldsOut,
    TimelineEventOut,
)
from api.interactions.service import (
    display_name,
    interaction_out,
    matching_ids,
    ordered,
    page_rows,
    visible_accounts,
    visible_interaction,
)
from models import (
    Interaction,
    InteractionEvent,
    Message,
    Queue,
    User,
)

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["interactions"])


@router.get("")
async def list_interactions(
    user: CurrentUser, session: SessionDep, page: PageDep, filters: Annotated[InteractionFilters, Query()]
) -> InteractionListOut:
    """The interactions the caller may see (agents: those of their accounts), filtered, sorted
    by `sort` and `order`, paged. `count` is exact up to COUNT_LIMIT; past it, `count` is
    COUNT_LIMIT and `count_exact` is false."""
    accounts = await visible_accounts(session, user)
    ids = ordered(matching_ids(filters, accounts), filters)
    rows_of = partial(page_rows, filters=filters)
    count, rows = await paginate_ids(session, ids, rows_of, page, count_up_to=COUNT_LIMIT)
    return InteractionListOut(
        count=min(count, COUNT_LIMIT),
        count_exact=count <= COUNT_LIMIT,
        rows=[interaction_out(*row) for row in rows],
    )


@router.get("/search-fields")
async def list_search_fields(_: CurrentUser) -> SearchFieldsOut:
    """The advanced search's vocabulary, for a UI to build its form: each field with its value
    type, the operators that apply to it and whether an action plan's `gotoif` may use it."""
    return search_fields()


@router.get("/{interaction_id}")
async def get_interaction(interaction_id: int, user: CurrentUser, session: SessionDep) -> InteractionOut:
    return await visible_interaction(session, interaction_id, user)


@router.get("/{interaction_id}/messages")
async def list_messages(
    interaction_id: int, user: CurrentUser, session: SessionDep, page: PageDep
) -> ListOut[MessageOut]:
    """The thread, oldest first. The owner reading it marks the interaction read (a supervisor
    looking on does not); the next inbound message, or a transfer nobody took, marks it unread."""
    shown = await visible_interaction(session, interaction_id, user)
    if shown.owner_id == user.id and not shown.read:
        await session.execute(
            update(Interaction)
            .where(Interaction.id == interaction_id, Interaction.owner_id == user.id)
            .values(read=True)
        )
    query = select(Message).where(Message.interaction_id == interaction_id).order_by(Message.id)
    count, rows = await paginate(session, query, page)
    return ListOut(count=count, rows=[MessageOut.model_validate(row) for row in rows])


@router.get("/{interaction_id}/timeline")
async def list_timeline(
    interaction_id: int, user: CurrentUser, session: SessionDep, page: PageDep
) -> ListOut[TimelineEventOut]:
    """What happened to the interaction besides its messages (offers accepted, transfers, tags,
    notes, video calls, close and disposition, routing trouble), oldest first, paged like
    `/messages`, to whoever may read its messages. Reading it marks nothing read."""
    await visible_interaction(session, interaction_id, user)
    actor, agent = aliased(User), aliased(User)
    actor_id = func.coalesce(InteractionEvent.actor_id, InteractionEvent.data["from"].as_integer())
    query = (
        select(
            InteractionEvent,
            actor.id,
            display_name(actor),
            display_name(agent),
            Queue.name,
        )
        .outerjoin(actor, actor.id == actor_id)
        .outerjoin(agent, agent.id == InteractionEvent.data["agent_id"].as_integer())
        .outerjoin(Queue, Queue.id == InteractionEvent.data["queue_id"].as_integer())
        .where(InteractionEvent.interaction_id == interaction_id)
        .order_by(InteractionEvent.at, InteractionEvent.id)
    )
    count, rows = await paginate_rows(session, query, page)
    return ListOut(
        count=count,
        rows=[
            TimelineEventOut(
                id=event.id,
                interaction_id=event.interaction_id,
                at=event.at,
                kind=event.kind,
                actor_id=actor_of,
                actor_name=actor_name,
                agent_name=agent_name,
                queue_name=queue_name,
                data=event.data or {},
            )
            for event, actor_of, actor_name, agent_name, queue_name in rows
        ],
    )


@router.get("/{interaction_id}/messages/{message_id}/media", response_class=FileResponse)
async def get_media(
    interaction_id: int, message_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> FileResponse:
    """The stored bytes of an inbound media message (404 until the download has finished).

    The sender chose both the bytes and the type they claim, so the file is served as a
    download browsers may not sniff; only an image whose bytes are PNG, JPEG, GIF or WebP is
    served inline (for the desk to show), typed by what its bytes are."""
    await visible_interaction(session, interaction_id, user)
    message = await session.get(Message, message_id)
    if message is None or message.interaction_id != interaction_id or not (message.media or {}).get("path"):
        raise not_found("stored media of message", message_id)
    assert message.media is not None
    path = services.settings.media_dir / message.media["path"]
    head = await run_in_threadpool(_head, path)
    if head is None:
        raise not_found("stored media of message", message_id)
    image = image_type(head)
    return FileResponse(
        path,
        media_type=image or message.media.get("content_type") or "application/octet-stream",
        filename=message.media.get("filename") or path.name,
        content_disposition_type="inline" if image else "attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _head(path: Path) -> bytes | None:
    try:
        with path.open("rb") as stored:
            return stored.read(12)
    except FileNotFoundError:
        return None


def image_type(head: bytes) -> str | None:
    """The image type the first 12 bytes of a file are, by their magic numbers, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None
