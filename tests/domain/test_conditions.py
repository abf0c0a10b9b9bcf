"""`gotoif` conditions, evaluated on facts alone: no database, no workflow."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.conditions import Condition, Rule, condition_holds, rule_holds

FACTS = {
    "contact.first_name": "Ada",
    "contact.last_name": None,
    "contact.mobile": "+393331234567",
    "contact.email": "",
    "message.body": "I want a REFUND please",
    "interaction.tags": ["vip", "Billing"],
}


def rule(field: str, operator: str, value: str = "", disabled: bool = False) -> Rule:
    return Rule.model_validate({"field": field, "operator": operator, "value": value, "disabled": disabled})


@pytest.mark.parametrize(
    ("field", "operator", "value", "holds"),
    [
        ("contact.first_name", "equals", "ada", True),  # case is ignored
        ("contact.first_name", "equals", "Adam", False),
        ("contact.first_name", "not_equals", "Adam", True),
        ("message.body", "contains", "refund", True),
        ("message.body", "not_contains", "refund", False),
        ("contact.mobile", "starts_with", "+39", True),
        ("contact.mobile", "ends_with", "4567", True),
        ("contact.mobile", "ends_with", "+39", False),
        ("contact.last_name", "is_empty", "", True),  # None is empty
        ("contact.email", "is_empty", "", True),
        ("contact.first_name", "is_not_empty", "", True),
        ("interaction.tags", "equals", "billing", True),  # a list holds when any element does
        ("interaction.tags", "not_equals", "vip", False),  # ...and a negation when none does
        ("interaction.tags", "contains", "ill", True),
    ],
)
def test_each_operator_on_text_and_on_tags(field, operator, value, holds):
    assert rule_holds(rule(field, operator, value), FACTS) is holds


def test_tags_that_are_empty_are_empty():
    assert rule_holds(rule("interaction.tags", "is_empty"), {"interaction.tags": []})
    assert not rule_holds(rule("interaction.tags", "is_not_empty"), {"interaction.tags": []})


def test_all_needs_every_rule_any_needs_one():
    rules = [rule("contact.first_name", "equals", "Ada"), rule("message.body", "contains", "invoice")]
    assert not condition_holds(Condition(match="all", rules=rules), FACTS)
    assert condition_holds(Condition(match="any", rules=rules), FACTS)


def test_disabled_rules_are_left_out_and_a_condition_of_only_disabled_rules_holds():
    failing = rule("message.body", "contains", "invoice", disabled=True)
    assert condition_holds(Condition(rules=[rule("contact.first_name", "equals", "Ada"), failing]), FACTS)
    assert condition_holds(Condition(rules=[failing]), FACTS)


def test_a_comparison_needs_a_value_and_a_known_field():
    with pytest.raises(ValidationError, match="needs a value"):
        rule("message.body", "contains")
    with pytest.raises(ValidationError):
        rule("contact.nickname", "is_empty")
    with pytest.raises(ValidationError):
        Condition(rules=[])
