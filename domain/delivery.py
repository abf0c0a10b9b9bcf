"""Delivery status only moves forward: callbacks arrive out of order and more than once."""

from __future__ import annotations

from models.interaction import DeliveryStatus

# The statuses each status may replace. `failed` can follow queued or sent, not delivered or read.
ADVANCES_FROM: dict[DeliveryStatus, tuple[DeliveryStatus, ...]] = {
    DeliveryStatus.sent: (DeliveryStatus.queued,),
    DeliveryStatus.delivered: (DeliveryStatus.queued, DeliveryStatus.sent),
    DeliveryStatus.read: (DeliveryStatus.queued, DeliveryStatus.sent, DeliveryStatus.delivered),
    DeliveryStatus.failed: (DeliveryStatus.queued, DeliveryStatus.sent),
}


def advances(current: DeliveryStatus, new: DeliveryStatus) -> bool:
    return current in ADVANCES_FROM.get(new, ())


# Provider codes for "outside the 24-hour customer service window" (Twilio, Meta, Sinch): the
# send was accepted but the customer's last message is too old; only a template may go out.
WINDOW_CLOSED_CODES = frozenset({"63016", "131047", "OUTSIDE_ALLOWED_SENDING_WINDOW"})
WINDOW_CLOSED_TEXT = "outside the 24-hour customer service window: only a template may be sent"


def failure_text(code: str | None, text: str | None) -> str | None:
    """The text stored with a failure: the provider's, led by the reason when it is the window."""
    if code in WINDOW_CLOSED_CODES:
        return f"{WINDOW_CLOSED_TEXT} ({text})" if text else WINDOW_CLOSED_TEXT
    return text
