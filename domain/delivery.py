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
