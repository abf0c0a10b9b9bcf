"""Small helpers every resource router shares: fetch-or-404, paging, reference checks before delete."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Page
from api.errors import conflict, invalid, not_found
from models import Base

ModelT = TypeVar("ModelT", bound=Base)
RowT = TypeVar("RowT")


class ListOut(BaseModel, Generic[RowT]):
    count: int
    rows: list[RowT]


class Out(BaseModel):
    """Base of every response model: read straight from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


async def get_or_404(
    session: AsyncSession, model: type[ModelT], ident: int, what: str, *, lock: bool = False
) -> ModelT:
    row = await session.get(model, ident, with_for_update=lock)
    if row is None:
        raise not_found(what, ident)
    return row


async def paginate(session: AsyncSession, query: Select[ModelT], page: Page) -> tuple[int, Sequence[ModelT]]:
    """The total and this page of a one-entity query."""
    count, rows = await paginate_rows(session, query, page)
    return count, [row[0] for row in rows]


async def paginate_rows(
    session: AsyncSession, query: Select[*tuple[Any, ...]], page: Page, *, count_up_to: int | None = None
) -> tuple[int, Sequence[Any]]:
    """The total and this page of any query, as rows.

    A page shorter than asked for is the end: the total follows without counting. With
    `count_up_to`, counting stops past that many rows, and a larger total comes back as
    count_up_to + 1 (a count(*) of every matching row costs a scan of them all)."""
    rows = (await session.execute(query.limit(page.limit).offset(page.offset))).all()
    return await _total(session, query, len(rows), page, count_up_to), rows


async def paginate_ids(
    session: AsyncSession,
    ids: Select[int],
    rows_of: Callable[[Select[int]], Select[*tuple[Any, ...]]],
    page: Page,
    *,
    count_up_to: int | None = None,
) -> tuple[int, Sequence[Any]]:
    """As paginate_rows, for a list filtered and ordered on its ids alone: `ids` (in the list's
    order) is paged in a subquery, `rows_of(page_ids)` reads the rows of that page, and the total
    counts `ids`."""
    rows = (await session.execute(rows_of(ids.limit(page.limit).offset(page.offset)))).all()
    return await _total(session, ids, len(rows), page, count_up_to), rows


async def _total(
    session: AsyncSession, query: Select[*tuple[Any, ...]], found: int, page: Page, count_up_to: int | None
) -> int:
    """How many rows `query` has, given that its page `page` held `found` of them."""
    if found < page.limit and (found or page.offset == 0):
        total = page.offset + found
        return total if count_up_to is None else min(total, count_up_to + 1)
    return await session.scalar(capped_count(query, count_up_to)) or 0


def capped_count(query: Select[*tuple[Any, ...]], count_up_to: int | None) -> Select[int]:
    """How many rows `query` has, counting at most count_up_to + 1 of them (None: all)."""
    rows = query.order_by(None)
    if count_up_to is not None:
        rows = rows.limit(count_up_to + 1)
    return select(func.count()).select_from(rows.subquery())


async def ensure_unreferenced(
    session: AsyncSession, what: str, references: Sequence[tuple[str, Select[Any]]]
) -> None:
    """Refuse (409) to delete `what` while any query in `references` finds rows that point at it.

    Each reference is (description, query returning identifying labels); the answer names them.
    """
    found: list[str] = []
    for description, query in references:
        labels = (await session.execute(query.limit(10))).scalars().all()
        if labels:
            found.append(f"{description}: {', '.join(str(label) for label in labels)}")
    if found:
        raise conflict(f"{what} is still used by {'; '.join(found)}", code="referenced")


def apply_patch(
    row: Base, body: BaseModel, nullable: frozenset[str] = frozenset(), exclude: frozenset[str] = frozenset()
) -> None:
    """Copy the fields the client sent onto `row`; null is refused for fields that cannot be empty."""
    changes = body.model_dump(exclude_unset=True, exclude=set(exclude))
    refused = {
        name: "may not be null" for name, value in changes.items() if value is None and name not in nullable
    }
    if refused:
        raise invalid(refused)
    for name, value in changes.items():
        setattr(row, name, value)
