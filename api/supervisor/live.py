"""The live view: `GET /api/supervisor/live`, and the same pushed over `GET /api/supervisor/events`.

Everything is read from the database in one transaction (so one `now()`): right across API
processes and restarts. Per account and queue: who waits now (a `queue_waits` row), the longest
wait, interactions holding a live offer, interactions owned by an agent, agents eligible. Per
agent: status and how long in it, open interactions against capacity, live offers, offers missed
(expired) in the last hour. Per account: the service level (api.supervisor.measures) of the
interactions started in the last 30 minutes and today (UTC).

One `LiveFeed` per API process reads the view for all its supervisor streams: every PUSH_SECONDS,
and SETTLE_SECONDS after any change the event hub hears of (a message, an offer, an accept...),
but never more than READING_SHARE of its time under a stream of changes; it pushes the view when
it differs from the last one pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.offers import FindAgents, eligible_agents
from api import sse
from api.agents.events import AgentEventHub, put_dropping_oldest
from api.deps import ServicesDep, SessionDep, StaffUser
from api.interactions.service import display_name
from api.sse import StreamUser
from api.supervisor.measures import MISSED, ServiceLevelOut, interaction_facts, seconds, service_level
from models import (
    Account,
    AccountAgent,
    Action,
    Interaction,
    Offer,
    OfferStatus,
    Queue,
    QueueWait,
    User,
    UserStatus,
)
from models.interaction import ACTIVE, open_count

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/supervisor", tags=["supervisor"])

PUSH_SECONDS = 2.0
SETTLE_SECONDS = 0.1  # a burst of changes (an accept writes several rows) is read once
# Under a stream of changes the feed reads at most this share of the time: a read that took
# 200 ms (a busy day's service level) waits 800 ms before the next; a quick one, SETTLE_SECONDS.
READING_SHARE = 0.2
RECENT = timedelta(minutes=30)  # the service level's short period
MISSED_WINDOW = timedelta(hours=1)  # an agent's missed offers
AGENT_WAITS = "(waiting for an agent)"  # the row of interactions waiting for one named agent


class QueueLive(BaseModel):
    queue_id: int | None = Field(
        description="null: interactions waiting for one named agent (an `agent` step, the absent "
        "owner, a transfer to an agent)"
    )
    name: str
    waiting: int = Field(description="interactions waiting now (offered or not)")
    waiting_since: datetime | None = Field(description="since when the longest-waiting one waits")
    longest_wait_seconds: float | None
    offered: int = Field(description="interactions holding an offer not yet answered or expired")
    active: int = Field(description="open interactions an agent owns, last routed through this queue")
    agents_eligible: int = Field(
        description="agents of the account (and queue) online with room below their capacity"
    )


class AccountLive(BaseModel):
    account_id: int
    key: str
    name: str
    service_level_seconds: int
    queues: list[QueueLive] = Field(
        description="the queues of the account's action plan and any with interactions now"
    )
    last_30_minutes: ServiceLevelOut = Field(description="interactions started in the last 30 minutes")
    today: ServiceLevelOut = Field(description="interactions started since 00:00 UTC")


class AgentLive(BaseModel):
    agent_id: int
    name: str
    status: UserStatus
    pause_id: int | None
    status_changed_at: datetime
    in_status_seconds: float
    open: int = Field(description="open interactions the agent owns")
    capacity: int = Field(description="the agent's whatsapp_capacity")
    offered: int = Field(description="offers the agent holds now")
    missed_last_hour: int = Field(description="offers to the agent that expired in the last hour")


class LiveOut(BaseModel):
    at: datetime = Field(description="when it was read (the database's clock)")
    accounts: list[AccountLive]
    agents: list[AgentLive] = Field(description="every user who is an agent of some account")


Pair = tuple[int, int | None]  # (account id, queue id or None)


async def read_live(session: AsyncSession) -> LiveOut:
    now = await session.scalar(select(func.now()))  # the transaction's: every query's now()
    assert now is not None
    accounts = await session.execute(
        select(Account.id, Account.key, Account.name, Account.service_level_seconds).order_by(Account.id)
    )
    queues = await _queues(session, now)
    recent = await _service_levels(session, func.now() - RECENT)
    today = await _service_levels(session, _midnight_utc())
    return LiveOut(
        at=now,
        accounts=[
            AccountLive(
                account_id=account.id,
                key=account.key,
                name=account.name,
                service_level_seconds=account.service_level_seconds,
                queues=[queue for (account_id, _), queue in queues.items() if account_id == account.id],
                last_30_minutes=recent.get(account.id, NO_INTERACTIONS),
                today=today.get(account.id, NO_INTERACTIONS),
            )
            for account in accounts
        ],
        agents=await _agents(session),
    )


NO_INTERACTIONS = ServiceLevelOut(
    started=0, accepted=0, within_sla=0, sla_percent=None, abandoned=0, asa_seconds=None, aht_seconds=None
)


def _midnight_utc() -> ColumnElement[datetime]:
    return func.timezone("UTC", func.date_trunc("day", func.timezone("UTC", func.now())))


async def _service_levels(
    session: AsyncSession, since: ColumnElement[datetime]
) -> dict[int, ServiceLevelOut]:
    facts = interaction_facts(Interaction.started_at >= since)
    rows = await session.execute(
        select(facts.c.account_id, *service_level(facts)).group_by(facts.c.account_id)
    )
    return {row.account_id: ServiceLevelOut.model_validate(row._asdict()) for row in rows}


async def _queues(session: AsyncSession, now: datetime) -> dict[Pair, QueueLive]:
    """Each (account, queue) in the plans or with interactions now, in account then queue order."""
    counts: dict[Pair, dict[str, Any]] = {}

    def at(account_id: int, queue_id: int | None) -> dict[str, Any]:
        return counts.setdefault((account_id, queue_id), {})

    for account_id, queue_id in await session.execute(
        select(Action.account_id, Action.queue_id).where(Action.queue_id.is_not(None)).distinct()
    ):
        at(account_id, queue_id)
    for account_id, queue_id, waiting, since in await session.execute(
        select(Interaction.account_id, QueueWait.queue_id, func.count(), func.min(QueueWait.waiting_since))
        .join(Interaction, Interaction.id == QueueWait.interaction_id)
        .group_by(Interaction.account_id, QueueWait.queue_id)
    ):
        at(account_id, queue_id).update(waiting=waiting, waiting_since=since)
    for account_id, queue_id, offered in await session.execute(
        select(Interaction.account_id, Offer.queue_id, func.count(distinct(Offer.interaction_id)))
        .join(Interaction, Interaction.id == Offer.interaction_id)
        .where(_live_offer())
        .group_by(Interaction.account_id, Offer.queue_id)
    ):
        at(account_id, queue_id)["offered"] = offered
    for account_id, queue_id, active in await session.execute(
        select(Interaction.account_id, Interaction.queue_id, func.count())
        .where(ACTIVE, Interaction.owner_id.is_not(None))
        .group_by(Interaction.account_id, Interaction.queue_id)
    ):
        at(account_id, queue_id)["active"] = active
    names: dict[int, str] = {row.id: row.name for row in await session.execute(select(Queue.id, Queue.name))}
    pairs = sorted(counts, key=lambda pair: (pair[0], pair[1] is None, pair[1] or 0))
    eligible = await _eligible_counts(session, pairs)
    live = {}
    for (account_id, queue_id), agents_eligible in zip(pairs, eligible, strict=True):
        found = counts[(account_id, queue_id)]
        oldest: datetime | None = found.get("waiting_since")
        live[(account_id, queue_id)] = QueueLive(
            queue_id=queue_id,
            name=AGENT_WAITS if queue_id is None else names.get(queue_id, str(queue_id)),
            waiting=found.get("waiting", 0),
            waiting_since=oldest,
            longest_wait_seconds=(now - oldest).total_seconds() if oldest is not None else None,
            offered=found.get("offered", 0),
            active=found.get("active", 0),
            agents_eligible=agents_eligible,
        )
    return live


async def _eligible_counts(session: AsyncSession, pairs: list[Pair]) -> list[int]:
    """How many agents each (account, queue) could be offered to now, by the routing's own rule
    (activities.offers.eligible_agents), all in one statement."""
    if not pairs:
        return []
    eligible = (eligible_agents(FindAgents(account, queue)).subquery() for account, queue in pairs)
    counts = [select(func.count()).select_from(agents).scalar_subquery() for agents in eligible]
    return list((await session.execute(select(*counts))).one())


def _live_offer() -> ColumnElement[bool]:
    return and_(Offer.status == OfferStatus.pending, Offer.expires_at > func.now())


async def _agents(session: AsyncSession) -> list[AgentLive]:
    offered = select(func.count()).where(Offer.agent_id == User.id, _live_offer()).scalar_subquery()
    missed = (
        select(func.count())
        .where(
            Offer.agent_id == User.id,
            Offer.status == MISSED,
            Offer.resolved_at >= func.now() - MISSED_WINDOW,
        )
        .scalar_subquery()
    )
    member = select(AccountAgent.user_id).where(AccountAgent.user_id == User.id).exists()
    rows = await session.execute(
        select(
            User.id.label("agent_id"),
            display_name(User).label("name"),
            User.status,
            User.pause_id,
            User.status_changed_at,
            seconds(User.status_changed_at, func.now()).label("in_status_seconds"),
            open_count(User.id).scalar_subquery().label("open"),
            User.whatsapp_capacity.label("capacity"),
            offered.label("offered"),
            missed.label("missed_last_hour"),
        )
        .where(member)
        .order_by(display_name(User), User.id)
    )
    return [AgentLive.model_validate(row._asdict()) for row in rows]


class LiveFeed:
    """Reads the live view for every supervisor stream of this process, while any is open."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: AgentEventHub) -> None:
        self._sessions = sessions
        self._hub = hub
        self._streams: set[asyncio.Queue[sse.Item]] = set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[sse.Item]:
        queue: asyncio.Queue[sse.Item] = asyncio.Queue(10)
        self._streams.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._read(), name="supervisor-live-feed")
        return queue

    def unsubscribe(self, queue: asyncio.Queue[sse.Item]) -> None:
        self._streams.discard(queue)
        if not self._streams and self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read(self) -> None:
        clock = asyncio.get_running_loop()
        changed = self._hub.watch()
        last: dict[str, Any] | None = None
        try:
            while True:
                changed.clear()
                started = clock.time()
                try:
                    async with self._sessions() as session:
                        view = (await read_live(session)).model_dump(mode="json")
                except Exception as error:  # the database away a moment: the next round reads again
                    log.warning("the live view could not be read (%s)", type(error).__name__)
                else:
                    if last is None or _without_clock(view) != _without_clock(last):
                        for queue in self._streams:
                            put_dropping_oldest(queue, {"event": "live", "data": view})
                        last = view
                took = clock.time() - started
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), PUSH_SECONDS)
                await asyncio.sleep(max(SETTLE_SECONDS, took * (1 / READING_SHARE - 1)))
        finally:
            self._hub.unwatch(changed)


def _without_clock(view: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in view.items() if key != "at"}


@router.get("/live", response_model=LiveOut)
async def live(_: StaffUser, session: SessionDep) -> LiveOut:
    """Queues, agents and service level now, for admins and supervisors."""
    return await read_live(session)


EVENTS = (
    "`ready` {}: subscribed. `live`: the view of `GET /api/supervisor/live`, at once, then "
    f"whenever it changes (read {SETTLE_SECONDS} s after a change, and every {PUSH_SECONDS} s); "
    "each is whole. `: heartbeat` comments every 15 s."
)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={**sse.documented(EVENTS), 403: {"description": "for admins and supervisors"}},
)
async def events(user: StreamUser, services: ServicesDep, session: SessionDep) -> StreamingResponse:
    """The live view as Server-Sent Events (a bearer token, or a single-use ticket from `POST
    /api/agents/me/events/ticket`). Ends when the user's sessions are revoked or its role changes."""
    alive = sse.staff_stream(services, user, "the live view")
    first = (await read_live(session)).model_dump(mode="json")
    queue = services.live.subscribe()

    async def stream() -> AsyncIterator[str]:
        try:
            yield sse.event("ready", {})
            yield sse.event("live", first)
            async for chunk in sse.relay(queue, alive):
                yield chunk
        finally:
            services.live.unsubscribe(queue)

    return sse.response(stream())
