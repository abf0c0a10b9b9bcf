"""What an agent sends the customer: replies (text, media, template), retries of failed sends and
the account's recontact template.

A message is stored first (status queued), committed, then handed to the interaction's workflow
by its `send` update; the workflow sends its outbox in order through an activity, so a crash
between store and send sends it once (the activity skips a message that has its provider id
already; none of the four providers takes a client idempotency key, so a crash in the instant
between the provider's answer and recording it can still send twice). If the workflow refuses it
(closed meanwhile) the message is removed again; if Temporal cannot be reached, or does not answer
by the deadline, it stays queued, the call answers 503, and `retry` hands it over again.

Free-form text and media are refused outside the 24-hour customer service window before any
provider call (409 `outside_service_window`, with when it closed); a template may always go out.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, status

from api.deps import CurrentUser, ServicesDep, SessionDep
from api.errors import conflict, not_found
from api.interactions.schemas import MessageOut, ReplyIn
from api.interactions.service import (
    inside_window,
    outbound,
    send,
    sendable,
)
from domain.templating import render, variables
from models import (
    Account,
    Contact,
    DeliveryStatus,
    Direction,
    Message,
    MessageType,
)
from providers import PROVIDERS
from providers.base import guess_mime, media_type_for

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["replies"])


@router.post(
    "/{interaction_id}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "closed, outside the service window, or no templates on this provider"}},
)
async def reply(
    interaction_id: int, body: ReplyIn, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> MessageOut:
    """Queue a reply; its status moves to sent, delivered, read or failed as the provider reports."""
    interaction, account = await sendable(session, interaction_id, user)
    if body.template is None:
        inside_window(interaction)
    else:
        _takes_templates(account)
    if body.text is not None:
        message = outbound(interaction, user, MessageType.text, body.text)
    elif body.media_url is not None:
        url = str(body.media_url)
        message = outbound(interaction, user, media_type_for(guess_mime(url)), body.caption or "")
        message.media = {"url": url}
    else:
        assert body.template is not None
        message = outbound(interaction, user, MessageType.template, f"[template {body.template.name}]")
        message.payload["template"] = body.template.model_dump()
    return await send(session, services, interaction, message)


@router.post(
    "/{interaction_id}/recontact",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "the account has no recontact template, or its provider sends none"}},
)
async def recontact(
    interaction_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> MessageOut:
    """Send the account's recontact template (Meta and Kaleyra accounts), its parameters rendered
    with the contact's, agent's and account's mustache variables: the way back in after the window."""
    interaction, account = await sendable(session, interaction_id, user)
    template = account.recontact_template
    if not template:
        raise conflict(
            "this account has no recontact template configured"
            if PROVIDERS[account.type].recontact
            else f"{account.type.value} accounts have no recontact template",
            code="recontact_unavailable",
        )
    contact = await session.get(Contact, interaction.contact_id)
    assert contact is not None
    values = variables(account, contact, agent=user)
    rendered = {**template, "parameters": [render(p, values) for p in template.get("parameters", [])]}
    message = outbound(interaction, user, MessageType.template, f"[template {template['name']}]")
    message.payload.update(template=rendered, origin="recontact")
    return await send(session, services, interaction, message)


@router.post(
    "/{interaction_id}/messages/{message_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "the message has not failed, or can no longer be sent"}},
)
async def retry(
    interaction_id: int, message_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> MessageOut:
    """Send a failed outbound message again (`payload.attempt` counts the retries), or hand a
    message still `queued` to the workflow again (after a 503): it is sent once either way."""
    interaction, _ = await sendable(session, interaction_id, user)
    message = await session.get(Message, message_id, with_for_update=True, populate_existing=True)
    if (
        message is None
        or message.interaction_id != interaction_id
        or message.direction is not Direction.outbound
    ):
        raise not_found("outbound message of this interaction", message_id)
    if message.status is DeliveryStatus.queued:
        return await send(session, services, interaction, message, handed_before=True)
    if message.status is not DeliveryStatus.failed:
        raise conflict(
            f"only a failed or unsent message can be retried; this one is {message.status}", code="not_failed"
        )
    if message.type is not MessageType.template:
        inside_window(interaction)
    message.status, message.status_at = DeliveryStatus.queued, datetime.now(UTC)
    message.error_code = message.error_text = message.provider_message_id = None
    message.payload = {**message.payload, "attempt": int(message.payload.get("attempt", 0)) + 1}
    message.sender_id = user.id
    return await send(session, services, interaction, message, handed_before=True)


def _takes_templates(account: Account) -> None:
    if not PROVIDERS[account.type].templates:
        raise conflict(f"{account.type.value} accounts cannot send templates", code="templates_unsupported")
