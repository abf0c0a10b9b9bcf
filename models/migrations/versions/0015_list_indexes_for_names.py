"""the interactions list at scale: a contact's and an account's interactions in the list's order

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:00:00

From EXPLAIN (ANALYZE, BUFFERS) of stack/bench_list.py: `q` with a name fragment shared by many
contacts (14,000 contacts, 71,000 interactions) fetched every matching interaction's row to sort
them all for one page. The list now orders and pages ids alone (api.interactions.service
.matching_ids); with (contact_id, last_message_at DESC NULLS LAST, id DESC) INCLUDE (account_id)
that sort reads this index only, an agent's account check included. It replaces the plain
contact_id index, whose work its leading column does.

An agent's filter on a tag that no interaction of its account has walked the whole list's order
(1,000,000 rows, 0 kept): the planner takes tags and accounts for independent. With the agent's
accounts as constants (api.interactions.service.visible_accounts), (account_id, last_message_at
DESC NULLS LAST, id DESC) INCLUDE (tags) walks that account's interactions alone, tags read
from the index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_interactions_contact_last_message"
        " ON interactions (contact_id, last_message_at DESC NULLS LAST, id DESC) INCLUDE (account_id)"
    )
    op.drop_index("ix_interactions_contact_id", table_name="interactions")
    op.execute(
        "CREATE INDEX ix_interactions_account_last_message"
        " ON interactions (account_id, last_message_at DESC NULLS LAST, id DESC) INCLUDE (tags)"
    )


def downgrade() -> None:
    op.drop_index("ix_interactions_account_last_message", table_name="interactions")
    op.create_index("ix_interactions_contact_id", "interactions", ["contact_id"])
    op.drop_index("ix_interactions_contact_last_message", table_name="interactions")
