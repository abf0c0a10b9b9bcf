"""sessions can be revoked (users.token_version), event streams open with single-use tickets,
failed logins are counted, and an account's proxy token can be rotated with an overlap

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("accounts", sa.Column("previous_proxy_token", sa.String(length=64), nullable=True))
    op.add_column(
        "accounts", sa.Column("previous_proxy_token_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "stream_tickets",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_stream_tickets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_stream_tickets")),
    )
    op.create_index(op.f("ix_stream_tickets_user_id"), "stream_tickets", ["user_id"], unique=False)
    op.create_index(op.f("ix_stream_tickets_expires_at"), "stream_tickets", ["expires_at"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "window_started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )
    op.create_index(
        op.f("ix_login_failures_window_started_at"), "login_failures", ["window_started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_window_started_at"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_stream_tickets_expires_at"), table_name="stream_tickets")
    op.drop_index(op.f("ix_stream_tickets_user_id"), table_name="stream_tickets")
    op.drop_table("stream_tickets")
    op.drop_column("accounts", "previous_proxy_token_expires_at")
    op.drop_column("accounts", "previous_proxy_token")
    op.drop_column("users", "token_version")
