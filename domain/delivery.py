"""Delivery status only moves forward: callbacks arrive out of order and more than once.

A status callback may also outrun the send's answer: it names a provider id no message has yet.
The callback then parks it (PendingStatus) and the send applies it when it records the id. Both
take `lock_provider_id` first, so one always sees the other's committed work: the send writes the
id and reads parked rows under the lock; the callback looks for the id again under it before
parking. Without the lock a callback could miss the id, the send find nothing parked, and the
callback's parked row then commit, never to be applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.redact import redact
from models.events import notify_agents
from models.interaction import DeliveryStatus, Interaction, Message, PendingStatus

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


def failure_text(code: str | None, text: str | None, secrets: Iterable[str | None] = ()) -> str | None:
    """The text stored with a failure, which agents read: the provider's, bounded and redacted
    (`domain.redact`), led by the reason when it is the window."""
    if code in WINDOW_CLOSED_CODES:
        return redact(f"{WINDOW_CLOSED_TEXT} ({text})", secrets) if text else WINDOW_CLOSED_TEXT
    return redact(text, secrets) if text else text


async def lock_provider_id(session: AsyncSession, account_id: int, provider_message_id: str) -> None:
    """Serialize, until this transaction ends, with whoever records or parks this provider id."""
    digest = hashlib.blake2b(f"{account_id}:{provider_message_id}".encode(), digest_size=8).digest()
    await session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))


async def record_provider_id(session: AsyncSession, message: Message, provider_id: str) -> None:
    """The send was accepted: store the provider's id (status sent) and apply the statuses that
    arrived before it. The caller commits; the lock is held until then."""
    await lock_provider_id(session, message.account_id, provider_id)
    message.provider_message_id = provider_id
    message.status = DeliveryStatus.sent
    message.status_at = datetime.now(UTC)
    # SKIP LOCKED: a row locked by someone else is a stale one being pruned, not worth a wait.
    early = (
        await session.scalars(
            select(PendingStatus)
            .where(
                PendingStatus.account_id == message.account_id,
                PendingStatus.provider_message_id == provider_id,
            )
            .order_by(PendingStatus.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for pending in early:
        if advances(message.status, pending.status):
            message.status = pending.status
            message.error_code = pending.error_code
            message.error_text = pending.error_text
    if early:
        await session.execute(delete(PendingStatus).where(PendingStatus.id.in_([p.id for p in early])))
    await session.flush()
    await notify_status(session, [message.id])


# What a status change tells the owner's desk, read with the message: (id, interaction_id,
# status, error_code, error_text, owner_id); a status UPDATE can RETURNING it.
STATUS_SEEN = (
    Message.id,
    Message.interaction_id,
    Message.status,
    Message.error_code,
    Message.error_text,
    select(Interaction.owner_id).where(Interaction.id == Message.interaction_id).scalar_subquery(),
)


async def notify_status(session: AsyncSession, message_ids: Iterable[int]) -> None:
    """Tell each message's interaction owner its new status (`message_status`), in the caller's
    transaction: the desk updates the tick when, and only if, the change commits."""
    ids = list(message_ids)
    if ids:
        rows = await session.execute(select(*STATUS_SEEN).where(Message.id.in_(ids)).order_by(Message.id))
        await tell_owners(session, rows)


async def tell_owners(session: AsyncSession, changes: Iterable[tuple[Any, ...]]) -> None:
    """notify_status for rows of STATUS_SEEN already read (an UPDATE's RETURNING)."""
    for message_id, interaction_id, status, error_code, error_text, owner_id in changes:
        if owner_id is None:
            continue
        data: dict[str, object] = {"interaction_id": interaction_id, "message_id": message_id}
        data["status"] = status.value if status is not None else None
        if status is DeliveryStatus.failed:
            data |= {"error_code": error_code, "error_text": error_text}
        await notify_agents(session, [owner_id], "message_status", data)
