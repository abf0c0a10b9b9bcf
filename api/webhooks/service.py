"""Storing what a webhook carries, exactly once, in the request's one transaction.

Inbound messages: the contact is found by mobile (or created in the account's default list), the
contact's active interaction is found or created (a partial unique index settles races), and the
message is inserted unless its provider id is already stored. Status callbacks only move a
message's status forward: one UPDATE when the message is known, else parked under the provider
id's lock until the send records it. None of this touches Temporal: the inbound relay does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Update, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from api.webhooks.accounts import WebhookAccount
from domain.delivery import ADVANCES_FROM, STATUS_SEEN, failure_text, lock_provider_id, tell_owners
from models import (
    MEDIA_TYPES,
    Contact,
    DeliveryStatus,
    Direction,
    Interaction,
    InteractionStatus,
    Message,
    MessageType,
    PendingStatus,
    WebhookNonce,
)
from models.events import relay_wakeup
from models.interaction import ACTIVE, ACTIVE_PREDICATE, RejectedWebhookItem
from providers.base import InboundMessage, RejectedItem, StatusUpdate

PREVIEW_LENGTH = 200
NONCE_LIFETIME = timedelta(minutes=15)
PENDING_STATUS_LIFETIME = timedelta(days=1)
REJECTED_ITEM_LIFETIME = timedelta(days=30)


async def store_inbound(session: AsyncSession, account: WebhookAccount, inbound: InboundMessage) -> None:
    """Store the message unless its provider id is stored already. The inbound
    relay (relay.inbound), woken by this statement's NOTIFY, hands it to its workflow once the
    transaction commits. A known contact with an active interaction costs two statements: one
    lookup, one write."""
    contact_id, interaction_id, stored = (
        await session.execute(
            select(
                select(Contact.id).where(_contact_is(account, inbound)).scalar_subquery(),
                select(Interaction.id)
                .join(Contact, Contact.id == Interaction.contact_id)
                .where(_contact_is(account, inbound), Interaction.account_id == account.id, ACTIVE)
                .scalar_subquery(),
                exists().where(
                    Message.account_id == account.id,
                    Message.provider_message_id == inbound.provider_message_id,
                ),
            )
        )
    ).one()
    if stored:
        return
    if interaction_id is None:
        contact_id = contact_id if contact_id is not None else await _contact_for(session, account, inbound)
        interaction_id = await active_interaction(session, account.id, contact_id)
    media = None
    if inbound.media is not None and inbound.type in MEDIA_TYPES:
        media = {
            "reference": inbound.media.reference,
            "mime_type": inbound.media.mime_type,
            "filename": inbound.media.filename,
            "caption": inbound.media.caption,
            "sha256_declared": inbound.media.sha256,
            "status": "pending",
        }
    inserted = (
        insert(Message)
        .values(
            account_id=account.id,
            interaction_id=interaction_id,
            direction=Direction.inbound,
            type=inbound.type,
            text=inbound.text,
            media=media,
            payload=inbound.payload,
            provider_message_id=inbound.provider_message_id,
            status=DeliveryStatus.received,
            sent_at=inbound.sent_at,
        )
        .on_conflict_do_nothing(constraint="uq_messages_account_provider_id")
        .returning(Message.id)
        .cte("inserted")
    )
    # The interaction shows the message, and the relay is woken, only if it was inserted (a
    # concurrent delivery of the same message may have won the insert).
    shown = (
        _shows_inbound(interaction_id, inbound.sent_at, preview(inbound.text, inbound.type))
        .where(exists(select(inserted.c.id)))
        .add_cte(inserted)
        .returning(Interaction.id, relay_wakeup())
        .execution_options(synchronize_session=False)  # no ORM objects of it in this session
    )
    await session.execute(shown)


def _contact_is(account: WebhookAccount, inbound: InboundMessage) -> ColumnElement[bool]:
    return (Contact.list_id == account.list_id) & (Contact.mobile == inbound.mobile)


def _shows_inbound(interaction_id: int, sent_at: datetime | None, shown: str) -> Update:
    """The interaction shows the customer's latest message (`shown`), unread, and when the
    customer wrote it (`sent_at`, the provider's time, where the wire format carries one)."""
    now = datetime.now(UTC)
    return (
        update(Interaction)
        .where(Interaction.id == interaction_id)
        .values(
            read=False,
            last_message_at=now,
            # The window runs from when the customer wrote (never from a provider clock ahead of
            # ours), and a late-arriving older message never moves it back.
            last_inbound_at=func.greatest(Interaction.last_inbound_at, min(sent_at or now, now)),
            last_message=shown,
        )
    )


async def note_inbound(
    session: AsyncSession, interaction_id: int, sent_at: datetime | None, shown: str
) -> None:
    """The interaction shows a message moved into it (relay.inbound) as the latest."""
    await session.execute(_shows_inbound(interaction_id, sent_at, shown))


async def apply_statuses(session: AsyncSession, account_id: int, statuses: list[StatusUpdate]) -> None:
    """Advance each message its callback names. Those no message matched (the send may still be
    recording the id) are looked for again under the id's lock, in one order, so two webhooks
    carrying the same ids never wait for each other's locks."""
    missed = []
    for received in statuses:
        status = replace(received, error_text=failure_text(received.error_code, received.error_text))
        if not await _advance(session, account_id, status):
            missed.append(status)
    for status in sorted(missed, key=lambda status: status.provider_message_id):
        await _keep_for_later(session, account_id, status)


async def _advance(session: AsyncSession, account_id: int, status: StatusUpdate) -> bool:
    """Move the outbound message with this provider id forward to `status`; False if none moved."""
    moved = (
        await session.execute(
            update(Message)
            .where(
                Message.account_id == account_id,
                Message.provider_message_id == status.provider_message_id,
                Message.direction == Direction.outbound,
                Message.status.in_(ADVANCES_FROM[status.status]),
            )
            .values(
                status=status.status,
                error_code=status.error_code,
                error_text=status.error_text,
                status_at=func.now(),
            )
            .returning(*STATUS_SEEN)
            .execution_options(synchronize_session=False)
        )
    ).all()
    await tell_owners(session, moved)  # the owner's desk updates the tick once this commits
    return bool(moved)


async def _keep_for_later(session: AsyncSession, account_id: int, status: StatusUpdate) -> None:
    """A callback for an id no outbound message had: the send may still be recording it. Under the
    id's lock the send has either committed the id (found now) or will read what is parked here."""
    await lock_provider_id(session, account_id, status.provider_message_id)
    if await _advance(session, account_id, status):
        return
    known = await session.scalar(
        select(Message.id).where(
            Message.account_id == account_id, Message.provider_message_id == status.provider_message_id
        )
    )
    if known is not None:
        return  # the message exists and the status would move it backwards: ignore
    stale = (
        select(PendingStatus.id)
        .where(PendingStatus.received_at < func.now() - PENDING_STATUS_LIFETIME)
        .with_for_update(skip_locked=True)  # another callback pruning them: never wait for it
    )
    await session.execute(delete(PendingStatus).where(PendingStatus.id.in_(stale.scalar_subquery())))
    session.add(
        PendingStatus(
            account_id=account_id,
            provider_message_id=status.provider_message_id,
            status=status.status,
            error_code=status.error_code,
            error_text=status.error_text,
        )
    )


async def record_nonce(session: AsyncSession, account_id: int, nonce: str) -> bool:
    """False if this nonce was seen already (a replayed request)."""
    await session.execute(delete(WebhookNonce).where(WebhookNonce.seen_at < func.now() - NONCE_LIFETIME))
    inserted = await session.scalar(
        insert(WebhookNonce)
        .values(account_id=account_id, nonce=nonce)
        .on_conflict_do_nothing()
        .returning(WebhookNonce.nonce)
    )
    return inserted is not None


async def record_rejected(session: AsyncSession, account: WebhookAccount, items: list[RejectedItem]) -> None:
    """Keep the unreadable elements of a batch, raw, for an operator to look at; those older than
    REJECTED_ITEM_LIFETIME go (rows another webhook is pruning are skipped, never waited for)."""
    if not items:
        return
    stale = (
        select(RejectedWebhookItem.id)
        .where(RejectedWebhookItem.received_at < func.now() - REJECTED_ITEM_LIFETIME)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        delete(RejectedWebhookItem).where(RejectedWebhookItem.id.in_(stale.scalar_subquery()))
    )
    await session.execute(
        insert(RejectedWebhookItem),
        [
            {"account_id": account.id, "provider": account.type.value, "reason": item.reason, "raw": item.raw}
            for item in items
        ],
    )


async def _contact_for(session: AsyncSession, account: WebhookAccount, inbound: InboundMessage) -> int:
    """The contact with this mobile in the account's default list, else a new one there (as
    XCALLY's "List: the default List where the new WhatsApp contacts will be saved"). Only that
    list: a contact curated in another account's list is never shown to this account's agents."""
    found = await session.scalar(
        select(Contact.id).where(Contact.list_id == account.list_id, Contact.mobile == inbound.mobile)
    )
    if found is not None:
        return found
    created = await session.scalar(
        insert(Contact)
        .values(
            list_id=account.list_id,
            mobile=inbound.mobile,
            first_name=inbound.profile_name[:200],
            last_name="",
        )
        .on_conflict_do_nothing(constraint="uq_contacts_list_mobile")
        .returning(Contact.id)
    )
    return created if created is not None else await _contact_for(session, account, inbound)


def interaction_upsert(account_id: int, contact_id: int) -> ReturningInsert[int]:
    """Insert the contact's active interaction unless one exists (returns no row then)."""
    return (
        insert(Interaction)
        .values(
            account_id=account_id,
            contact_id=contact_id,
            status=InteractionStatus.open_pending,
            read=False,
            tags=[],
        )
        .on_conflict_do_nothing(index_elements=["account_id", "contact_id"], index_where=ACTIVE_PREDICATE)
        .returning(Interaction.id)
    )


async def active_interaction(session: AsyncSession, account_id: int, contact_id: int) -> int:
    """The contact's active interaction on the account, created if it has none."""
    found = await session.scalar(
        select(Interaction.id).where(
            Interaction.account_id == account_id, Interaction.contact_id == contact_id, ACTIVE
        )
    )
    if found is not None:
        return found
    created = await session.scalar(interaction_upsert(account_id, contact_id))
    return created if created is not None else await active_interaction(session, account_id, contact_id)


def preview(text: str, kind: MessageType) -> str:
    """How a message shows in the interactions list: its text, or its type."""
    return (text or f"[{kind.value}]")[:PREVIEW_LENGTH]
