"""The ordered action plan of an account as the API takes and shows it, and the checks that need
the database. Each application's parameters are defined once, in domain.plan.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import invalid, validation_fields
from domain.plan import (
    PARAMS,
    AgentParams,
    CloseParams,
    GotoifParams,
    IntervalCondition,
    QueueParams,
    jumps,
    load_steps,
)
from models import AccountAgent, Action, Application, Disposition, Interval, Queue


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application: Application
    params: dict[str, Any] = Field(default_factory=dict)
    interval_id: int | None = None


class StepOut(BaseModel):
    step: int
    application: Application
    params: dict[str, Any]
    interval_id: int | None


async def build_plan(session: AsyncSession, account_id: int, steps: list[StepIn]) -> list[Action]:
    """Validate every step (shape, step numbers, the ids it names) and return the rows to store."""
    errors: dict[str, str] = {}
    actions: list[Action] = []
    for number, step in enumerate(steps, start=1):
        where = f"{number - 1}"
        try:
            params = PARAMS[step.application].model_validate(step.params)
        except ValidationError as exc:
            errors.update(validation_fields(exc.errors(), prefix=(where, "params")))
            continue
        action = Action(
            account_id=account_id,
            position=number,
            application=step.application,
            params=params.model_dump(mode="json", exclude_none=True),
            interval_id=step.interval_id,
        )
        for name, target in jumps(params):
            if target > len(steps):
                errors[f"{where}.params.{name}"] = f"there is no step {target} (the plan has {len(steps)})"
        match params:
            case AgentParams(agent_id=agent_id):
                action.agent_id = agent_id
                if await session.get(AccountAgent, (account_id, agent_id)) is None:
                    errors[f"{where}.params.agent_id"] = f"user {agent_id} is not an agent of this account"
            case QueueParams(queue_id=queue_id):
                action.queue_id = queue_id
                if await session.get(Queue, queue_id) is None:
                    errors[f"{where}.params.queue_id"] = f"queue {queue_id} does not exist"
            case CloseParams(disposition_id=int(disposition_id)):
                action.disposition_id = disposition_id
                disposition = await session.get(Disposition, disposition_id)
                if disposition is None or disposition.account_id != account_id:
                    errors[f"{where}.params.disposition_id"] = "is not a disposition of this account"
            case GotoifParams(condition=IntervalCondition(interval_id=interval_id)):
                action.condition_interval_id = interval_id
                if await session.get(Interval, interval_id) is None:
                    errors[f"{where}.params.condition.interval_id"] = f"interval {interval_id} does not exist"
        if step.interval_id is not None and await session.get(Interval, step.interval_id) is None:
            errors[f"{where}.interval_id"] = f"interval {step.interval_id} does not exist"
        actions.append(action)
    if errors:
        raise invalid(errors, "the action plan is invalid")
    return actions


async def load_plan(session: AsyncSession, account_id: int) -> list[StepOut]:
    return [
        StepOut(
            step=step.step,
            application=Application(step.application),
            params=step.params,
            interval_id=step.interval_id,
        )
        for step in await load_steps(session, account_id)
    ]
