"""Offers and eligibility: who may be offered an interaction, the offers themselves, their end
(rejected, expired, rescinded) and the accept that makes an agent the owner.

Every write an agent should see is followed by a NOTIFY in the same transaction (models.events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.common import timeline
from domain import metrics
from domain.templating import render
from domain.templating import variables as template_variables
from models import (
    Account,
    AccountAgent,
    Contact,
    Interaction,
    InteractionStatus,
    Offer,
    OfferKind,
    OfferStatus,
    Queue,
    QueueAgent,
    Strategy,
    User,
    UserStatus,
)
from models.db import after_commit
from models.events import notify_agents
from models.interaction import open_count
from models.routing import first_accepted, stop_waiting


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
    kind: str  # an OfferKind
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
class NotificationContext:
    """What an offer's notification is rendered from."""

    account: Account
    variables: dict[str, Any]


class OfferActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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
            context = await _notification_context(session, request.interaction_id, request.queue_id)
            account = context.account
            text = render(account.notification_template, context.variables)
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
                    "queue": context.variables.get("queue"),
                    "contact": context.variables["contact"],
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
            await end_pending_offers(
                session, Offer.id.in_(request.offer_ids), OfferStatus(request.status), request.status
            )

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
                    data = {"offer_id": offer.id, "reason": "at capacity"}
                    await timeline(session, request.interaction_id, "offer_refused", data, agent.id)
                    await end_pending_offers(session, Offer.id == offer.id, OfferStatus.rejected, "capacity")
                    return Assignment(False, f"you hold {agent.whatsapp_capacity} interactions already")
            offer.status, offer.resolved_at = OfferStatus.accepted, now
            await session.flush()  # accepted before the others are rescinded below
            others = Offer.interaction_id == request.interaction_id
            await end_pending_offers(session, others, OfferStatus.rescinded, "taken")
            changes: dict[str, Any] = {"owner_id": request.agent_id, "status": InteractionStatus.open}
            if request.queue_id is not None:
                changes["queue_id"] = request.queue_id
                await session.execute(
                    update(Queue).where(Queue.id == request.queue_id).values(last_agent_id=request.agent_id)
                )
            previous, started, accepted_before = (
                await session.execute(
                    select(
                        Interaction.owner_id,
                        Interaction.started_at,
                        first_accepted(request.interaction_id).scalar_subquery(),
                    ).where(Interaction.id == request.interaction_id)
                )
            ).one()
            _count_accept(session, wait=(now - started).total_seconds(), first=accepted_before is None)
            await session.execute(
                update(Interaction).where(Interaction.id == request.interaction_id).values(**changes)
            )
            agent.last_interaction_at = now
            await stop_waiting(session, request.interaction_id)
            data = {"offer_id": request.offer_id, "queue_id": request.queue_id}
            await timeline(session, request.interaction_id, "accepted", data, request.agent_id)
            owner_now = {"interaction_id": request.interaction_id, "owner_id": request.agent_id}
            await notify_agents(session, [request.agent_id], "interaction_updated", owner_now)
            if previous is not None and previous != request.agent_id:  # transferred: the old owner lets go
                await notify_agents(session, [previous], "interaction_updated", owner_now)
            return Assignment(True)


def _count_accept(session: AsyncSession, *, wait: float, first: bool) -> None:
    """Count the accept once it commits, and the contact's wait if it is the interaction's first."""

    def count() -> None:
        metrics.OFFERS.labels(OfferStatus.accepted.value).inc()
        if first:
            metrics.WAIT.observe(wait)

    after_commit(session, count)


async def end_pending_offers(
    session: AsyncSession, which: ColumnElement[bool], status: OfferStatus, reason: str
) -> None:
    """End the pending offers `which` selects with `status`, and tell each agent its offer is gone
    (`offer_rescinded`, with `reason`) in the same transaction."""
    ended = (
        await session.execute(
            update(Offer)
            .where(which, Offer.status == OfferStatus.pending)
            .values(status=status, resolved_at=datetime.now(UTC))
            .returning(Offer.agent_id, Offer.interaction_id, Offer.id)
        )
    ).all()
    for agent_id, interaction_id, offer_id in ended:
        data = {"interaction_id": interaction_id, "offer_id": offer_id, "reason": reason}
        await notify_agents(session, [agent_id], "offer_rescinded", data)
    if ended:
        after_commit(session, lambda: metrics.OFFERS.labels(status.value).inc(len(ended)))


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


async def _notification_context(
    session: AsyncSession, interaction_id: int, queue_id: int | None
) -> NotificationContext:
    account, contact = (
        await session.execute(
            select(Account, Contact)
            .select_from(Interaction)
            .join(Account, Account.id == Interaction.account_id)
            .join(Contact, Contact.id == Interaction.contact_id)
            .where(Interaction.id == interaction_id)
        )
    ).one()
    queue = await session.get(Queue, queue_id) if queue_id is not None else None
    return NotificationContext(account, template_variables(account, contact, queue=queue))
