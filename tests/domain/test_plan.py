"""Each application's parameters are defined once (domain.plan): what the API stores is what the
workflow reads back, typed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.plan import PARAMS, AgentParams, GotoifParams, IntervalCondition, PlanStep, jumps, step_params
from models import Application


def test_a_stored_step_reads_back_as_its_typed_parameters():
    stored = (
        PARAMS[Application.agent].model_validate({"agent_id": 4}).model_dump(mode="json", exclude_none=True)
    )
    assert stored == {"agent_id": 4, "timeout": 10}
    assert step_params(PlanStep(1, "agent", stored)) == AgentParams(agent_id=4, timeout=10)


def test_a_gotoif_on_an_interval_and_its_jumps():
    params = step_params(
        PlanStep(2, "gotoif", {"condition": {"interval_id": 3}, "true_step": 1, "false_step": 4})
    )
    assert isinstance(params, GotoifParams)
    assert params.condition == IntervalCondition(interval_id=3)
    assert jumps(params) == [("true_step", 1), ("false_step", 4)]


def test_an_unknown_application_has_no_parameters_and_an_unknown_key_is_ignored():
    assert step_params(PlanStep(1, "teleport", {})) is None
    assert step_params(PlanStep(1, "gotop", {"step": 2, "retired": True})) is not None


def test_the_api_refuses_what_the_workflow_would_ignore():
    with pytest.raises(ValidationError):
        PARAMS[Application.gotop].model_validate({"step": 2, "retired": True})
    with pytest.raises(ValidationError):
        PARAMS[Application.queue].model_validate({"queue_id": 1, "timeout": 0})
