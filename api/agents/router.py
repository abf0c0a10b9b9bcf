"""The signed-in agent: presence (online, paused with a reason, offline) and what it serves."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
from fastapi import APIRouter, BackgroundTasks
from fastapi.responses import StreamingResponse
from sqlalchemy import delete, func, select, update

from api import sse
from api.agents.events import RESYNC, agent_topic
from api.agents.schemas import MeOut, StatusIn, TicketOut
from api.deps import CurrentUser, ServicesDep, SessionDep
from api.errors import AppError, invalid
from api.sse import StreamUser, ticket_digest
from domain.dispatch import wake_waiting
from models import (
    AccountAgent,
    AgentSession,
    Offer,
    OfferStatus,
    Pause,
    QueueAgent,
    User,
    UserStatus,
)
from models.events import notify_floor
from models.routing import owed_dispositions
from models.user import StreamTicket

router = APIRouter(prefix="/api/agents", tags=["agents"])


async def _me(session: SessionDep, user: CurrentUser) -> MeOut:
    accounts = await session.scalars(select(AccountAgent.account_id).where(AccountAgent.user_id == user.id))
    queues = await session.scalars(select(QueueAgent.queue_id).where(QueueAgent.user_id == user.id))
    owed = await session.scalars(owed_dispositions(user.id)) if user.status_before_disposition else ()
    return MeOut(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        status=user.status,
        pause_id=user.pause_id,
        status_changed_at=user.status_changed_at,
        whatsapp_capacity=user.whatsapp_capacity,
        account_ids=sorted(accounts),
        queue_ids=sorted(queues),
        owed_dispositions=list(owed),
    )


@router.get("/me")
async def get_me(user: CurrentUser, session: SessionDep) -> MeOut:
    return await _me(session, user)


@router.put(
    "/me/status",
    responses={
        409: {
            "description": "`disposition_required`: a mandatory disposition is owed first; the error's "
            "`details.interaction_ids` lists the interactions to dispose (as `owed_dispositions` of "
            "`GET /api/agents/me` does)"
        }
    },
)
async def set_my_status(
    body: StatusIn, user: CurrentUser, session: SessionDep, services: ServicesDep, background: BackgroundTasks
) -> MeOut:
    """Going online wakes the interactions waiting for this agent (after the change commits).
    An agent in the pause of a mandatory disposition stays in it until `dispose` ends it."""
    if body.pause_id is not None and await session.get(Pause, body.pause_id) is None:
        raise invalid({"pause_id": f"pause {body.pause_id} does not exist"})
    # Locked and read again: closing an interaction may be pausing this agent right now.
    await session.refresh(user, with_for_update=True)
    if (user.status, user.pause_id) != (body.status, body.pause_id):
        await _ensure_nothing_to_dispose(session, user)
        user.status = body.status
        user.pause_id = body.pause_id
        user.status_changed_at = datetime.now(UTC)
        await session.flush()
        await notify_floor(session)
        if body.status is UserStatus.online:
            background.add_task(wake_waiting, services.sessionmaker, services.temporal, user.id)
    return await _me(session, user)


async def _ensure_nothing_to_dispose(session: SessionDep, user: User) -> None:
    """Refuse (409) a status change while the agent owes a mandatory disposition."""
    if user.status_before_disposition is None:
        return
    owed = (await session.scalars(owed_dispositions(user.id))).all()
    if not owed:  # nothing left to dispose (the account stopped demanding it): the pause is over
        user.status_before_disposition = None
        return
    raise AppError(
        409,
        "disposition_required",
        f"awaiting a mandatory disposition: interaction {', '.join(map(str, owed))}; dispose first",
        details={"interaction_ids": list(owed)},
    )


TICKET_SECONDS = 60


@router.post("/me/events/ticket")
async def issue_events_ticket(user: CurrentUser, session: SessionDep) -> TicketOut:
    """A ticket for `GET /api/agents/me/events?ticket=...` (EventSource cannot send headers), or
    for a spy's `GET /api/whatsapp/interactions/{id}/events?ticket=...`: it opens one stream,
    within a minute, and a bearer token never goes into a URL (or a log)."""
    await session.execute(delete(StreamTicket).where(StreamTicket.expires_at < func.now()))
    ticket = secrets.token_urlsafe(32)
    session.add(
        StreamTicket(
            digest=ticket_digest(ticket),
            user_id=user.id,
            token_version=user.token_version,
            expires_at=datetime.now(UTC) + timedelta(seconds=TICKET_SECONDS),
        )
    )
    return TicketOut(ticket=ticket, expires_in=TICKET_SECONDS)


@router.get(
    "/me/events",
    response_class=StreamingResponse,
    responses=sse.documented(
        "ready, offer, offer_rescinded, message, message_status, interaction_updated, resync"
    ),
)
async def my_events(services: ServicesDep, session: SessionDep, user: StreamUser) -> StreamingResponse:
    """Server-Sent Events for the signed-in agent (a bearer token in the Authorization header, or
    a single-use ticket). While a stream is open the agent counts as present (its session is
    refreshed every 15 s, busy or idle); an agent with no live stream has closed the tab. After
    `resync` (events may have been lost) the pending offers follow. The stream ends when the
    user's sessions are revoked (new password or role, user deleted)."""
    version = user.token_version
    presence = AgentSession(id=uuid.uuid4(), user_id=user.id)
    session.add(presence)
    topic = agent_topic(user.id)
    queue = services.events.subscribe(topic)

    async def offers() -> list[str]:
        return [sse.event("offer", offer) for offer in await _pending_offers(services, user.id)]

    async def after(item: sse.Item) -> list[str]:
        return await offers() if item["event"] == RESYNC else []  # the gap may have swallowed offers

    async def alive() -> bool:
        return await _touch(services, presence.id, version)

    async def stream() -> AsyncIterator[str]:
        try:
            yield sse.event("ready", {"agent_id": user.id})
            for chunk in await offers():  # offers made while the tab was closed
                yield chunk
            async for chunk in sse.relay(queue, alive, after):
                yield chunk
        finally:
            services.events.unsubscribe(topic, queue)
            # The client left and Starlette is cancelling this stream: finish the cleanup anyway
            # (a row that stays behind still goes stale after the heartbeat window).
            with anyio.CancelScope(shield=True):
                async with services.sessionmaker() as closing, closing.begin():
                    await closing.execute(delete(AgentSession).where(AgentSession.id == presence.id))

    return sse.response(stream())


async def _pending_offers(services: ServicesDep, agent_id: int) -> list[dict[str, object]]:
    async with services.sessionmaker() as session:
        events = await session.scalars(
            select(Offer.event)
            .where(
                Offer.agent_id == agent_id, Offer.status == OfferStatus.pending, Offer.expires_at > func.now()
            )
            .order_by(Offer.id)
        )
        return list(events)


async def _touch(services: ServicesDep, session_id: uuid.UUID, token_version: int) -> bool:
    """Refresh the stream's presence; False once the user's sessions were revoked (its
    token_version moved on, or the user and with it this presence row are gone)."""
    async with services.sessionmaker() as session, session.begin():
        touched = await session.scalar(
            update(AgentSession)
            .where(
                AgentSession.id == session_id,
                select(User.id)
                .where(User.id == AgentSession.user_id, User.token_version == token_version)
                .exists(),
            )
            .values(seen_at=func.now())
            .returning(AgentSession.id)
        )
        return touched is not None
