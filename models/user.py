from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, enum_column


class Role(StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    agent = "agent"


class UserStatus(StrEnum):
    online = "online"
    paused = "paused"
    offline = "offline"


class Pause(Base, Timestamps):
    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class User(Base, Timestamps):
    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_username_lower", text("lower(username)"), unique=True),
        CheckConstraint("whatsapp_capacity >= 0", name="capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(enum_column(Role))
    whatsapp_capacity: Mapped[int] = mapped_column(default=5)
    status: Mapped[UserStatus] = mapped_column(enum_column(UserStatus), default=UserStatus.offline)
    pause_id: Mapped[int | None] = mapped_column(ForeignKey("pauses.id", ondelete="RESTRICT"))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When the agent last got an interaction (the `leastrecent` strategy offers the oldest first).
    last_interaction_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The status to restore when a mandatory disposition is given (the pause it forced ends).
    status_before_disposition: Mapped[str | None] = mapped_column(String(20))
    # Every token carries the version it was issued under; bumping it (password or role change)
    # revokes them all.
    token_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class StreamTicket(Base):
    """A single-use ticket that opens one event stream (EventSource cannot send headers, and a
    bearer token in a URL ends up in access logs). Only a digest of the ticket is stored."""

    __tablename__ = "stream_tickets"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_version: Mapped[int]
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LoginFailure(Base):
    """Login attempts not (yet) proven good, per key (`user:<name>` or `address:<ip>`) in a
    fixed window, kept in PostgreSQL so the limit holds across every API process (api.auth)."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int]
    window_started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
