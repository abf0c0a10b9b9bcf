"""spy: what happens to an interaction is notified to the API processes as it commits

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 19:40:00

Every new message (inbound, outbound, note, or one moved in from a closed interaction), delivery
status change, timeline event, offer and offer outcome, and change of an interaction's status,
owner, queue or disposition NOTIFYs on the agent events channel (models.events.CHANNEL) with the
interaction's id and no agent id; the API's event hub hands it to the interaction's spy streams
(GET /api/whatsapp/interactions/{id}/events). Triggers, so that no writer (API, activity, relay)
can forget one. A payload over models.events.MAX_PAYLOAD keeps only its ids and `truncated`.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION shareline_spy_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    name text;
    data jsonb;
    payload text;
BEGIN
    IF TG_TABLE_NAME = 'messages' THEN
        IF TG_OP = 'INSERT' THEN
            name := 'message';
        ELSIF OLD.interaction_id <> NEW.interaction_id THEN
            name := 'message';  -- moved in from a closed interaction
        ELSE
            name := 'message_status';
        END IF;
        IF name = 'message' THEN  -- what GET .../messages shows of it
            data := to_jsonb(NEW) - '{account_id,signalled_at,activity_key,attempts,last_error}'::text[];
        ELSE
            data := jsonb_build_object('interaction_id', NEW.interaction_id, 'message_id', NEW.id,
                'status', NEW.status, 'error_code', NEW.error_code, 'error_text', NEW.error_text,
                'status_at', NEW.status_at);
        END IF;
    ELSIF TG_TABLE_NAME = 'interaction_events' THEN
        name := 'timeline';
        data := to_jsonb(NEW) - 'activity_key';
    ELSIF TG_TABLE_NAME = 'offers' THEN
        name := CASE TG_OP WHEN 'INSERT' THEN 'offer' ELSE 'offer_resolved' END;
        data := jsonb_build_object('interaction_id', NEW.interaction_id, 'offer_id', NEW.id,
            'agent_id', NEW.agent_id, 'queue_id', NEW.queue_id, 'kind', NEW.kind, 'status', NEW.status,
            'offered_at', NEW.offered_at, 'expires_at', NEW.expires_at, 'resolved_at', NEW.resolved_at);
    ELSIF TG_OP = 'DELETE' THEN
        name := 'deleted';
        data := jsonb_build_object('interaction_id', OLD.id);
    ELSE
        name := 'interaction';
        data := jsonb_build_object('interaction_id', NEW.id, 'status', NEW.status, 'owner_id', NEW.owner_id,
            'queue_id', NEW.queue_id, 'disposition_id', NEW.disposition_id, 'closed_at', NEW.closed_at);
    END IF;
    payload := jsonb_build_object('interaction_id', data->'interaction_id', 'event', name, 'data', data)::text;
    IF octet_length(payload) > 7900 THEN  -- PostgreSQL refuses 8000 bytes: the ids, to read it back
        data := jsonb_strip_nulls(jsonb_build_object('interaction_id', data->'interaction_id',
            'id', data->'id', 'message_id', data->'message_id', 'truncated', true));
        payload := jsonb_build_object('interaction_id', data->'interaction_id', 'event', name, 'data', data)::text;
    END IF;
    PERFORM pg_notify('shareline_agent_events', payload);
    RETURN NULL;
END
$$
"""

# name, event, table, condition
TRIGGERS = [
    ("spy_message", "INSERT", "messages", None),
    (
        "spy_message_update",
        "UPDATE",
        "messages",
        "(OLD.status, OLD.interaction_id) IS DISTINCT FROM (NEW.status, NEW.interaction_id)",
    ),
    ("spy_timeline", "INSERT", "interaction_events", None),
    ("spy_offer", "INSERT", "offers", None),
    ("spy_offer_update", "UPDATE", "offers", "OLD.status IS DISTINCT FROM NEW.status"),
    (
        "spy_interaction",
        "UPDATE",
        "interactions",
        "(OLD.status, OLD.owner_id, OLD.queue_id, OLD.disposition_id) IS DISTINCT FROM "
        "(NEW.status, NEW.owner_id, NEW.queue_id, NEW.disposition_id)",
    ),
    ("spy_interaction_delete", "DELETE", "interactions", None),
]


def upgrade() -> None:
    op.execute(FUNCTION)
    for name, event, table, condition in TRIGGERS:
        when = f" WHEN ({condition})" if condition else ""
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} "
            "EXECUTE FUNCTION shareline_spy_notify()"
        )


def downgrade() -> None:
    for name, _, table, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION shareline_spy_notify()")
