"""The signed-in agent: presence (online, paused with a reason, offline) and what it serves."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Self

import anyio
from fastapi import APIRouter, BackgroundTasks, Depends, Query
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, model_validator
from sqlalchemy import delete, func, select, update

from activities.dispatch import wake_waiting
from api.deps import CurrentUser, ServicesDep, SessionDep, bearer, user_for_token
from api.errors import invalid
from models import AccountAgent, AgentSession, Offer, OfferStatus, Pause, QueueAgent, UserStatus

router = APIRouter(prefix="/api/agents", tags=["agents"])


class StatusIn(BaseModel):
    status: UserStatus
    pause_id: int | None = None

    @model_validator(mode="after")
    def _pause_only_when_paused(self) -> Self:
        if self.status is UserStatus.paused and self.pause_id is None:
            raise ValueError("pause_id is required to pause")
        if self.status is not UserStatus.paused and self.pause_id is not None:
            raise ValueError("pause_id goes only with status paused")
        return self


class MeOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    status: UserStatus
    pause_id: int | None
    status_changed_at: datetime
    whatsapp_capacity: int
    account_ids: list[int]
    queue_ids: list[int]


async def _me(session: SessionDep, user: CurrentUser) -> MeOut:
    accounts = await session.scalars(select(AccountAgent.account_id).where(AccountAgent.user_id == user.id))
    queues = await session.scalars(select(QueueAgent.queue_id).where(QueueAgent.user_id == user.id))
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
    )


@router.get("/me")
async def get_me(user: CurrentUser, session: SessionDep) -> MeOut:
    return await _me(session, user)


@router.put("/me/status")
async def set_my_status(
    body: StatusIn, user: CurrentUser, session: SessionDep, services: ServicesDep, background: BackgroundTasks
) -> MeOut:
    """Going online wakes the interactions waiting for this agent (after the change commits)."""
    if body.pause_id is not None and await session.get(Pause, body.pause_id) is None:
        raise invalid({"pause_id": f"pause {body.pause_id} does not exist"})
    if (user.status, user.pause_id) != (body.status, body.pause_id):
        user.status = body.status
        user.pause_id = body.pause_id
        user.status_changed_at = datetime.now(UTC)
        await session.flush()
        if body.status is UserStatus.online:
            background.add_task(wake_waiting, services.sessionmaker, services.temporal, user.id)
    return await _me(session, user)


HEARTBEAT_SECONDS = 15.0


@router.get(
    "/me/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "offer, offer_rescinded, message, interaction_updated",
        }
    },
)
async def my_events(
    services: ServicesDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    access_token: Annotated[
        str | None, Query(description="for EventSource, which cannot send headers")
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events for the signed-in agent. While a stream is open (heartbeat every 15 s)
    the agent counts as present; an agent with no live stream has closed the tab."""
    user = await user_for_token(services, session, credentials.credentials if credentials else access_token)
    presence = AgentSession(id=uuid.uuid4(), user_id=user.id)
    session.add(presence)
    queue = services.events.subscribe(user.id)

    async def stream() -> AsyncIterator[str]:
        try:
            yield f"event: ready\ndata: {json.dumps({'agent_id': user.id})}\n\n"
            for event in await _pending_offers(services, user.id):  # offers made while the tab was closed
                yield f"event: offer\ndata: {json.dumps(event, default=str)}\n\n"
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await _touch(services, presence.id)
                    yield ": heartbeat\n\n"
                    continue
                yield f"event: {item['event']}\ndata: {json.dumps(item['data'], default=str)}\n\n"
        finally:
            services.events.unsubscribe(user.id, queue)
            # The client left and Starlette is cancelling this stream: finish the cleanup anyway
            # (a row that stays behind still goes stale after the heartbeat window).
            with anyio.CancelScope(shield=True):
                async with services.sessionmaker() as closing, closing.begin():
                    await closing.execute(delete(AgentSession).where(AgentSession.id == presence.id))

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


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


async def _touch(services: ServicesDep, session_id: uuid.UUID) -> None:
    async with services.sessionmaker() as session, session.begin():
        await session.execute(
            update(AgentSession).where(AgentSession.id == session_id).values(seen_at=func.now())
        )
