"""the inbound relay finds unsignalled messages by index; activity writes carry an idempotency key

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_awaiting_relay",
        "messages",
        ["id"],
        postgresql_where=sa.text("signalled_at IS NULL AND direction = 'in'"),
    )
    for table in ("messages", "interaction_events"):
        op.add_column(table, sa.Column("activity_key", sa.String(length=200), nullable=True))
        op.create_unique_constraint(op.f(f"uq_{table}_activity_key"), table, ["activity_key"])


def downgrade() -> None:
    for table in ("messages", "interaction_events"):
        op.drop_constraint(op.f(f"uq_{table}_activity_key"), table, type_="unique")
        op.drop_column(table, "activity_key")
    op.drop_index("ix_messages_awaiting_relay", table_name="messages")
