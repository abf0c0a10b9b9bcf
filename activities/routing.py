"""Routing activities: what the interaction workflow asks of PostgreSQL while it routes.

Who is eligible, offers and their outcome, assignment, queue waits (the dispatch table), the
timeline, tags, and the facts a `gotoif` condition is evaluated on. Every write that an agent
should see is followed by a NOTIFY in the same transaction (models.events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from activities.common import timeline
from domain.conditions import Condition, condition_holds
from domain.dispatch import wake_waiting
from domain.templating import render
from domain.templating import variables as template_variables
from models import (
    Account,
    AccountAgent,
    Action,
    AgentSession,
    Contact,
    Interaction,
    InteractionStatus,
    Interval,
    Message,
    Offer,
    OfferKind,
    OfferStatus,
    Queue,
    QueueAgent,
    QueueWait,
    Strategy,
    User,
    UserStatus,
)
from models.events import notify_agents, notify_relay
from models.interaction import Direction, change_tags, open_count
from models.interval import interval_contains
from models.routing import PRESENCE_WINDOW


@dataclass
class PlanStep:
    step: int
    application: str
    params: dict[str, Any]
    interval_id: int | None = None


@dataclass
class LoadPlan:
    account_id: int


@dataclass
class Plan:
    steps: list[PlanStep]
    wait_assigned_agent: int = 10
    wait_assigned_queue: int = 10


@dataclass
class OwnerCheck:
    interaction_id: int
    agent_id: int


@dataclass
class OwnerStatus:
    present: bool  # online, with an event stream that sent a heartbeat recently
    queue_id: int | None  # the owner's queue for this interaction, if it has one


@dataclass
class NotifyOwner:
    interaction_id: int
    agent_id: int
    message_ids: list[int]


@dataclass
class Release:
    interaction_id: int


@dataclass
class ReturnToOwner:
    interaction_id: int
    agent_id: int


@dataclass
class IntervalCheck:
    interval_id: int
    at: datetime  # the workflow's time, so a replay or a test's skipped clock decides the same


@dataclass
class QueueLookup:
    queue_id: int


@dataclass
class QueueInfo:
    queue_id: int
    name: str
    strategy: str
    timeout: int


@dataclass
class FindAgents:
    """Eligible agents of the account (and queue), in the order the strategy offers them."""

    account_id: int
    queue_id: int | None = None
    agent_ids: list[int] | None = None  # only these (an `agent` step, a transfer, the owner)
    exclude: list[int] = field(default_factory=list)
    strategy: str = Strategy.beepall.value


@dataclass
class Agents:
    agent_ids: list[int]


@dataclass
class MakeOffers:
    interaction_id: int
    agent_ids: list[int]
    kind: str
    expires_at: datetime
    queue_id: int | None = None


@dataclass
class OfferRef:
    offer_id: int
    agent_id: int
    expires_at: datetime


@dataclass
class Offers:
    offers: list[OfferRef]


@dataclass
class ResolveOffers:
    offer_ids: list[int]
    status: str  # rejected, expired or rescinded


@dataclass
class Assign:
    interaction_id: int
    agent_id: int
    offer_id: int
    queue_id: int | None = None
    check_capacity: bool = False  # offered as eligible: still below capacity?


@dataclass
class Assignment:
    assigned: bool
    reason: str = ""  # why not: the offer is gone, or the agent is at capacity


@dataclass
class MoveOn:
    """Messages signalled to an interaction that closed before it could route them."""

    interaction_id: int
    message_ids: list[int]


@dataclass
class QueueEntry:
    interaction_id: int
    queue_id: int
    workflow_id: str


@dataclass
class AgentWait:
    interaction_id: int
    agent_id: int
    workflow_id: str


@dataclass
class LeaveQueue:
    interaction_id: int


@dataclass
class RecordEvent:
    interaction_id: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    actor_id: int | None = None


@dataclass
class AddTags:
    interaction_id: int
    tags: list[str]


@dataclass
class ConditionCheck:
    interaction_id: int
    condition: dict[str, Any]
    at: datetime


@dataclass
class FirstInteraction:
    interaction_id: int


@dataclass
class CloseInteraction:
    interaction_id: int
    disposition_id: int | None = None
    actor_id: int | None = None


ROUTING_ACTIVITIES = (
    "load_plan",
    "inside_interval",
    "queue_info",
    "find_agents",
    "make_offers",
    "resolve_offers",
    "assign",
    "enter_queue",
    "wait_for_agent",
    "leave_queue",
    "record_event",
    "add_tags",
    "condition_holds",
    "is_first_interaction",
    "close_interaction",
    "owner_status",
    "notify_owner",
    "release",
    "return_to_owner",
    "move_on",
)


class RoutingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], temporal: Client) -> None:
        self._sessions = sessions
        self._temporal = temporal

    @activity.defn
    async def load_plan(self, request: LoadPlan) -> Plan:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Action).where(Action.account_id == request.account_id).order_by(Action.position)
            )
            steps = [
                PlanStep(row.position, row.application.value, row.params, row.interval_id) for row in rows
            ]
            account = await session.get(Account, request.account_id)
            if account is None:
                return Plan(steps)
            return Plan(steps, account.wait_assigned_agent, account.wait_assigned_queue)

    @activity.defn
    async def inside_interval(self, request: IntervalCheck) -> bool:
        async with self._sessions() as session:
            interval = await session.get(Interval, request.interval_id)
            return interval is not None and interval_contains(interval.timezone, interval.rules, request.at)

    @activity.defn
    async def queue_info(self, request: QueueLookup) -> QueueInfo | None:
        async with self._sessions() as session:
            queue = await session.get(Queue, request.queue_id)
            return (
                None
                if queue is None
                else QueueInfo(queue.id, queue.name, queue.strategy.value, queue.timeout)
            )

    @activity.defn
    async def find_agents(self, request: FindAgents) -> Agents:
        async with self._sessions() as session:
            return Agents(list((await session.scalars(eligible_agents(request))).all()))

    @activity.defn
    async def make_offers(self, request: MakeOffers) -> Offers:
        """Offer the interaction to each agent and push each an `offer` event with the account's
        rendered notification. An agent who holds a pending offer for it already keeps that one
        (a retry of an attempt that committed gets the same offers back); an agent deleted
        meanwhile is skipped."""
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            context = await _context(session, request.interaction_id, request.queue_id)
            account = context["account_row"]
            text = render(account.notification_template, context["variables"])
            held = {
                offer.agent_id: offer
                for offer in await session.scalars(
                    select(Offer).where(
                        Offer.interaction_id == request.interaction_id,
                        Offer.agent_id.in_(request.agent_ids),
                        Offer.status == OfferStatus.pending,
                    )
                )
            }
            existing = set(await session.scalars(select(User.id).where(User.id.in_(request.agent_ids))))
            made: list[OfferRef] = []
            for agent_id in request.agent_ids:
                if agent_id in held:
                    made.append(OfferRef(held[agent_id].id, agent_id, held[agent_id].expires_at))
                    continue
                if agent_id not in existing:
                    continue
                offer = Offer(
                    interaction_id=request.interaction_id,
                    agent_id=agent_id,
                    queue_id=request.queue_id,
                    kind=OfferKind(request.kind),
                    status=OfferStatus.pending,
                    offered_at=now,
                    expires_at=request.expires_at,
                )
                session.add(offer)
                await session.flush()
                offer.event = {
                    "interaction_id": request.interaction_id,
                    "offer_id": offer.id,
                    "account_key": account.key,
                    "queue": context["variables"].get("queue"),
                    "contact": context["variables"]["contact"],
                    "notification": {
                        "text": text,
                        "sound": account.notification_sound,
                        "shake": account.notification_shake,
                    },
                    "kind": request.kind,
                    "expires_at": request.expires_at.isoformat(),
                }
                made.append(OfferRef(offer.id, agent_id, request.expires_at))
                await notify_agents(session, [agent_id], "offer", offer.event)
            return Offers(made)

    @activity.defn
    async def resolve_offers(self, request: ResolveOffers) -> None:
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    update(Offer)
                    .where(Offer.id.in_(request.offer_ids), Offer.status == OfferStatus.pending)
                    .values(status=OfferStatus(request.status), resolved_at=datetime.now(UTC))
                    .returning(Offer.agent_id, Offer.interaction_id, Offer.id)
                )
            ).all()
            for agent_id, interaction_id, offer_id in rows:
                data = {"interaction_id": interaction_id, "offer_id": offer_id, "reason": request.status}
                await notify_agents(session, [agent_id], "offer_rescinded", data)

    @activity.defn
    async def assign(self, request: Assign) -> Assignment:
        """Make the agent the owner; every other pending offer for the interaction is rescinded.
        The agent's row is locked, so two accepts of one agent are counted one after the other
        against its capacity; an agent at capacity gets no interaction, and its offer is
        rejected. A retry of an attempt that committed finds its offer accepted and does nothing."""
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            agent = await session.get(User, request.agent_id, with_for_update=True)
            offer = await session.get(Offer, request.offer_id, with_for_update=True)
            if offer is not None and offer.status is OfferStatus.accepted and agent is not None:
                return Assignment(True)
            if agent is None or offer is None or offer.status is not OfferStatus.pending:
                return Assignment(False, "the offer is no longer yours")
            if request.check_capacity:
                elsewhere = open_count(agent.id).where(Interaction.id != request.interaction_id)
                if (await session.scalar(elsewhere) or 0) >= agent.whatsapp_capacity:
                    offer.status, offer.resolved_at = OfferStatus.rejected, now
                    data = {"offer_id": offer.id, "reason": "at capacity"}
                    await timeline(session, request.interaction_id, "offer_refused", data, agent.id)
                    data = {
                        "interaction_id": request.interaction_id,
                        "offer_id": offer.id,
                        "reason": "capacity",
                    }
                    await notify_agents(session, [agent.id], "offer_rescinded", data)
                    return Assignment(False, f"you hold {agent.whatsapp_capacity} interactions already")
            offer.status, offer.resolved_at = OfferStatus.accepted, now
            others = (
                await session.execute(
                    update(Offer)
                    .where(
                        Offer.interaction_id == request.interaction_id, Offer.status == OfferStatus.pending
                    )
                    .values(status=OfferStatus.rescinded, resolved_at=now)
                    .returning(Offer.agent_id, Offer.id)
                )
            ).all()
            for agent_id, offer_id in others:
                data = {"interaction_id": request.interaction_id, "offer_id": offer_id, "reason": "taken"}
                await notify_agents(session, [agent_id], "offer_rescinded", data)
            changes: dict[str, Any] = {"owner_id": request.agent_id, "status": InteractionStatus.open}
            if request.queue_id is not None:
                changes["queue_id"] = request.queue_id
                await session.execute(
                    update(Queue).where(Queue.id == request.queue_id).values(last_agent_id=request.agent_id)
                )
            previous = await session.scalar(
                select(Interaction.owner_id).where(Interaction.id == request.interaction_id)
            )
            await session.execute(
                update(Interaction).where(Interaction.id == request.interaction_id).values(**changes)
            )
            agent.last_interaction_at = now
            await session.execute(delete(QueueWait).where(QueueWait.interaction_id == request.interaction_id))
            data = {"offer_id": request.offer_id, "queue_id": request.queue_id}
            await timeline(session, request.interaction_id, "accepted", data, request.agent_id)
            await notify_agents(
                session,
                [request.agent_id],
                "interaction_updated",
                {"interaction_id": request.interaction_id, "owner_id": request.agent_id},
            )
            if previous is not None and previous != request.agent_id:  # transferred: the old owner lets go
                await notify_agents(
                    session,
                    [previous],
                    "interaction_updated",
                    {"interaction_id": request.interaction_id, "owner_id": request.agent_id},
                )
            return Assignment(True)

    @activity.defn
    async def enter_queue(self, request: QueueEntry) -> None:
        await self._wait(request.interaction_id, request.workflow_id, queue_id=request.queue_id)

    @activity.defn
    async def wait_for_agent(self, request: AgentWait) -> None:
        """An `agent` step waits for one named agent: woken when that agent becomes eligible."""
        await self._wait(request.interaction_id, request.workflow_id, agent_id=request.agent_id)

    async def _wait(
        self,
        interaction_id: int,
        workflow_id: str,
        *,
        queue_id: int | None = None,
        agent_id: int | None = None,
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(delete(QueueWait).where(QueueWait.interaction_id == interaction_id))
            session.add(
                QueueWait(
                    interaction_id=interaction_id,
                    queue_id=queue_id,
                    agent_id=agent_id,
                    workflow_id=workflow_id,
                    waiting_since=datetime.now(UTC),
                )
            )
            if queue_id is not None:
                await session.execute(
                    update(Interaction)
                    .where(Interaction.id == interaction_id)
                    .values(queue_id=queue_id, status=InteractionStatus.open_pending)
                )

    @activity.defn
    async def leave_queue(self, request: LeaveQueue) -> None:
        """The interaction waits no longer (for a queue, or for a named agent)."""
        async with self._sessions() as session, session.begin():
            await session.execute(delete(QueueWait).where(QueueWait.interaction_id == request.interaction_id))

    @activity.defn
    async def record_event(self, request: RecordEvent) -> None:
        async with self._sessions() as session, session.begin():
            await timeline(session, request.interaction_id, request.kind, request.data, request.actor_id)

    @activity.defn
    async def add_tags(self, request: AddTags) -> None:
        async with self._sessions() as session, session.begin():
            await change_tags(session, request.interaction_id, add=request.tags)

    @activity.defn
    async def condition_holds(self, request: ConditionCheck) -> bool:
        async with self._sessions() as session:
            if "interval_id" in request.condition:
                interval = await session.get(Interval, request.condition["interval_id"])
                return interval is not None and interval_contains(
                    interval.timezone, interval.rules, request.at
                )
            facts = await _facts(session, request.interaction_id)
            return condition_holds(Condition.model_validate(request.condition), facts)

    @activity.defn
    async def is_first_interaction(self, request: FirstInteraction) -> bool:
        """Whether this is the contact's first interaction ever on the account."""
        async with self._sessions() as session:
            interaction = await session.get(Interaction, request.interaction_id)
            assert interaction is not None
            earlier = await session.scalar(
                select(
                    exists().where(
                        Interaction.account_id == interaction.account_id,
                        Interaction.contact_id == interaction.contact_id,
                        Interaction.id < interaction.id,
                    )
                )
            )
            return not earlier

    @activity.defn
    async def owner_status(self, request: OwnerCheck) -> OwnerStatus:
        async with self._sessions() as session:
            owner = await session.get(User, request.agent_id)
            fresh = AgentSession.seen_at > func.now() - PRESENCE_WINDOW
            connected = await session.scalar(
                select(exists().where(AgentSession.user_id == request.agent_id, fresh))
            )
            interaction = await session.get(Interaction, request.interaction_id)
            queue_id = interaction.queue_id if interaction is not None else None
            member = (
                queue_id is not None
                and await session.get(QueueAgent, (queue_id, request.agent_id)) is not None
            )
            return OwnerStatus(
                present=owner is not None and owner.status is UserStatus.online and bool(connected),
                queue_id=queue_id if member else None,
            )

    @activity.defn
    async def notify_owner(self, request: NotifyOwner) -> None:
        async with self._sessions() as session, session.begin():
            data = {"interaction_id": request.interaction_id, "message_ids": request.message_ids}
            await notify_agents(session, [request.agent_id], "message", data)

    @activity.defn
    async def release(self, request: Release) -> None:
        """The owner did not come back: the interaction is routed again (it keeps its history)."""
        async with self._sessions() as session, session.begin():
            interaction = await session.get(Interaction, request.interaction_id, with_for_update=True)
            if interaction is None or interaction.owner_id is None:
                return
            previous = interaction.owner_id
            interaction.owner_id = None
            interaction.status = InteractionStatus.open_pending
            await timeline(session, interaction.id, "released", {"owner_id": previous})
            data = {"interaction_id": interaction.id, "owner_id": None, "reason": "owner did not answer"}
            await notify_agents(session, [previous], "interaction_updated", data)

    @activity.defn
    async def return_to_owner(self, request: ReturnToOwner) -> None:
        """Nobody took the transfer: the interaction is the agent's again, marked unread."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Interaction)
                .where(Interaction.id == request.interaction_id)
                .values(owner_id=request.agent_id, status=InteractionStatus.open, read=False)
            )
            await session.execute(delete(QueueWait).where(QueueWait.interaction_id == request.interaction_id))
            await timeline(
                session, request.interaction_id, "transfer_returned", {"owner_id": request.agent_id}
            )
            data = {
                "interaction_id": request.interaction_id,
                "owner_id": request.agent_id,
                "read": False,
                "reason": "transfer not accepted",
            }
            await notify_agents(session, [request.agent_id], "interaction_updated", data)

    @activity.defn
    async def move_on(self, request: MoveOn) -> None:
        """Messages that reached the workflow as it closed go back to the inbound relay, which
        hands them to the contact's next interaction (the closed one stays closed)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id.in_(request.message_ids), Message.interaction_id == request.interaction_id)
                .values(signalled_at=None)
            )
            await notify_relay(session)

    @activity.defn
    async def close_interaction(self, request: CloseInteraction) -> None:
        """Closed: no more offers, out of any queue; the contact's next message starts a new one.
        A retry of an attempt that committed only wakes what the owner's freed capacity serves."""
        async with self._sessions() as session, session.begin():
            interaction = await session.get(Interaction, request.interaction_id, with_for_update=True)
            if interaction is None:
                return
            owner = interaction.owner_id
            if interaction.status is not InteractionStatus.closed:
                await _close(session, interaction, request)
        await self._wake(owner)

    async def _wake(self, owner: int | None) -> None:
        if owner is not None:  # capacity freed: the owner may take a waiting interaction now
            await wake_waiting(self._sessions, self._temporal, owner)


async def _close(session: AsyncSession, interaction: Interaction, request: CloseInteraction) -> None:
    now = datetime.now(UTC)
    interaction.status = InteractionStatus.closed
    interaction.closed_at = now
    if request.disposition_id is not None:
        interaction.disposition_id = request.disposition_id
    elif interaction.owner_id is not None:
        await _pause_until_disposed(session, interaction)
    await session.execute(delete(QueueWait).where(QueueWait.interaction_id == interaction.id))
    rescinded = (
        await session.scalars(
            update(Offer)
            .where(Offer.interaction_id == interaction.id, Offer.status == OfferStatus.pending)
            .values(status=OfferStatus.rescinded, resolved_at=now)
            .returning(Offer.agent_id)
        )
    ).all()
    data = {"interaction_id": interaction.id, "reason": "closed"}
    await notify_agents(session, list(rescinded), "offer_rescinded", data)
    if interaction.owner_id is not None:
        await notify_agents(
            session, [interaction.owner_id], "interaction_updated", {**data, "status": "closed"}
        )
    closed = {"disposition_id": request.disposition_id}
    await timeline(session, interaction.id, "closed", closed, request.actor_id)


async def _pause_until_disposed(session: AsyncSession, interaction: Interaction) -> None:
    """Mandatory disposition: the owner goes into the account's pause until it disposes."""
    account = await session.get(Account, interaction.account_id)
    owner = await session.get(User, interaction.owner_id, with_for_update=True)
    if account is None or owner is None or not account.mandatory_disposition:
        return
    if owner.status_before_disposition is None:  # already paused for another: keep the first status
        owner.status_before_disposition = owner.status.value
    owner.status = UserStatus.paused
    owner.pause_id = account.disposition_pause_id
    owner.status_changed_at = datetime.now(UTC)
    data = {
        "interaction_id": interaction.id,
        "status": "paused",
        "pause_id": owner.pause_id,
        "reason": "disposition required",
    }
    await notify_agents(session, [owner.id], "interaction_updated", data)


def eligible_agents(request: FindAgents) -> Select[int]:
    """Members of the account (and queue), online, with open interactions below capacity."""
    query = (
        select(User.id)
        .join(
            AccountAgent, and_(AccountAgent.user_id == User.id, AccountAgent.account_id == request.account_id)
        )
        .where(
            User.status == UserStatus.online, open_count(User.id).scalar_subquery() < User.whatsapp_capacity
        )
    )
    if request.queue_id is not None:
        query = query.join(
            QueueAgent, and_(QueueAgent.user_id == User.id, QueueAgent.queue_id == request.queue_id)
        )
    if request.agent_ids is not None:
        query = query.where(User.id.in_(request.agent_ids))
    if request.exclude:
        query = query.where(User.id.not_in(request.exclude))
    if request.strategy == Strategy.leastrecent:
        return query.order_by(User.last_interaction_at.asc().nulls_first(), User.id)
    if request.strategy == Strategy.rrmemory and request.queue_id is not None:
        last = select(Queue.last_agent_id).where(Queue.id == request.queue_id).scalar_subquery()
        return query.order_by(User.id <= func.coalesce(last, 0), User.id)  # after the last one, then wrap
    return query.order_by(User.id)


async def _context(session: AsyncSession, interaction_id: int, queue_id: int | None) -> dict[str, Any]:
    row = (
        await session.execute(
            select(Interaction, Account, Contact)
            .join(Account, Account.id == Interaction.account_id)
            .join(Contact, Contact.id == Interaction.contact_id)
            .where(Interaction.id == interaction_id)
        )
    ).one()
    _, account, contact = row
    queue = await session.get(Queue, queue_id) if queue_id is not None else None
    variables = template_variables(account, contact, queue=queue)
    return {"account_row": account, "variables": variables}


async def _facts(session: AsyncSession, interaction_id: int) -> dict[str, str | list[str] | None]:
    interaction = await session.get(Interaction, interaction_id)
    assert interaction is not None
    contact = await session.get(Contact, interaction.contact_id)
    assert contact is not None
    body = await session.scalar(
        select(Message.text)
        .where(Message.interaction_id == interaction_id, Message.direction == Direction.inbound)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return {
        "contact.first_name": contact.first_name,
        "contact.last_name": contact.last_name,
        "contact.mobile": contact.mobile,
        "contact.email": contact.email,
        "message.body": body,
        "interaction.tags": interaction.tags,
    }
