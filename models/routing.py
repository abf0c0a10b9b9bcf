"""Routing state that the API, the activities and the workflows share through PostgreSQL.

- `Offer`: an interaction offered to an agent until it expires, is accepted, rejected or rescinded.
- `QueueWait`: the dispatch table, one row per interaction waiting for an agent: in a queue, or for
  one named agent (an `agent` step of the plan). When an agent becomes eligible, the interactions
  waiting for that agent by name are signalled first, then the longest-waiting it can serve through
  its queues (higher queue weight first).
- `AgentSession`: one row per open agent event stream, refreshed by heartbeat: an agent whose every
  session went quiet has closed the tab and is not available, whatever its status says.
- `InteractionEvent`: the interaction's timeline (offers, accepts, plan steps, notes, transfers...).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Select,
    String,
    delete,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from models.account import Account, AccountAgent
from models.base import Base, enum_column
from models.interaction import Interaction, InteractionStatus
from models.queue import Queue, QueueAgent


class OfferKind(StrEnum):
    plan_agent = "plan_agent"  # an `agent` step of the action plan
    queue = "queue"  # a `queue` step
    assigned_agent = "assigned_agent"  # a new message waits for the interaction's owner
    assigned_queue = "assigned_queue"  # ...then for the owner's queue
    transfer_agent = "transfer_agent"
    transfer_queue = "transfer_queue"


class OfferStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"
    expired = "expired"
    rescinded = "rescinded"


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        Index(
            "uq_offers_one_pending_per_agent",
            "interaction_id",
            "agent_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_offers_agent_pending", "agent_id", postgresql_where=text("status = 'pending'")),
        # Who accepted an interaction (the list's `participant` filter)
        Index(
            "ix_offers_agent_accepted",
            "agent_id",
            "interaction_id",
            postgresql_where=text("status = 'accepted'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    kind: Mapped[OfferKind] = mapped_column(enum_column(OfferKind))
    status: Mapped[OfferStatus] = mapped_column(enum_column(OfferStatus), default=OfferStatus.pending)
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The `offer` event as sent, so an agent who opens its event stream later still gets it.
    event: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))


class QueueWait(Base):
    __tablename__ = "queue_waits"
    __table_args__ = (
        Index("ix_queue_waits_queue_since", "queue_id", "waiting_since"),
        Index("ix_queue_waits_agent", "agent_id"),
        CheckConstraint("num_nonnulls(queue_id, agent_id) = 1", name="waits_for_a_queue_or_an_agent"),
    )

    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True
    )
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    workflow_id: Mapped[str] = mapped_column(String(200))
    waiting_since: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# An agent session that sent no heartbeat for this long belongs to a closed tab.
PRESENCE_WINDOW = timedelta(seconds=45)


class AgentSession(Base):
    __tablename__ = "agent_sessions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InteractionEvent(Base):
    __tablename__ = "interaction_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Written by an activity: its run and activity id, so a retried attempt adds no second event.
    activity_key: Mapped[str | None] = mapped_column(String(200), unique=True)


ACCEPTED = "accepted"  # the timeline event an accept writes (activities.offers.assign)


def first_accepted(interaction: ColumnElement[int] | InstrumentedAttribute[int] | int) -> Select[datetime]:
    """When an agent first accepted the interaction, as `accepted_at` (an accept after a transfer
    does not move it). Given a column (`Interaction.id`) it is correlated: a caller makes it a
    scalar subquery or a lateral join."""
    return select(func.min(InteractionEvent.at).label("accepted_at")).where(
        InteractionEvent.interaction_id == interaction, InteractionEvent.kind == ACCEPTED
    )


async def stop_waiting(session: AsyncSession, interaction_id: int) -> None:
    """The interaction waits no longer (in a queue, or for a named agent): dispatch forgets it."""
    await session.execute(delete(QueueWait).where(QueueWait.interaction_id == interaction_id))


def waits_for_agent(agent_id: int, limit: int) -> Select[str]:
    """Workflow ids of the waiting interactions `agent_id` may serve, in the order an agent who
    becomes eligible serves them: those waiting for this agent by name, then higher queue weight,
    then the longest waiting. The agent must belong to the interaction's account, and to the queue."""
    in_queue = exists().where(QueueAgent.queue_id == QueueWait.queue_id, QueueAgent.user_id == agent_id)
    return (
        select(QueueWait.workflow_id)
        .join(Interaction, Interaction.id == QueueWait.interaction_id)
        .join(
            AccountAgent,
            (AccountAgent.account_id == Interaction.account_id) & (AccountAgent.user_id == agent_id),
        )
        .outerjoin(Queue, Queue.id == QueueWait.queue_id)
        .where(or_(QueueWait.agent_id == agent_id, in_queue))
        .order_by(QueueWait.agent_id.is_(None), Queue.weight.desc(), QueueWait.waiting_since)
        .limit(limit)
    )


def owed_dispositions(agent_id: int) -> Select[int]:
    """Ids of the interactions `agent_id` closed without the disposition its account demands."""
    return (
        select(Interaction.id)
        .join(Account, Account.id == Interaction.account_id)
        .where(
            Interaction.owner_id == agent_id,
            Interaction.status == InteractionStatus.closed,
            Interaction.disposition_id.is_(None),
            Account.mandatory_disposition,
        )
        .order_by(Interaction.id)
    )
