"""The ordered action plan of an account: step shapes, and the checks that need the database.

Steps are numbered from 1 in the order given; `gotoif` and `gotop` name those numbers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import invalid, validation_fields
from domain.conditions import Condition
from models import AccountAgent, Action, Application, Disposition, Interval, Queue

Timeout = Annotated[int, Field(ge=1, le=2147483)]
Step = Annotated[int, Field(ge=1)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentParams(_Params):
    agent_id: int
    timeout: Timeout = 10


class QueueParams(_Params):
    queue_id: int
    timeout: Timeout = 10


class AutoreplyParams(_Params):
    text: str = Field(min_length=1, max_length=4096)
    times: Literal["one", "always", "first"] = "one"


class CloseParams(_Params):
    disposition_id: int | None = None


class IntervalCondition(_Params):
    interval_id: int


class GotoifParams(_Params):
    condition: Condition | IntervalCondition
    true_step: Step
    false_step: Step


class GotopParams(_Params):
    step: Step


class NoopParams(_Params):
    value: str = Field(default="", max_length=1000)


class TagParams(_Params):
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(min_length=1, max_length=20)


PARAMS: dict[Application, type[_Params]] = {
    Application.agent: AgentParams,
    Application.queue: QueueParams,
    Application.autoreply: AutoreplyParams,
    Application.close: CloseParams,
    Application.gotoif: GotoifParams,
    Application.gotop: GotopParams,
    Application.noop: NoopParams,
    Application.tag: TagParams,
}


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
        for name, target in _jumps(params):
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


def _jumps(params: _Params) -> list[tuple[str, int]]:
    if isinstance(params, GotoifParams):
        return [("true_step", params.true_step), ("false_step", params.false_step)]
    if isinstance(params, GotopParams):
        return [("step", params.step)]
    return []


async def load_plan(session: AsyncSession, account_id: int) -> list[StepOut]:
    rows = await session.scalars(
        select(Action).where(Action.account_id == account_id).order_by(Action.position)
    )
    return [
        StepOut(
            step=row.position, application=row.application, params=row.params, interval_id=row.interval_id
        )
        for row in rows
    ]
