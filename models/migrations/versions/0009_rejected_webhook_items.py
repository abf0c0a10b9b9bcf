"""the unreadable elements of webhook batches are kept with their raw JSON

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejected_webhook_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_rejected_webhook_items_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_webhook_items")),
    )
    op.create_index(
        "ix_rejected_webhook_items_account_received",
        "rejected_webhook_items",
        ["account_id", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_rejected_webhook_items_received_at"), "rejected_webhook_items", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rejected_webhook_items_received_at"), table_name="rejected_webhook_items")
    op.drop_index("ix_rejected_webhook_items_account_received", table_name="rejected_webhook_items")
    op.drop_table("rejected_webhook_items")
