"""saved searches per user; indexes for the interactions list's filters

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTERACTION_INDEXES = ("queue_id", "disposition_id", "started_at", "closed_at", "last_inbound_at")


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("query", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_saved_searches_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )
    op.create_index(
        "uq_saved_searches_user_name_lower",
        "saved_searches",
        ["user_id", sa.text("lower(name)")],
        unique=True,
    )
    for column in INTERACTION_INDEXES:
        op.create_index(f"ix_interactions_{column}", "interactions", [column])
    op.create_index("ix_interactions_tags", "interactions", ["tags"], postgresql_using="gin")
    op.create_index(
        "ix_messages_sender",
        "messages",
        ["sender_id", "interaction_id"],
        postgresql_where=sa.text("sender_id IS NOT NULL"),
    )
    op.create_index(
        "ix_offers_agent_accepted",
        "offers",
        ["agent_id", "interaction_id"],
        postgresql_where=sa.text("status = 'accepted'"),
    )


def downgrade() -> None:
    op.drop_index("ix_offers_agent_accepted", table_name="offers")
    op.drop_index("ix_messages_sender", table_name="messages")
    op.drop_index("ix_interactions_tags", table_name="interactions")
    for column in INTERACTION_INDEXES:
        op.drop_index(f"ix_interactions_{column}", table_name="interactions")
    op.drop_index("uq_saved_searches_user_name_lower", table_name="saved_searches")
    op.drop_table("saved_searches")
