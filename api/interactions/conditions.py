"""The interactions search (`domain.conditions.SearchCondition`) compiled to SQLAlchemy.

Each field of the vocabulary is an expression over the list's query (interactions joined with
their contact, `service.visible`); message counts, the latest message and the wait are correlated
subqueries. Each operator is a SQLAlchemy comparison with the rule's value bound as a parameter:
no SQL is ever built from a client's text. Only positive operators are compiled per field; a
negated one is NOT of its positive twin, with NULL counting as "does not hold" (an interaction
without an owner is `not_equals` every agent), as `domain.conditions.rule_holds` reads a missing
fact as empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
)

from api.errors import AppError, invalid
from api.interactions.schemas import SearchFieldOut, SearchFieldsOut, SearchOperatorOut
from domain.conditions import (
    FIELDS,
    NEGATED,
    OPERATORS,
    UNARY,
    ConditionField,
    Operator,
    Rule,
    SearchCondition,
)
from models import (
    Contact,
    Direction,
    Disposition,
    Interaction,
    InteractionStatus,
    Message,
)
from models.interaction import ACTIVE
from models.routing import first_accepted
from models.search import contains_ignoring_case

# A field's test: (positive operator, the rule's typed value) → whether it holds.
Positive = Callable[[Operator, Any], ColumnElement[bool]]


def status_is(status: InteractionStatus | str) -> ColumnElement[bool]:
    """`open` is every interaction not closed (owned or waiting), as the list's `status` filter."""
    if InteractionStatus(status) is InteractionStatus.open:
        return ACTIVE
    return Interaction.status == InteractionStatus(status)


def dispositions_under(ids: Iterable[int]) -> Select[int]:
    """The dispositions `ids` and their sub-dispositions (levels 1 to 3, so two steps down)."""
    wanted = list(ids)
    children = select(Disposition.id).where(Disposition.parent_id.in_(wanted))
    return select(Disposition.id).where(
        or_(
            Disposition.id.in_(wanted),
            Disposition.parent_id.in_(wanted),
            Disposition.parent_id.in_(children.scalar_subquery()),
        )
    )


def _text_test(text: SQLColumnExpression[Any], operator: Operator, value: Any) -> ColumnElement[bool]:
    """Text compared ignoring case; LIKE's wildcards in the value are escaped."""
    text = func.coalesce(text, "")
    match operator:
        case Operator.equals:
            return func.lower(text) == func.lower(value)
        case Operator.contains:
            return text.icontains(value, autoescape=True)
        case Operator.starts_with:
            return text.istartswith(value, autoescape=True)
        case Operator.ends_with:
            return text.iendswith(value, autoescape=True)
        case Operator.in_:
            return func.lower(text).in_([func.lower(item) for item in value])
        case Operator.is_empty:
            return text == ""
    raise AssertionError(f"{operator} is not a text operator")


def _value_test(column: SQLColumnExpression[Any], operator: Operator, value: object) -> ColumnElement[bool]:
    match operator:
        case Operator.equals:
            return column == value
        case Operator.in_:
            assert isinstance(value, list)
            return column.in_(value)
        case Operator.gt:
            return column > value
        case Operator.gte:
            return column >= value
        case Operator.lt:
            return column < value
        case Operator.lte:
            return column <= value
        case Operator.is_empty:
            return column.is_(None)
    raise AssertionError(f"{operator} is not a value operator")


def _text(expression: Callable[[], SQLColumnExpression[Any]]) -> Positive:
    return lambda operator, value: _text_test(expression(), operator, value)


def _value(expression: Callable[[], SQLColumnExpression[Any]]) -> Positive:
    return lambda operator, value: _value_test(expression(), operator, value)


def _any_tag(operator: Operator, value: Any) -> ColumnElement[bool]:
    if operator is Operator.is_empty:
        return func.coalesce(func.cardinality(Interaction.tags), 0) == 0
    tag = func.unnest(Interaction.tags).column_valued("tag")
    return exists(select(tag).where(_text_test(tag, operator, value)))


def _inbound() -> ColumnElement[bool]:
    return and_(Message.interaction_id == Interaction.id, Message.direction == Direction.inbound)


def _any_inbound_text(operator: Operator, value: Any) -> ColumnElement[bool]:
    # `contains` by the inbound texts' trigram index (Message.text is never NULL)
    if operator is Operator.contains:
        return exists().where(_inbound(), contains_ignoring_case(Message.text, value))
    return exists().where(_inbound(), _text_test(Message.text, operator, value))


def _latest_inbound_text() -> ColumnElement[Any]:
    return select(Message.text).where(_inbound()).order_by(Message.id.desc()).limit(1).scalar_subquery()


def _count(direction: Direction) -> Callable[[], ColumnElement[Any]]:
    def count() -> ColumnElement[Any]:
        mine = and_(Message.interaction_id == Interaction.id, Message.direction == direction)
        return select(func.count()).where(mine).scalar_subquery()

    return count


def _wait_seconds() -> ColumnElement[Any]:
    until = func.coalesce(first_accepted(Interaction.id).scalar_subquery(), Interaction.closed_at, func.now())
    return func.extract("epoch", until - Interaction.started_at)


def _status(operator: Operator, value: Any) -> ColumnElement[bool]:
    return or_(*(status_is(status) for status in (value if operator is Operator.in_ else [value])))


def _disposition(operator: Operator, value: Any) -> ColumnElement[bool]:
    if operator is Operator.is_empty:
        return Interaction.disposition_id.is_(None)
    wanted = value if operator is Operator.in_ else [value]
    return Interaction.disposition_id.in_(dispositions_under(wanted).scalar_subquery())


FIELD_TESTS: dict[ConditionField, Positive] = {
    ConditionField.contact_first_name: _text(lambda: Contact.first_name),
    ConditionField.contact_last_name: _text(lambda: Contact.last_name),
    ConditionField.contact_mobile: _text(lambda: Contact.mobile),
    ConditionField.contact_email: _text(lambda: Contact.email),
    ConditionField.contact_list: _value(lambda: Contact.list_id),
    ConditionField.message_body: _text(_latest_inbound_text),
    ConditionField.messages_text: _any_inbound_text,
    ConditionField.interaction_tags: _any_tag,
    ConditionField.interaction_account: _value(lambda: Interaction.account_id),
    ConditionField.interaction_status: _status,
    ConditionField.interaction_read: _value(lambda: Interaction.read),
    ConditionField.interaction_owner: _value(lambda: Interaction.owner_id),
    ConditionField.interaction_queue: _value(lambda: Interaction.queue_id),
    ConditionField.interaction_disposition: _disposition,
    ConditionField.interaction_started_at: _value(lambda: Interaction.started_at),
    ConditionField.interaction_closed_at: _value(lambda: Interaction.closed_at),
    ConditionField.interaction_last_inbound_at: _value(lambda: Interaction.last_inbound_at),
    ConditionField.interaction_inbound_count: _value(_count(Direction.inbound)),
    ConditionField.interaction_outbound_count: _value(_count(Direction.outbound)),
    ConditionField.interaction_wait_seconds: _value(_wait_seconds),
}
assert set(FIELD_TESTS) == set(ConditionField), "every field of the vocabulary compiles"


def rule_expression(rule: Rule) -> ColumnElement[bool]:
    test = FIELD_TESTS[rule.field]
    if rule.operator in NEGATED:
        return not_(func.coalesce(test(NEGATED[rule.operator], rule.value), false()))
    if rule.operator is Operator.is_not_empty:
        return not_(func.coalesce(test(Operator.is_empty, None), false()))
    return test(rule.operator, rule.value)


def condition_expression(condition: SearchCondition) -> ColumnElement[bool] | None:
    """The WHERE clause of the enabled rules, or None when no rule is enabled."""
    parts = [rule_expression(rule) for rule in condition.active()]
    if not parts:
        return None
    return and_(*parts) if condition.match == "all" else or_(*parts)


def search_fields() -> SearchFieldsOut:
    """The vocabulary as `GET /api/whatsapp/interactions/search-fields` shows it."""
    fields = [
        SearchFieldOut(
            field=field,
            type=spec.type,
            operators=list(spec.operators),
            description=spec.description,
            choices=list(spec.choices),
            in_plans=spec.in_plans,
        )
        for field, spec in FIELDS.items()
    ]
    takes = {Operator.in_: "list", **dict.fromkeys(UNARY, "none")}
    operators = [
        SearchOperatorOut(operator=operator, value=takes.get(operator, "one"), description=description)
        for operator, description in OPERATORS.items()
    ]
    return SearchFieldsOut(fields=fields, operators=operators)


def parse_conditions(raw: str | None, where: str = "conditions") -> SearchCondition | None:
    """The `conditions` query parameter (JSON text) read, or a 422 whose `fields` name the bad
    rule as `conditions.rules.<index>` (the key once per rule) and say why."""
    if raw is None or not raw.strip():
        return None
    try:
        return SearchCondition.model_validate_json(raw)
    except ValidationError as exc:
        raise conditions_error(exc, where) from exc


def conditions_error(exc: ValidationError, where: str) -> AppError:
    fields: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        key, rest = (loc[:2], loc[2:]) if loc[:1] == ["rules"] and len(loc) >= 2 else (loc, [])
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        fields.setdefault(".".join([where, *key]), f"{'.'.join(rest)}: {message}" if rest else message)
    return invalid(fields, "the search conditions are invalid")
