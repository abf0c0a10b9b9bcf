"""The vocabulary the search and `gotoif` share: `in` on plan facts, the fields a plan may use, and
values typed by their field (no database: the SQL side is tested through the API)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from api.interactions.conditions import FIELD_TESTS
from domain.conditions import (
    FIELDS,
    PLAN_FIELDS,
    Condition,
    ConditionField,
    Facts,
    Rule,
    SearchCondition,
    rule_holds,
)


def test_in_holds_when_the_fact_or_any_tag_is_one_of_the_values_ignoring_case():
    facts: Facts = {"contact.first_name": "Ada", "interaction.tags": ["vip", "Billing"]}
    assert rule_holds(Rule(field="contact.first_name", operator="in", value=["bob", "ADA"]), facts)
    assert not rule_holds(Rule(field="contact.first_name", operator="in", value=["bob"]), facts)
    assert rule_holds(Rule(field="interaction.tags", operator="in", value=["billing"]), facts)
    assert not rule_holds(
        Rule(field="interaction.tags", operator="in", value=["gold"]), {"interaction.tags": []}
    )


def test_a_gotoif_may_use_only_what_a_running_plan_knows_and_says_which_rule():
    assert {str(field) for field in PLAN_FIELDS} == {
        "contact.first_name", "contact.last_name", "contact.mobile", "contact.email", "message.body",
        "interaction.tags",
    }  # fmt: skip
    good = {"field": "contact.first_name", "operator": "equals", "value": "Ada"}
    with pytest.raises(ValidationError, match=r"rules\.1: interaction\.read is not known while a plan runs"):
        Condition.model_validate(
            {"rules": [good, {"field": "interaction.read", "operator": "equals", "value": True}]}
        )
    SearchCondition.model_validate(
        {"rules": [{"field": "interaction.read", "operator": "equals", "value": True}]}
    )


def test_values_are_typed_by_their_field():
    started = Rule(field="interaction.started_at", operator="gt", value="2026-01-01T10:00:00+02:00")
    assert started.value == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert Rule(field="interaction.owner_id", operator="in", value=[1, "2"]).value == [1, 2]
    assert Rule(field="contact.mobile", operator="equals", value=39333).value == "39333"
    assert Rule(field="contact.email", operator="is_empty", value="ignored").value is None
    for field, value in [
        ("interaction.read", 1),
        ("interaction.owner_id", True),
        ("interaction.inbound_count", "x"),
    ]:
        with pytest.raises(ValidationError, match="value must be"):
            Rule(field=field, operator="equals", value=value)


def test_every_field_has_a_spec_and_an_sql_test():
    assert set(FIELDS) == set(ConditionField) == set(FIELD_TESTS)
