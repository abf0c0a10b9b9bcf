"""What outlives what it records: the audit trail of destructive actions, and the media files a
committed delete still has to remove from disk.

`audit_records` has no foreign keys on purpose: a record names the actor, the interaction, its
account and contact by id *and* by value, so it still reads right once those rows are gone.

`file_removals` is the delete's promise to the disk. The delete inserts one row per stored file in
the same transaction that deletes the messages pointing at them, and removes the files only after
that commit (`api.interactions.delete.sweep_file_removals`), each row deleted once its file is
gone. A process that dies between commit and unlink leaves the rows, which the next sweep
retries: never a file whose rows are gone unrecorded (an orphan), never a message whose file was
unlinked by a delete that rolled back (a dangling path)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class AuditRecord(Base):
    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    action: Mapped[str] = mapped_column(String(50))  # e.g. "interaction.delete"
    actor_id: Mapped[int | None] = mapped_column(index=True)  # no foreign key: outlives the user
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    target_id: Mapped[int | None]  # the interaction's id (its row is gone)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class FileRemoval(Base):
    __tablename__ = "file_removals"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text)  # relative to settings.media_dir, as messages held it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
