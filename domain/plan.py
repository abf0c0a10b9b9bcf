"""The action plan: its steps and each application's parameters, defined once.

The API validates a plan with these models (api.accounts.plan) and stores `model_dump` of them; the
workflow reads the stored steps back through `step_params`, so both see the same typed shape.
Steps are numbered from 1 in the order given; `gotoif` and `gotop` name those numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.conditions import Condition
from models import Action, Application

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


StepParams = (
    AgentParams
    | QueueParams
    | AutoreplyParams
    | CloseParams
    | GotoifParams
    | GotopParams
    | NoopParams
    | TagParams
)

PARAMS: dict[Application, type[StepParams]] = {
    Application.agent: AgentParams,
    Application.queue: QueueParams,
    Application.autoreply: AutoreplyParams,
    Application.close: CloseParams,
    Application.gotoif: GotoifParams,
    Application.gotop: GotopParams,
    Application.noop: NoopParams,
    Application.tag: TagParams,
}


@dataclass
class PlanStep:
    """A stored step, as the API shows it and the workflow receives it (in its history).

    `application` and `params` stay plain (an Application's value, the stored JSON): a payload
    recorded by any version decodes, and a kind this code does not know reaches the workflow,
    which records a `plan_error` for it, instead of failing to decode the whole plan."""

    step: int
    application: str
    params: dict[str, Any]
    interval_id: int | None = None


def step_params(step: PlanStep) -> StepParams | None:
    """The step's typed parameters, or None for an application this code does not know.

    Stored parameters were validated by the same model when the plan was saved; a key that an
    older version stored and this one no longer knows is ignored, as the workflow always did."""
    try:
        model = PARAMS[Application(step.application)]
    except ValueError:
        return None
    return model.model_validate({k: v for k, v in step.params.items() if k in model.model_fields})


def jumps(params: StepParams) -> list[tuple[str, int]]:
    """The step numbers a step may jump to, by parameter name."""
    if isinstance(params, GotoifParams):
        return [("true_step", params.true_step), ("false_step", params.false_step)]
    if isinstance(params, GotopParams):
        return [("step", params.step)]
    return []


async def load_steps(session: AsyncSession, account_id: int) -> list[PlanStep]:
    """The account's plan in step order: what the API lists and what the workflow runs."""
    rows = await session.scalars(
        select(Action).where(Action.account_id == account_id).order_by(Action.position)
    )
    return [PlanStep(row.position, row.application.value, row.params, row.interval_id) for row in rows]
