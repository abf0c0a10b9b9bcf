"""Server-Sent Events as every stream of the API sends them (an agent's own, a spy's).

A stream opens with `ready`, then sends each event the hub (api.agents.events) hands it as it
comes, a `: heartbeat` comment when it has been idle for HEARTBEAT_SECONDS and `resync` when the
hub's listener reconnected (events may have been lost: read the state again). Every
HEARTBEAT_SECONDS, idle or busy, the stream asks whether it may go on (the user's sessions not
revoked...), and ends when not. EventSource cannot send headers, so a stream takes a bearer token
in the Authorization header or a single-use ticket (`POST /api/agents/me/events/ticket`) in the
URL, never a token.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import delete, select

from api.deps import STAFF, Services, ServicesDep, SessionDep, bearer, user_for_token
from api.errors import AppError, forbidden
from models import User
from models.user import StreamTicket

HEARTBEAT_SECONDS = 15.0
HEARTBEAT = ": heartbeat\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Item = dict[str, Any]


def event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


async def _nothing_after(_: Item) -> Sequence[str]:
    return ()


async def relay(
    queue: asyncio.Queue[Item],
    alive: Callable[[], Awaitable[bool]],
    after: Callable[[Item], Awaitable[Sequence[str]]] = _nothing_after,
    last: Collection[str] = (),
) -> AsyncIterator[str]:
    """The hub's events from `queue` as SSE. `alive()` is asked every HEARTBEAT_SECONDS (by the
    clock, not the traffic: a busy stream is asked too) and False ends the stream; `after(item)`
    gives what follows an event (e.g. the offers a `resync` may have swallowed); an event named
    in `last` is the stream's last."""
    clock = asyncio.get_running_loop()
    check_at = clock.time() + HEARTBEAT_SECONDS
    while True:
        try:
            item: Item | None = await asyncio.wait_for(queue.get(), max(check_at - clock.time(), 0))
        except TimeoutError:
            item = None
        if item is None or clock.time() >= check_at:
            if not await alive():
                return
            check_at = clock.time() + HEARTBEAT_SECONDS
        if item is None:
            yield HEARTBEAT
            continue
        yield event(item["event"], item["data"])
        for chunk in await after(item):
            yield chunk
        if item["event"] in last:
            return


def staff_stream(services: Services, user: User, what: str) -> Callable[[], Awaitable[bool]]:
    """For a stream only admins and supervisors may open (refused otherwise, naming `what`): its
    `alive`, true while the user keeps its sessions and a staff role."""
    if user.role not in STAFF:
        raise forbidden(f"{what} needs the role admin or supervisor")
    user_id, version = user.id, user.token_version

    async def alive() -> bool:
        async with services.sessionmaker() as session:
            still = await session.scalar(
                select(User.id).where(User.id == user_id, User.token_version == version, User.role.in_(STAFF))
            )
            return still is not None

    return alive


def response(chunks: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream", headers=HEADERS)


def documented(events: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a stream route: a text/event-stream whose events `events` lists."""
    return {200: {"content": {"text/event-stream": {}}, "description": events}}


def ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


async def _redeem(session: SessionDep, ticket: str) -> User:
    """The user a ticket was issued to, once: redeeming deletes it (a concurrent second use waits
    on the row and then finds nothing)."""
    redeemed = (
        await session.execute(
            delete(StreamTicket)
            .where(StreamTicket.digest == ticket_digest(ticket))
            .returning(StreamTicket.user_id, StreamTicket.token_version, StreamTicket.expires_at)
        )
    ).first()
    user = await session.get(User, redeemed.user_id) if redeemed is not None else None
    if (
        redeemed is None
        or user is None
        or redeemed.expires_at <= datetime.now(UTC)
        or redeemed.token_version != user.token_version
    ):
        raise AppError(401, "unauthorized", "the ticket is invalid, used or expired")
    return user


async def stream_user(
    services: ServicesDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ticket: Annotated[
        str | None,
        Query(max_length=100, description="from POST /api/agents/me/events/ticket, for EventSource"),
    ] = None,
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> User:
    """Who opens a stream: the bearer token's user, else the ticket's (redeemed)."""
    if access_token is not None:
        raise AppError(
            401, "unauthorized", "tokens are not taken in URLs: use POST /api/agents/me/events/ticket"
        )
    if credentials is None and ticket is not None:
        return await _redeem(session, ticket)
    return await user_for_token(services, session, credentials.credentials if credentials else None)


StreamUser = Annotated[User, Depends(stream_user)]
