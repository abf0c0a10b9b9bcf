"""Intervals (XCALLY working hours): a named timezone and rules, any one of which may match.

A rule is ``{"always": true}`` or a time range with optional weekday, month-day and month lists
(an absent or empty list matches every value). The end minute is inclusive: 09:00-13:00 matches
until 13:00:59. A range whose end is before its start runs overnight (22:00-02:00).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class Interval(Base, Timestamps):
    __tablename__ = "intervals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)

    def contains(self, when: datetime) -> bool:
        return interval_contains(self.timezone, self.rules, when)


def interval_contains(timezone: str, rules: list[dict[str, Any]], when: datetime) -> bool:
    """Whether the aware datetime `when`, seen in `timezone`, falls inside any of `rules`."""
    local = when.astimezone(ZoneInfo(timezone))
    return any(_rule_matches(rule, local) for rule in rules)


def _rule_matches(rule: dict[str, Any], local: datetime) -> bool:
    if rule.get("always"):
        return True
    if rule.get("weekdays") and WEEKDAYS[local.weekday()] not in rule["weekdays"]:
        return False
    if rule.get("month_days") and local.day not in rule["month_days"]:
        return False
    if rule.get("months") and MONTHS[local.month - 1] not in rule["months"]:
        return False
    start = time.fromisoformat(rule.get("time_from") or "00:00")
    end = time.fromisoformat(rule.get("time_to") or "23:59")
    minute = local.time().replace(second=0, microsecond=0)
    if start <= end:
        return start <= minute <= end
    return minute >= start or minute <= end
