"""Conditions: the field/operator vocabulary of `gotoif` steps, evaluated on the interaction's facts.

A condition is ``{"match": "all"|"any", "rules": [{"field", "operator", "value", "disabled"?}]}``.
Evaluation is pure: the caller supplies the facts (field → text, or list of texts for tags).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ConditionField(StrEnum):
    contact_first_name = "contact.first_name"
    contact_last_name = "contact.last_name"
    contact_mobile = "contact.mobile"
    contact_email = "contact.email"
    message_body = "message.body"
    interaction_tags = "interaction.tags"


class Operator(StrEnum):
    equals = "equals"
    not_equals = "not_equals"
    contains = "contains"
    not_contains = "not_contains"
    starts_with = "starts_with"
    ends_with = "ends_with"
    is_empty = "is_empty"
    is_not_empty = "is_not_empty"


_UNARY = frozenset({Operator.is_empty, Operator.is_not_empty})

_TEST: dict[Operator, Callable[[str, str], bool]] = {
    Operator.equals: lambda fact, value: fact == value,
    Operator.contains: lambda fact, value: value in fact,
    Operator.starts_with: lambda fact, value: fact.startswith(value),
    Operator.ends_with: lambda fact, value: fact.endswith(value),
}
_NEGATED = {Operator.not_equals: Operator.equals, Operator.not_contains: Operator.contains}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: ConditionField
    operator: Operator
    value: str = Field(default="", max_length=500)
    disabled: bool = False

    @model_validator(mode="after")
    def _value_needed(self) -> Self:
        if self.operator not in _UNARY and not self.value:
            raise ValueError(f"operator {self.operator} needs a value")
        return self


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: Literal["all", "any"] = "all"
    rules: list[Rule] = Field(min_length=1, max_length=50)


Facts = Mapping[str, str | list[str] | None]


def rule_holds(rule: Rule, facts: Facts) -> bool:
    """Text comparisons ignore case; a list (tags) holds when any element does."""
    fact = facts.get(rule.field)
    values = [item.casefold() for item in fact] if isinstance(fact, list) else [(fact or "").casefold()]
    if rule.operator is Operator.is_empty:
        return not any(values)
    if rule.operator is Operator.is_not_empty:
        return any(values)
    wanted = rule.value.casefold()
    if rule.operator in _NEGATED:
        test = _TEST[_NEGATED[rule.operator]]
        return not any(test(value, wanted) for value in values)
    return any(_TEST[rule.operator](value, wanted) for value in values)


def condition_holds(condition: Condition, facts: Facts) -> bool:
    active = [rule for rule in condition.rules if not rule.disabled]
    if not active:
        return True
    results = (rule_holds(rule, facts) for rule in active)
    return all(results) if condition.match == "all" else any(results)
