"""internal notes are messages of direction `internal`, with no delivery status

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_messages_direction"), "messages", type_="check")
    op.create_check_constraint(
        op.f("ck_messages_direction"), "messages", "direction IN ('in', 'out', 'internal')"
    )
    op.alter_column("messages", "status", existing_type=sa.String(length=20), nullable=True)
    op.create_check_constraint(
        op.f("ck_messages_notes_have_no_status"), "messages", "(direction = 'internal') = (status IS NULL)"
    )


def downgrade() -> None:
    op.execute("DELETE FROM messages WHERE direction = 'internal'")
    op.drop_constraint(op.f("ck_messages_notes_have_no_status"), "messages", type_="check")
    op.alter_column("messages", "status", existing_type=sa.String(length=20), nullable=False)
    op.drop_constraint(op.f("ck_messages_direction"), "messages", type_="check")
    op.create_check_constraint(op.f("ck_messages_direction"), "messages", "direction IN ('in', 'out')")
