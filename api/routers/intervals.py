"""Intervals: when a step of an action plan may run (XCALLY semantics, see models.interval)."""

from __future__ import annotations

from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, status
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import select

from api.crud import ListOut, Out, apply_patch, ensure_unreferenced, get_or_404, paginate
from api.deps import AdminUser, PageDep, SessionDep, StaffUser
from models import Account, Action, Interval

router = APIRouter(prefix="/api/intervals", tags=["intervals"])

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Month = Literal["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


def _known_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Europe/Rome)") from exc
    return name


Timezone = Annotated[str, AfterValidator(_known_timezone)]


class IntervalRule(BaseModel):
    always: bool | None = None
    time_from: ClockTime | None = None
    time_to: ClockTime | None = None
    weekdays: list[Weekday] = Field(default_factory=list)
    month_days: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)
    months: list[Month] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        bounded = self.time_from or self.time_to or self.weekdays or self.month_days or self.months
        if self.always and bounded:
            raise ValueError("a rule is either {always: true} or a time range with days and months, not both")
        if not self.always and not bounded:
            raise ValueError("a rule needs always: true, or a time range, weekdays, month days or months")
        if (self.time_from is None) != (self.time_to is None):
            raise ValueError("time_from and time_to go together")
        return self


class IntervalIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    timezone: Timezone = "UTC"
    rules: list[IntervalRule] = Field(min_length=1)


class IntervalPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    timezone: Timezone | None = None
    rules: list[IntervalRule] | None = Field(default=None, min_length=1)


class IntervalOut(Out):
    id: int
    name: str
    timezone: str
    rules: list[IntervalRule]


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
