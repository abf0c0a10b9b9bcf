"""Intervals: when a step of an action plan may run (XCALLY semantics, see models.interval)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from api.crud import ListOut, apply_patch, ensure_unreferenced, get_or_404, paginate
from api.deps import AdminUser, PageDep, SessionDep, StaffUser
from api.directory.schemas import (
    IntervalIn,
    IntervalOut,
    IntervalPatch,
    IntervalRule,
)
from models import Account, Action, Interval

router = APIRouter(prefix="/api/intervals", tags=["intervals"])


def _stored(rules: list[IntervalRule]) -> list[dict[str, object]]:
    return [rule.model_dump(exclude_defaults=True) for rule in rules]


@router.get("")
async def list_intervals(_: StaffUser, session: SessionDep, page: PageDep) -> ListOut[IntervalOut]:
    count, rows = await paginate(session, select(Interval).order_by(Interval.name), page)
    return ListOut(count=count, rows=[IntervalOut.model_validate(row) for row in rows])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_interval(body: IntervalIn, _: AdminUser, session: SessionDep) -> IntervalOut:
    interval = Interval(name=body.name, timezone=body.timezone, rules=_stored(body.rules))
    session.add(interval)
    await session.flush()
    return IntervalOut.model_validate(interval)


@router.get("/{interval_id}")
async def get_interval(interval_id: int, _: StaffUser, session: SessionDep) -> IntervalOut:
    return IntervalOut.model_validate(await get_or_404(session, Interval, interval_id, "interval"))


@router.patch("/{interval_id}")
@router.put("/{interval_id}")  # the same update, under its own operation id
async def update_interval(
    interval_id: int, body: IntervalPatch, _: AdminUser, session: SessionDep
) -> IntervalOut:
    interval = await get_or_404(session, Interval, interval_id, "interval")
    apply_patch(interval, body, exclude=frozenset({"rules"}))
    if body.rules is not None:
        interval.rules = _stored(body.rules)
    await session.flush()
    return IntervalOut.model_validate(interval)


@router.delete("/{interval_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_interval(interval_id: int, _: AdminUser, session: SessionDep) -> None:
    interval = await get_or_404(session, Interval, interval_id, "interval")
    await ensure_unreferenced(
        session,
        f"interval {interval.name}",
        [
            (
                "action plan steps of accounts",
                select(Account.key)
                .join(Action, Action.account_id == Account.id)
                .where(Action.interval_id == interval_id),
            )
        ],
    )
    await session.delete(interval)
