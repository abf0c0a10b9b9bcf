"""accounts.service_level_seconds: the threshold of the supervisor's service level

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 07:30:00

An interaction accepted within this many seconds of its start meets the account's service level
(api.supervisor.measures). Existing accounts get the default, 60 seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("service_level_seconds", sa.Integer(), server_default=sa.text("60"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_accounts_service_level_seconds"), "accounts", "service_level_seconds BETWEEN 1 AND 86400"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_accounts_service_level_seconds"), "accounts", type_="check")
    op.drop_column("accounts", "service_level_seconds")
