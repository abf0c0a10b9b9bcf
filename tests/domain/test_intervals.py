"""XCALLY interval semantics: end minute inclusive, overnight ranges, days, months, timezones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.interval import interval_contains

WEEKDAY_MORNINGS = [
    {"time_from": "09:00", "time_to": "13:00", "weekdays": ["mon", "tue", "wed", "thu", "fri"]}
]


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ("2026-11-23T08:59:59", False),  # Monday, a second before
        ("2026-11-23T09:00:00", True),
        ("2026-11-23T13:00:00", True),
        ("2026-11-23T13:00:59", True),  # the end minute is inclusive
        ("2026-11-23T13:01:00", False),
        ("2026-11-22T10:00:00", False),  # Sunday
    ],
)
def test_time_range_end_minute_inclusive(local, inside):
    when = datetime.fromisoformat(local).replace(tzinfo=UTC)
    assert interval_contains("UTC", WEEKDAY_MORNINGS, when) is inside


def test_timezone_is_applied():
    rome = [{"time_from": "09:00", "time_to": "09:59"}]
    assert interval_contains("Europe/Rome", rome, datetime(2026, 11, 23, 8, 30, tzinfo=UTC))  # 09:30 in Rome
    assert not interval_contains("UTC", rome, datetime(2026, 11, 23, 8, 30, tzinfo=UTC))


def test_overnight_range_and_calendar_fields():
    night = [{"time_from": "22:00", "time_to": "02:00"}]
    assert interval_contains("UTC", night, datetime(2026, 1, 1, 23, 15, tzinfo=UTC))
    assert interval_contains("UTC", night, datetime(2026, 1, 1, 2, 0, 30, tzinfo=UTC))
    assert not interval_contains("UTC", night, datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    christmas = [{"month_days": [25, 26], "months": ["dec"]}]
    assert interval_contains("UTC", christmas, datetime(2026, 12, 25, 18, 0, tzinfo=UTC))
    assert not interval_contains("UTC", christmas, datetime(2026, 11, 25, 18, 0, tzinfo=UTC))
    assert interval_contains("UTC", [{"always": True}], datetime(2026, 5, 5, tzinfo=UTC))
    assert not interval_contains("UTC", [], datetime(2026, 5, 5, tzinfo=UTC))
    assert interval_contains("UTC", [christmas[0], {"always": True}], datetime(2026, 5, 5, tzinfo=UTC))
