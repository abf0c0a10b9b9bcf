"""Delivery statuses only move forward, and the failure text agents read: pure cases. (The
provider-id lock and the parked early statuses are tested against PostgreSQL in
tests/activities/test_early_statuses.py.)"""

from __future__ import annotations

import pytest

from domain.delivery import WINDOW_CLOSED_TEXT, advances, failure_text
from models.interaction import DeliveryStatus

Q, S, D, R, F = (
    DeliveryStatus.queued,
    DeliveryStatus.sent,
    DeliveryStatus.delivered,
    DeliveryStatus.read,
    DeliveryStatus.failed,
)


@pytest.mark.parametrize(
    ("current", "new", "moves"),
    [
        (Q, S, True),
        (S, D, True),
        (Q, R, True),  # a late `sent` and `delivered` are skipped over
        (D, R, True),
        (R, D, False),  # callbacks out of order never move back
        (D, S, False),
        (S, S, False),  # nor repeat
        (Q, F, True),
        (S, F, True),
        (D, F, False),  # what was delivered did not fail
        (R, F, False),
        (F, S, False),  # a failure stays failed
        (F, R, False),
        (S, Q, False),
    ],
)
def test_a_status_advances_only_forward(current, new, moves):
    assert advances(current, new) is moves


def test_the_window_codes_lead_with_the_reason():
    assert failure_text("63016", None) == WINDOW_CLOSED_TEXT
    assert failure_text("131047", "Re-engagement message") == f"{WINDOW_CLOSED_TEXT} (Re-engagement message)"


def test_other_failures_keep_the_provider_text_redacted():
    assert failure_text("21211", None) is None
    assert failure_text("21211", "Invalid 'To'\n number") == "Invalid 'To' number"
    assert "s3cr3t-token-value" not in (
        failure_text("401", "bad key s3cr3t-token-value", ["s3cr3t-token-value"]) or ""
    )
