"""Agents working interactions: accept, reject and close are Temporal updates on the interaction's
workflow; dispose writes the closed interaction's disposition.

The workflow's validator refuses an offer that is not the caller's or has expired (409), so of
two agents accepting at once exactly one becomes the owner. An update holds no database connection
while Temporal answers, and one not answered by the deadline (its workers down) is a 503.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks
from sqlalchemy import exists, func, select

from api.deps import CurrentUser, ServicesDep, SessionDep
from api.errors import conflict, forbidden, invalid
from api.interactions.errors import NotClosable, NotTransferable, OfferGone
from api.interactions.schemas import (
    AcceptedOut,
    AgentTarget,
    CloseIn,
    DisposeIn,
    QueueTarget,
    TransferIn,
    TransferTargetsOut,
)
from api.interactions.service import visible_interaction
from api.temporal import commit_then_update
from domain.dispatch import wake_waiting
from models import (
    Account,
    AccountAgent,
    AgentSession,
    Disposition,
    Interaction,
    InteractionEvent,
    InteractionStatus,
    Queue,
    QueueAgent,
    Role,
    User,
    UserStatus,
)
from models.routing import PRESENCE_WINDOW, owed_dispositions
from workflows.interaction import CloseRequest, InteractionWorkflow, OfferAnswer, TransferRequest

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["routing"])


@router.post("/{interaction_id}/accept", responses={409: {"description": "the offer is no longer yours"}})
async def accept(
    interaction_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> AcceptedOut:
    interaction = await visible_interaction(session, interaction_id, user)
    accepted = await commit_then_update(
        session,
        services.temporal,
        interaction.workflow_id,
        InteractionWorkflow.accept,
        OfferAnswer(user.id),
        refusal=OfferGone,
    )
    return AcceptedOut(interaction_id=accepted.interaction_id, owner_id=accepted.agent_id)


@router.post("/{interaction_id}/reject", responses={409: {"description": "the offer is no longer yours"}})
async def reject(
    interaction_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> dict[str, bool]:
    interaction = await visible_interaction(session, interaction_id, user)
    await commit_then_update(
        session,
        services.temporal,
        interaction.workflow_id,
        InteractionWorkflow.reject,
        OfferAnswer(user.id),
        refusal=OfferGone,
    )
    return {"rejected": True}


async def _disposition_of(session: SessionDep, account_id: int, disposition_id: int | None) -> None:
    if disposition_id is None:
        return
    disposition = await session.get(Disposition, disposition_id)
    if disposition is None or disposition.account_id != account_id:
        raise invalid({"disposition_id": "is not a disposition of this interaction's account"})


@router.post("/{interaction_id}/close", responses={409: {"description": "not yours, or closed already"}})
async def close(
    interaction_id: int, body: CloseIn, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> dict[str, str]:
    """Close the interaction. Where the account demands a disposition and none is given, the
    agent is put in the account's disposition pause until `dispose`."""
    interaction = await visible_interaction(session, interaction_id, user)
    await _disposition_of(session, interaction.account_id, body.disposition_id)
    request = CloseRequest(user.id, body.disposition_id, staff=user.role is not Role.agent)
    await commit_then_update(
        session,
        services.temporal,
        interaction.workflow_id,
        InteractionWorkflow.close,
        request,
        refusal=NotClosable,
    )
    return {"status": "closed"}


@router.post("/{interaction_id}/dispose", responses={409: {"description": "not closed, or not yours"}})
async def dispose(
    interaction_id: int,
    body: DisposeIn,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Record the disposition of a closed interaction; an agent paused for it gets back the status
    it had before (and, back online, the interactions waiting for it)."""
    shown = await visible_interaction(session, interaction_id, user)
    await _disposition_of(session, shown.account_id, body.disposition_id)
    interaction = await session.get(Interaction, interaction_id, with_for_update=True, populate_existing=True)
    assert interaction is not None
    if interaction.status is not InteractionStatus.closed:
        raise conflict("close the interaction before disposing it", code="not_closed")
    if user.role is Role.agent and interaction.owner_id != user.id:
        raise conflict("only the agent who owned the interaction may dispose it", code="not_owner")
    interaction.disposition_id = body.disposition_id
    session.add(InteractionEvent(interaction_id=interaction_id, kind="disposed", actor_id=user.id,
                                 data={"disposition_id": body.disposition_id}))  # fmt: skip
    restored = None
    owner = (
        await session.get(User, interaction.owner_id, with_for_update=True, populate_existing=True)
        if interaction.owner_id
        else None
    )
    await session.flush()
    still_owed = owner is not None and (await session.scalars(owed_dispositions(owner.id))).first()
    if owner is not None and owner.status_before_disposition is not None and not still_owed:
        restored = UserStatus(owner.status_before_disposition)
        owner.status, owner.pause_id, owner.status_before_disposition = restored, None, None
        owner.status_changed_at = datetime.now(UTC)
        if restored is UserStatus.online:
            background.add_task(wake_waiting, services.sessionmaker, services.temporal, owner.id)
    return {"disposition_id": body.disposition_id, "agent_status": restored}


@router.post(
    "/{interaction_id}/transfer", responses={409: {"description": "disabled, or not yours to transfer"}}
)
async def transfer(
    interaction_id: int, body: TransferIn, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> dict[str, Any]:
    """Hand the interaction to an agent or a queue; the target has the account's transfer timeout
    to accept, else the interaction comes back to its owner, marked unread."""
    shown = await visible_interaction(session, interaction_id, user)
    account = await session.get(Account, shown.account_id)
    assert account is not None
    if body.agent_id is not None:
        if not account.transfer_agent_enabled:
            raise conflict("this account does not allow transfers to agents", code="transfer_disabled")
        if await session.get(AccountAgent, (account.id, body.agent_id)) is None:
            raise invalid({"agent_id": "is not an agent of this interaction's account"})
        timeout = account.transfer_agent_timeout
    else:
        if not account.transfer_queue_enabled:
            raise conflict("this account does not allow transfers to queues", code="transfer_disabled")
        if await session.get(Queue, body.queue_id) is None:
            raise invalid({"queue_id": f"queue {body.queue_id} does not exist"})
        timeout = account.transfer_queue_timeout
    request = TransferRequest(
        user.id, body.agent_id, body.queue_id, timeout, staff=user.role is not Role.agent
    )
    await commit_then_update(
        session,
        services.temporal,
        shown.workflow_id,
        InteractionWorkflow.transfer,
        request,
        refusal=NotTransferable,
    )
    return {"transferring_to": body.model_dump(exclude_none=True), "timeout": timeout}


@router.get("/{interaction_id}/transfer-targets")
async def transfer_targets(interaction_id: int, user: CurrentUser, session: SessionDep) -> TransferTargetsOut:
    """Where the interaction's owner (or staff) may transfer it: the account's other agents with
    their presence, if it allows transfers to agents, and the queues serving the account (those
    with at least one of its agents), if it allows transfers to queues."""
    shown = await visible_interaction(session, interaction_id, user)
    if user.role is Role.agent and shown.owner_id != user.id:
        raise forbidden("only the agent who owns the interaction (or a supervisor) may transfer it")
    account = await session.get(Account, shown.account_id)
    assert account is not None
    agents: list[AgentTarget] = []
    queues: list[QueueTarget] = []
    if account.transfer_agent_enabled:
        connected = exists().where(
            AgentSession.user_id == User.id, AgentSession.seen_at > func.now() - PRESENCE_WINDOW
        )
        rows = await session.execute(
            select(User, connected.label("connected"))
            .join(AccountAgent, AccountAgent.user_id == User.id)
            .where(AccountAgent.account_id == account.id, User.id != shown.owner_id)
            .order_by(User.full_name, User.username)
        )
        agents = [
            AgentTarget(
                id=agent.id,
                username=agent.username,
                full_name=agent.full_name,
                status=agent.status,
                present=agent.status is UserStatus.online and bool(live),
            )
            for agent, live in rows
        ]
    if account.transfer_queue_enabled:
        serving = (
            select(QueueAgent.queue_id)
            .join(AccountAgent, AccountAgent.user_id == QueueAgent.user_id)
            .where(AccountAgent.account_id == account.id)
        )
        found = await session.scalars(select(Queue).where(Queue.id.in_(serving)).order_by(Queue.name))
        queues = [QueueTarget(id=q.id, name=q.name, description=q.description) for q in found]
    return TransferTargetsOut(agents=agents, queues=queues)
