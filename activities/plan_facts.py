"""Plan facts: what the action plan asks of PostgreSQL while it runs: the plan itself, whether a
time falls in an interval, whether a `gotoif` condition holds, tags, first interaction, and the
timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.common import timeline
from domain.conditions import Condition, Facts, condition_holds
from domain.plan import PlanStep, load_steps
from models import Account, Contact, Interaction, Interval, Message
from models.interaction import Direction, change_tags
from models.interval import interval_contains


@dataclass
class LoadPlan:
    account_id: int


@dataclass
class Plan:
    steps: list[PlanStep]
    wait_assigned_agent: int = 10
    wait_assigned_queue: int = 10


@dataclass
class IntervalCheck:
    interval_id: int
    at: datetime  # the workflow's time, so a replay or a test's skipped clock decides the same


@dataclass
class ConditionCheck:
    interaction_id: int
    condition: dict[str, Any]  # a Condition, or {"interval_id": ...}
    at: datetime


@dataclass
class AddTags:
    interaction_id: int
    tags: list[str]


@dataclass
class FirstInteraction:
    interaction_id: int


@dataclass
class RecordEvent:
    interaction_id: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    actor_id: int | None = None  # who asked for what the event records (a transfer's asker)


class PlanActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def load_plan(self, request: LoadPlan) -> Plan:
        async with self._sessions() as session:
            steps = await load_steps(session, request.account_id)
            account = await session.get(Account, request.account_id)
            if account is None:
                return Plan(steps)
            return Plan(steps, account.wait_assigned_agent, account.wait_assigned_queue)

    @activity.defn
    async def inside_interval(self, request: IntervalCheck) -> bool:
        async with self._sessions() as session:
            return await _inside_interval(session, request.interval_id, request.at)

    @activity.defn
    async def condition_holds(self, request: ConditionCheck) -> bool:
        async with self._sessions() as session:
            if "interval_id" in request.condition:
                return await _inside_interval(session, request.condition["interval_id"], request.at)
            facts = await _facts(session, request.interaction_id)
            return condition_holds(Condition.model_validate(request.condition), facts)

    @activity.defn
    async def add_tags(self, request: AddTags) -> None:
        async with self._sessions() as session, session.begin():
            await change_tags(session, request.interaction_id, add=request.tags)

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
    async def record_event(self, request: RecordEvent) -> None:
        async with self._sessions() as session, session.begin():
            await timeline(session, request.interaction_id, request.kind, request.data, request.actor_id)


async def _inside_interval(session: AsyncSession, interval_id: int, at: datetime) -> bool:
    """An interval deleted meanwhile contains no time."""
    interval = await session.get(Interval, interval_id)
    return interval is not None and interval_contains(interval.timezone, interval.rules, at)


async def _facts(session: AsyncSession, interaction_id: int) -> Facts:
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
