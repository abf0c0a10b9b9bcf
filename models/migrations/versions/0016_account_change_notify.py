"""accounts: a change or delete is notified to the API processes as it commits

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:40:00

Every API process keeps the accounts its Receive URL serves, with their credentials opened
(api.webhooks.accounts), so a webhook costs no account read. An UPDATE or DELETE of an account
NOTIFYs `{"account": id}` on the agent events channel (models.events.CHANNEL); the event hub
hands it to that cache, which forgets the account. A trigger, so that no writer can forget it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION shareline_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shareline_agent_events', jsonb_build_object('account', OLD.id)::text);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER account_changed AFTER UPDATE OR DELETE ON accounts FOR EACH ROW "
        "EXECUTE FUNCTION shareline_account_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER account_changed ON accounts")
    op.execute("DROP FUNCTION shareline_account_changed()")
