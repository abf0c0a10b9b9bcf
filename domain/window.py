"""WhatsApp's customer service window: free-form messages (text, media) reach a customer only
within 24 hours of the customer's last message; after that only a template does. The window
counts from when the customer wrote by the provider's clock (`Interaction.last_inbound_at`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

SERVICE_WINDOW = timedelta(hours=24)


def window_closes_at(last_inbound_at: datetime | None) -> datetime | None:
    """When free-form messages stop being allowed; None if the customer never wrote."""
    return last_inbound_at + SERVICE_WINDOW if last_inbound_at is not None else None


def window_open(last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    closes = window_closes_at(last_inbound_at)
    return closes is not None and closes > (now or datetime.now(UTC))
