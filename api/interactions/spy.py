"""Spy: a supervisor follows one interaction live (`GET /api/whatsapp/interactions/{id}/events`).

The database's spy triggers (migration 0012) NOTIFY every new message, delivery status, timeline
event, offer and its outcome, and change of the interaction's status, owner, queue or disposition,
naming only the interaction; the hub (api.agents.events) hands them to this interaction's spy
streams on every API process. Nothing historical is sent: after `ready` (and after `resync`) the
client reads `GET .../messages` and `GET .../timeline`. Admins and supervisors only: an agent
follows its own interactions on `GET /api/agents/me/events`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api import sse
from api.agents.events import interaction_topic
from api.deps import ServicesDep, SessionDep
from api.interactions.service import visible_interaction
from api.sse import StreamUser

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["supervisor"])

DELETED = "deleted"

EVENTS = (
    "`ready` {interaction_id}: subscribed, read the history now. "
    "`message`: a new message in the thread (inbound, outbound, internal note, or one moved in from "
    "a closed interaction), as `GET .../messages` shows it. "
    "`message_status` {interaction_id, message_id, status, error_code, error_text, status_at}. "
    "`timeline`: a new timeline event {id, interaction_id, at, kind, actor_id, data} (accepted, "
    "transfer, transfer_returned, closed, disposed, note, tags...). "
    "`offer` {interaction_id, offer_id, agent_id, queue_id, kind, status, offered_at, expires_at} "
    "and `offer_resolved` (the same, status accepted, rejected, expired or rescinded, resolved_at). "
    "`interaction` {interaction_id, status, owner_id, queue_id, disposition_id, closed_at}: its "
    "status, owner, queue or disposition changed. `deleted` {interaction_id}: the last event. "
    "`resync` {reason}: events may have been missed, read the history again. An event too large "
    "for a notification carries only its ids and `truncated: true`. `: heartbeat` comments every 15 s."
)


@router.get(
    "/{interaction_id}/events",
    response_class=StreamingResponse,
    responses={**sse.documented(EVENTS), 403: {"description": "agents may not spy"}, 404: {}},
)
async def spy(
    interaction_id: int, user: StreamUser, session: SessionDep, services: ServicesDep
) -> StreamingResponse:
    """Server-Sent Events of one interaction as it happens, for admins and supervisors (a bearer
    token, or a single-use ticket from `POST /api/agents/me/events/ticket`). The stream ends when
    the interaction is deleted or the user's sessions are revoked (new password or role)."""
    await visible_interaction(session, interaction_id, user)
    alive = sse.staff_stream(services, user, "spying on an interaction")
    topic = interaction_topic(interaction_id)
    queue = services.events.subscribe(topic)

    async def stream() -> AsyncIterator[str]:
        try:
            yield sse.event("ready", {"interaction_id": interaction_id})
            async for chunk in sse.relay(queue, alive, last=(DELETED,)):
                yield chunk
        finally:
            services.events.unsubscribe(topic, queue)

    return sse.response(stream())
