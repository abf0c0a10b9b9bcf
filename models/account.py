"""WhatsApp accounts and what hangs off them: agents, canned answers, dispositions, the action plan.

Secrets (provider tokens, the video and assistant API keys) never sit in a plain column: they are
one Fernet-encrypted JSON object in `encrypted_secrets`, read and written through `models.secrets`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, enum_column

TIMEOUT_RANGE = "BETWEEN 1 AND 2147483"


class ProviderType(StrEnum):
    twilio = "twilio"
    sinch_v2 = "sinch_v2"
    meta = "meta"
    kaleyra = "kaleyra"


class Application(StrEnum):
    agent = "agent"
    queue = "queue"
    autoreply = "autoreply"
    close = "close"
    gotoif = "gotoif"
    gotop = "gotop"
    noop = "noop"
    tag = "tag"


class Account(Base, Timestamps):
    __tablename__ = "accounts"
    __table_args__ = (
        Index("uq_accounts_key_lower", text("lower(key)"), unique=True),
        CheckConstraint(f"wait_assigned_agent {TIMEOUT_RANGE}", name="wait_assigned_agent"),
        CheckConstraint(f"wait_assigned_queue {TIMEOUT_RANGE}", name="wait_assigned_queue"),
        CheckConstraint(f"transfer_agent_timeout {TIMEOUT_RANGE}", name="transfer_agent_timeout"),
        CheckConstraint(f"transfer_queue_timeout {TIMEOUT_RANGE}", name="transfer_queue_timeout"),
        CheckConstraint("service_level_seconds BETWEEN 1 AND 86400", name="service_level_seconds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(5))
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="RESTRICT"), index=True)
    motion_domain: Mapped[str] = mapped_column(String(500))
    type: Mapped[ProviderType] = mapped_column(enum_column(ProviderType))
    phone: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(1000), default="")
    credentials: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    encrypted_secrets: Mapped[bytes] = mapped_column(LargeBinary)
    proxy_token: Mapped[str] = mapped_column(String(64), unique=True)
    # After a rotation the replaced token keeps working until it expires, so the operator has
    # time to update the provider's console.
    previous_proxy_token: Mapped[str | None] = mapped_column(String(64))
    previous_proxy_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    wait_assigned_agent: Mapped[int] = mapped_column(default=10)
    wait_assigned_queue: Mapped[int] = mapped_column(default=10)

    notification_sound: Mapped[bool] = mapped_column(default=True)
    notification_shake: Mapped[bool] = mapped_column(default=False)
    notification_template: Mapped[str] = mapped_column(Text)

    transfer_agent_enabled: Mapped[bool] = mapped_column(default=False)
    transfer_agent_timeout: Mapped[int] = mapped_column(default=10)
    transfer_queue_enabled: Mapped[bool] = mapped_column(default=False)
    transfer_queue_timeout: Mapped[int] = mapped_column(default=10)

    mandatory_disposition: Mapped[bool] = mapped_column(default=False)
    disposition_pause_id: Mapped[int | None] = mapped_column(ForeignKey("pauses.id", ondelete="RESTRICT"))

    # An interaction accepted within this many seconds of its start meets the service level
    # (api.supervisor.measures).
    service_level_seconds: Mapped[int] = mapped_column(default=60, server_default=text("60"))

    recontact_template: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    assistant: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)

    video_enabled: Mapped[bool] = mapped_column(default=False)
    video_topic: Mapped[str | None] = mapped_column(String(200), unique=True)
    video_note: Mapped[str] = mapped_column(String(1000), default="")
    video_metadata: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)

    @property
    def receive_url(self) -> str:
        """The URL to paste into the provider's console; every webhook of the account comes here."""
        return self.receive_url_with(self.proxy_token)

    def receive_url_with(self, token: str) -> str:
        return receive_url(self.motion_domain, self.id, token)


def receive_url(motion_domain: str, account_id: int, token: str) -> str:
    """An account's Receive URL as called with `token` (the current proxy token, or during a
    rotation's overlap the previous one)."""
    return f"{motion_domain}/api/whatsapp/accounts/{account_id}/notify?token={token}"


class AccountAgent(Base):
    __tablename__ = "account_agents"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CannedAnswer(Base, Timestamps):
    __tablename__ = "canned_answers"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_canned_answers_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(Text)


class Disposition(Base, Timestamps):
    __tablename__ = "dispositions"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 3", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(default=1)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("dispositions.id", ondelete="RESTRICT"))


class Action(Base):
    """One step of an account's ordered action plan.

    `params` keeps the application's parameters as the admin wrote them; the ids they name are
    copied into real foreign keys so that nothing a plan points at can be deleted from under it.
    """

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("account_id", "position", name="uq_actions_account_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    position: Mapped[int]
    application: Mapped[Application] = mapped_column(enum_column(Application))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    interval_id: Mapped[int | None] = mapped_column(
        ForeignKey("intervals.id", ondelete="RESTRICT"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="RESTRICT"), index=True)
    disposition_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispositions.id", ondelete="RESTRICT"), index=True
    )
    condition_interval_id: Mapped[int | None] = mapped_column(
        ForeignKey("intervals.id", ondelete="RESTRICT"), index=True
    )
