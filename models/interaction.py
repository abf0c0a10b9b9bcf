"""Interactions (one conversation of a contact on an account) and their messages.

At most one interaction per (account, contact) is not closed: a partial unique index makes two
racing first messages land in the same interaction. A message's provider id is unique per account,
so a webhook delivered many times stores one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from models.base import Base, enum_column
from models.search import trigrams


class InteractionStatus(StrEnum):
    open = "open"
    open_pending = "open-pending"  # open, waiting for an agent to accept it
    closed = "closed"


class Direction(StrEnum):
    inbound = "in"
    outbound = "out"
    internal = "internal"  # an agent's note in the thread: never sent, has no delivery status


class MessageType(StrEnum):
    text = "text"
    image = "image"
    video = "video"
    audio = "audio"
    document = "document"
    sticker = "sticker"
    location = "location"
    contacts = "contacts"
    interactive = "interactive"
    button = "button"
    reaction = "reaction"
    template = "template"
    unsupported = "unsupported"


MEDIA_TYPES = frozenset(
    {MessageType.image, MessageType.video, MessageType.audio, MessageType.document, MessageType.sticker}
)


class DeliveryStatus(StrEnum):
    received = "received"  # inbound
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"


# An interaction is active until closed. The partial unique index below and the ingestion's
# ON CONFLICT arbiter must spell the predicate alike, as a literal: with a bound parameter
# PostgreSQL cannot match ON CONFLICT to the index once psycopg prepares the statement.
ACTIVE_PREDICATE = text("status <> 'closed'")


class Interaction(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        Index(
            "uq_interactions_one_active_per_contact",
            "account_id",
            "contact_id",
            unique=True,
            postgresql_where=ACTIVE_PREDICATE,
        ),
        Index("ix_interactions_account_status", "account_id", "status"),
        # The list's default order, and an agent's own list in that order
        Index("ix_interactions_last_message_order", text("last_message_at DESC NULLS LAST"), text("id DESC")),
        Index(
            "ix_interactions_owner_last_message",
            "owner_id",
            text("last_message_at DESC NULLS LAST"),
            text("id DESC"),
        ),
        # An account's interactions in the list's order, with their tags: an agent's list (one
        # account) and its tag filter read this index alone, even when no row matches
        Index(
            "ix_interactions_account_last_message",
            "account_id",
            text("last_message_at DESC NULLS LAST"),
            text("id DESC"),
            postgresql_include=["tags"],
        ),
        # A contact's interactions in the list's order, with their account: `q` sorts the matches
        # of a name shared by many contacts from this index alone (migration 0015)
        Index(
            "ix_interactions_contact_last_message",
            "contact_id",
            text("last_message_at DESC NULLS LAST"),
            text("id DESC"),
            postgresql_include=["account_id"],
        ),
        # The list's filters (api.interactions.service.filtered)
        Index("ix_interactions_queue_id", "queue_id"),
        Index("ix_interactions_disposition_id", "disposition_id"),
        Index("ix_interactions_started_at", "started_at"),
        Index("ix_interactions_closed_at", "closed_at"),
        Index("ix_interactions_last_inbound_at", "last_inbound_at"),
        Index("ix_interactions_tags", "tags", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="RESTRICT"))
    status: Mapped[InteractionStatus] = mapped_column(
        enum_column(InteractionStatus),
        default=InteractionStatus.open,
    )
    read: Mapped[bool] = mapped_column(default=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    disposition_id: Mapped[int | None] = mapped_column(ForeignKey("dispositions.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_message: Mapped[str] = mapped_column(String(200), default="")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def show_last(self, text: str) -> None:
        """What the interactions list previews: the latest message, and when."""
        self.last_message = text[:200]
        self.last_message_at = datetime.now(UTC)

    def queued_message(
        self, kind: MessageType, text: str, origin: str, sender_id: int | None = None
    ) -> Message:
        """A new outbound message of this interaction, queued for the workflow to send."""
        return Message(
            account_id=self.account_id,
            interaction_id=self.id,
            direction=Direction.outbound,
            type=kind,
            text=text,
            payload={"origin": origin},
            status=DeliveryStatus.queued,
            sender_id=sender_id,
        )


ACTIVE = Interaction.status != InteractionStatus.closed


def open_count(owner: ColumnElement[int] | InstrumentedAttribute[int] | int) -> Select[int]:
    """How many active interactions `owner` (an agent id, or a users.id column) holds."""
    return select(func.count()).where(Interaction.owner_id == owner, ACTIVE)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("account_id", "provider_message_id", name="uq_messages_account_provider_id"),
        Index("ix_messages_interaction_id", "interaction_id", "id"),
        # Who wrote in an interaction (the list's `participant` filter)
        Index(
            "ix_messages_sender",
            "sender_id",
            "interaction_id",
            postgresql_where=text("sender_id IS NOT NULL"),
        ),
        # The advanced search's "an inbound message's text contains" (models.search)
        Index(
            "ix_messages_inbound_text_trigrams",
            trigrams(text("text")),
            postgresql_using="gin",
            postgresql_where=text("direction = 'in'"),
        ),
        Index(
            "ix_messages_awaiting_relay",
            "id",
            postgresql_where=text("signalled_at IS NULL AND direction = 'in'"),
        ),
        CheckConstraint("(direction = 'internal') = (status IS NULL)", name="notes_have_no_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    type: Mapped[MessageType] = mapped_column(enum_column(MessageType))
    text: Mapped[str] = mapped_column(Text, default="")
    # Media: the provider's reference (url or id, mime type, file name, caption) and, once fetched,
    # where the bytes are in Shareline's media store.
    media: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[DeliveryStatus | None] = mapped_column(enum_column(DeliveryStatus))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_text: Mapped[str | None] = mapped_column(Text)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # provider's timestamp
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Inbound: set once the inbound relay has handed the message to its workflow (relay.inbound).
    signalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Written by an activity: its run and activity id, so a retried attempt finds its own row.
    activity_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # Outbound: provider calls begun (committed before each call) and the last retryable failure,
    # so a send retried after an answer that never came shows as attempts > 1.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookNonce(Base):
    """Signature nonces already seen (Sinch), so a captured request cannot be replayed."""

    __tablename__ = "webhook_nonces"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class PendingStatus(Base):
    """A status callback for an outbound message whose provider id is not stored yet (the callback
    outran the send's reply). The send applies it once it records the id; stale ones are pruned."""

    __tablename__ = "pending_statuses"
    __table_args__ = (Index("ix_pending_statuses_account_message", "account_id", "provider_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    provider_message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_text: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class RejectedWebhookItem(Base):
    """One element of a webhook batch that could not be read (a message without an id, a status
    of the wrong shape), kept with its raw JSON while the rest of the batch is stored and the
    provider is answered 200: refused, the whole batch would come back on every retry."""

    __tablename__ = "rejected_webhook_items"
    __table_args__ = (Index("ix_rejected_webhook_items_account_received", "account_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)  # where in the body, and why
    raw: Mapped[Any] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


async def change_tags(
    session: AsyncSession, interaction_id: int, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> list[str] | None:
    """The one tag store: plan `tag` steps and agents both change tags here (row locked, order
    kept, no duplicates). Returns the new tags, or None if the interaction is gone."""
    interaction = await session.get(Interaction, interaction_id, with_for_update=True, populate_existing=True)
    if interaction is None:
        return None
    dropped = set(remove)
    interaction.tags = [tag for tag in dict.fromkeys([*interaction.tags, *add]) if tag not in dropped]
    return interaction.tags
