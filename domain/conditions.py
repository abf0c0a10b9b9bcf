"""Conditions: one vocabulary of fields and operators for the action plan's `gotoif` steps and the
interactions search.

A condition is ``{"match": "all"|"any", "rules": [{"field", "operator", "value", "disabled"?}]}``.
Each field has a value type, and the type decides which operators apply and what `value` must be
(`FIELDS`). Two users of one definition:

- `Condition` (a `gotoif` step) is evaluated here, in Python, on the facts the plan gathers while
  it runs (`PLAN_FIELDS`: the contact and the customer's latest message). A field the plan has no
  fact for (message counts, owner, times...) is invalid in a `gotoif`: the plan is refused (422)
  when it is saved, rather than the step quietly never holding.
- `SearchCondition` (the interactions list) may use every field; `api.interactions.conditions`
  compiles it to SQLAlchemy expressions, one per field, never SQL from strings.

Text comparisons ignore case. A field holding several values (tags, the inbound messages) holds
when any of them does; its negated operators (`not_equals`, `not_contains`) hold when none does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, model_validator


class ConditionField(StrEnum):
    contact_first_name = "contact.first_name"
    contact_last_name = "contact.last_name"
    contact_mobile = "contact.mobile"
    contact_email = "contact.email"
    contact_list = "contact.list_id"
    message_body = "message.body"
    messages_text = "messages.text"
    interaction_tags = "interaction.tags"
    interaction_account = "interaction.account_id"
    interaction_status = "interaction.status"
    interaction_read = "interaction.read"
    interaction_owner = "interaction.owner_id"
    interaction_queue = "interaction.queue_id"
    interaction_disposition = "interaction.disposition_id"
    interaction_started_at = "interaction.started_at"
    interaction_closed_at = "interaction.closed_at"
    interaction_last_inbound_at = "interaction.last_inbound_at"
    interaction_inbound_count = "interaction.inbound_count"
    interaction_outbound_count = "interaction.outbound_count"
    interaction_wait_seconds = "interaction.wait_seconds"


class Operator(StrEnum):
    equals = "equals"
    not_equals = "not_equals"
    contains = "contains"
    not_contains = "not_contains"
    starts_with = "starts_with"
    ends_with = "ends_with"
    gt = "gt"
    gte = "gte"
    lt = "lt"
    lte = "lte"
    is_empty = "is_empty"
    is_not_empty = "is_not_empty"
    in_ = "in"


class ValueType(StrEnum):
    text = "text"  # a string of up to 500 characters
    number = "number"
    boolean = "boolean"
    datetime = "datetime"  # ISO 8601 with a time zone
    id = "id"  # a record's id
    choice = "choice"  # one of the field's `choices`


OPERATORS: dict[Operator, str] = {
    Operator.equals: "is the value (text: ignoring case)",
    Operator.not_equals: "is not the value",
    Operator.contains: "contains the value",
    Operator.not_contains: "does not contain the value",
    Operator.starts_with: "starts with the value",
    Operator.ends_with: "ends with the value",
    Operator.gt: "is greater (later) than the value",
    Operator.gte: "is greater (later) than or equal to the value",
    Operator.lt: "is less (earlier) than the value",
    Operator.lte: "is less (earlier) than or equal to the value",
    Operator.is_empty: "has no value (takes no value)",
    Operator.is_not_empty: "has a value (takes no value)",
    Operator.in_: "is one of the values (a list)",
}
UNARY = frozenset({Operator.is_empty, Operator.is_not_empty})  # take no value
NEGATED = {Operator.not_equals: Operator.equals, Operator.not_contains: Operator.contains}
MAX_IN_VALUES = 100

_TEXT = (
    Operator.equals,
    Operator.not_equals,
    Operator.contains,
    Operator.not_contains,
    Operator.starts_with,
    Operator.ends_with,
    Operator.in_,
    Operator.is_empty,
    Operator.is_not_empty,
)
_TEXT_OF_MANY = _TEXT[:7]  # inbound messages: no is_empty / is_not_empty
_ORDERED = (Operator.gt, Operator.gte, Operator.lt, Operator.lte)
_EMPTY = (Operator.is_empty, Operator.is_not_empty)
_ID = (Operator.equals, Operator.not_equals, Operator.in_)
_OPTIONAL_ID = (*_ID, *_EMPTY)


@dataclass(frozen=True)
class FieldSpec:
    type: ValueType
    operators: tuple[Operator, ...]
    description: str
    in_plans: bool = False  # a `gotoif` has a fact for it
    choices: tuple[str, ...] = ()


FIELDS: dict[ConditionField, FieldSpec] = {
    ConditionField.contact_first_name: FieldSpec(ValueType.text, _TEXT, "contact's first name", True),
    ConditionField.contact_last_name: FieldSpec(ValueType.text, _TEXT, "contact's last name", True),
    ConditionField.contact_mobile: FieldSpec(ValueType.text, _TEXT, "contact's mobile (digits)", True),
    ConditionField.contact_email: FieldSpec(ValueType.text, _TEXT, "contact's email", True),
    ConditionField.contact_list: FieldSpec(ValueType.id, _ID, "the contact list of the contact"),
    ConditionField.message_body: FieldSpec(ValueType.text, _TEXT, "the customer's latest message", True),
    ConditionField.messages_text: FieldSpec(
        ValueType.text, _TEXT_OF_MANY, "any message the customer wrote in the interaction (none, for not_...)"
    ),
    ConditionField.interaction_tags: FieldSpec(
        ValueType.text, _TEXT, "any tag of the interaction (none, for not_...; is_empty: no tags)", True
    ),
    ConditionField.interaction_account: FieldSpec(ValueType.id, _ID, "the account"),
    ConditionField.interaction_status: FieldSpec(
        ValueType.choice,
        _ID,
        "open (owned or waiting), open-pending (waiting for an agent) or closed",
        choices=("open", "open-pending", "closed"),
    ),
    ConditionField.interaction_read: FieldSpec(
        ValueType.boolean, (Operator.equals, Operator.not_equals), "the owner has read the latest messages"
    ),
    ConditionField.interaction_owner: FieldSpec(ValueType.id, _OPTIONAL_ID, "the owning agent"),
    ConditionField.interaction_queue: FieldSpec(
        ValueType.id,
        _OPTIONAL_ID,
        "the queue it came through",
    ),
    ConditionField.interaction_disposition: FieldSpec(
        ValueType.id,
        _OPTIONAL_ID,
        "the disposition, at any level: a disposition matches its sub-dispositions too",
    ),
    ConditionField.interaction_started_at: FieldSpec(ValueType.datetime, _ORDERED, "when it started"),
    ConditionField.interaction_closed_at: FieldSpec(
        ValueType.datetime, (*_ORDERED, *_EMPTY), "when it closed (empty while open)"
    ),
    ConditionField.interaction_last_inbound_at: FieldSpec(
        ValueType.datetime, (*_ORDERED, *_EMPTY), "when the customer last wrote (provider's clock)"
    ),
    ConditionField.interaction_inbound_count: FieldSpec(
        ValueType.number, (Operator.equals, Operator.not_equals, *_ORDERED), "messages the customer wrote"
    ),
    ConditionField.interaction_outbound_count: FieldSpec(
        ValueType.number,
        (Operator.equals, Operator.not_equals, *_ORDERED),
        "messages sent to the customer (agents' replies, autoreplies, templates; notes excluded)",
    ),
    ConditionField.interaction_wait_seconds: FieldSpec(
        ValueType.number,
        _ORDERED,
        "seconds from the start to the first accept (to the close, or now, if nobody accepted)",
    ),
}
PLAN_FIELDS = frozenset(field for field, spec in FIELDS.items() if spec.in_plans)

_VALUE_TYPES: dict[ValueType, TypeAdapter[Any]] = {
    ValueType.text: TypeAdapter(str, config=ConfigDict(coerce_numbers_to_str=True)),
    ValueType.number: TypeAdapter(int | float),
    ValueType.boolean: TypeAdapter(StrictBool),
    ValueType.datetime: TypeAdapter(AwareDatetime),
    ValueType.id: TypeAdapter(int),
    ValueType.choice: TypeAdapter(str),
}

RuleValue = str | bool | int | float | datetime | list[str | bool | int | float | datetime] | None


def _scalar(spec: FieldSpec, value: object) -> Any:
    """`value` as the field's type, or ValueError saying what was expected."""
    if isinstance(value, list | dict) or (isinstance(value, bool) and spec.type is not ValueType.boolean):
        raise ValueError(f"value must be one {spec.type}, not {value!r}")
    try:
        typed = _VALUE_TYPES[spec.type].validate_python(value)
    except ValueError as exc:
        expected = "an ISO 8601 time with a time zone" if spec.type is ValueType.datetime else spec.type
        raise ValueError(f"value must be {expected}, not {value!r}") from exc
    if spec.type is ValueType.text and not (0 < len(typed) <= 500):
        raise ValueError("value must be a text of 1 to 500 characters")
    if spec.type is ValueType.choice and typed not in spec.choices:
        raise ValueError(f"value must be one of {', '.join(spec.choices)}")
    return typed


class Rule(BaseModel):
    """One rule of a search. `value` is typed by the field (`FIELDS`); `in` takes a list of them;
    `is_empty` and `is_not_empty` take none (a value given is ignored)."""

    model_config = ConfigDict(extra="forbid")

    field: ConditionField
    operator: Operator
    value: RuleValue = None
    disabled: bool = False

    @model_validator(mode="after")
    def _fits_the_field(self) -> Self:
        spec = FIELDS[self.field]
        if self.operator not in spec.operators:
            allowed = ", ".join(spec.operators)
            raise ValueError(
                f"operator {self.operator} does not apply to {self.field}; use one of: {allowed}"
            )
        if self.operator in UNARY:
            self.value = None
        elif self.operator is Operator.in_:
            if not isinstance(self.value, list) or not 0 < len(self.value) <= MAX_IN_VALUES:
                raise ValueError(f"operator in needs a list of 1 to {MAX_IN_VALUES} values")
            self.value = [_scalar(spec, item) for item in self.value]
        elif self.value is None or self.value == "":
            raise ValueError(f"operator {self.operator} needs a value")
        else:
            self.value = _scalar(spec, self.value)
        return self


class SearchCondition(BaseModel):
    """The interactions list's advanced search. No rule enabled: every interaction matches."""

    model_config = ConfigDict(extra="forbid")

    match: Literal["all", "any"] = "all"
    rules: list[Rule] = Field(default_factory=list, max_length=50)

    def active(self) -> list[Rule]:
        """The rules that count: disabled ones are ignored."""
        return [rule for rule in self.rules if not rule.disabled]


class Condition(SearchCondition):
    """A `gotoif` step's condition, evaluated by `condition_holds`: at least one rule, each on a
    field the running plan has a fact for."""

    rules: list[Rule] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _known_while_the_plan_runs(self) -> Self:
        for index, rule in enumerate(self.rules):
            if rule.field not in PLAN_FIELDS:
                known = ", ".join(sorted(PLAN_FIELDS))
                raise ValueError(f"rules.{index}: {rule.field} is not known while a plan runs; use {known}")
        return self


Facts = Mapping[str, str | list[str] | None]

_TEST: dict[Operator, Callable[[str, str], bool]] = {
    Operator.equals: lambda fact, value: fact == value,
    Operator.contains: lambda fact, value: value in fact,
    Operator.starts_with: lambda fact, value: fact.startswith(value),
    Operator.ends_with: lambda fact, value: fact.endswith(value),
}


def rule_holds(rule: Rule, facts: Facts) -> bool:
    """Text comparisons ignore case; a list (tags) holds when any element does."""
    fact = facts.get(rule.field)
    values = [item.casefold() for item in fact] if isinstance(fact, list) else [(fact or "").casefold()]
    if rule.operator is Operator.is_empty:
        return not any(values)
    if rule.operator is Operator.is_not_empty:
        return any(values)
    if rule.operator is Operator.in_:
        assert isinstance(rule.value, list)
        wanted = {str(item).casefold() for item in rule.value}
        return any(value in wanted for value in values)
    text = str(rule.value).casefold()
    if rule.operator in NEGATED:
        test = _TEST[NEGATED[rule.operator]]
        return not any(test(value, text) for value in values)
    return any(_TEST[rule.operator](value, text) for value in values)


def condition_holds(condition: Condition, facts: Facts) -> bool:
    active = condition.active()
    if not active:
        return True
    results = (rule_holds(rule, facts) for rule in active)
    return all(results) if condition.match == "all" else any(results)
