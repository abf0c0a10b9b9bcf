"""Text search without pg_trgm (the embedded PostgreSQL has no contrib extensions): the trigrams
of a text as an array (`shareline_trigrams`, migration 0014), indexed with GIN's built-in array
operators. A text contains a value only if its trigrams contain the value's, so the index finds
the candidates and ILIKE checks them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, Text, TextClause, and_, func
from sqlalchemy.dialects.postgresql import ARRAY

# Shorter values have no trigram: they are searched by ILIKE alone.
TRIGRAM = 3


def trigrams(value: SQLColumnExpression[Any] | TextClause | str) -> ColumnElement[list[str]]:
    return func.shareline_trigrams(value, type_=ARRAY(Text))


def contains_ignoring_case(text: SQLColumnExpression[Any], value: str) -> ColumnElement[bool]:
    """`text` contains `value` in any case (LIKE's wildcards in it escaped): by a GIN index over
    trigrams(text), where there is one and the value is long enough."""
    found = text.icontains(value, autoescape=True)
    if len(value) < TRIGRAM:
        return found
    return and_(trigrams(text).contains(trigrams(value)), found)
