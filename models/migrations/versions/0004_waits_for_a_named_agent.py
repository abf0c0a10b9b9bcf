"""queue waits may wait for one named agent (an `agent` step) instead of a queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("queue_waits", sa.Column("agent_id", sa.Integer(), nullable=True))
    op.alter_column("queue_waits", "queue_id", existing_type=sa.Integer(), nullable=True)
    op.create_foreign_key(
        op.f("fk_queue_waits_agent_id_users"),
        "queue_waits",
        "users",
        ["agent_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index("ix_queue_waits_agent", "queue_waits", ["agent_id"])
    op.create_check_constraint(
        op.f("ck_queue_waits_waits_for_a_queue_or_an_agent"),
        "queue_waits",
        "num_nonnulls(queue_id, agent_id) = 1",
    )


def downgrade() -> None:
    op.execute("DELETE FROM queue_waits WHERE agent_id IS NOT NULL")
    op.drop_constraint(op.f("ck_queue_waits_waits_for_a_queue_or_an_agent"), "queue_waits", type_="check")
    op.drop_index("ix_queue_waits_agent", table_name="queue_waits")
    op.drop_constraint(op.f("fk_queue_waits_agent_id_users"), "queue_waits", type_="foreignkey")
    op.alter_column("queue_waits", "queue_id", existing_type=sa.Integer(), nullable=False)
    op.drop_column("queue_waits", "agent_id")
