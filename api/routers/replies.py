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
from typing import Annotated, Self

from fastapi import APIRouter, status
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete

from api.deps import CurrentUser, ServicesDep, SessionDep
from api.dispatch import commit_then_update
from api.errors import AppError, conflict, forbidden, not_found
from api.routers.interactions import MessageOut, visible_interaction
from domain.templating import render, variables
from domain.window import window_closes_at, window_open
from models import (
    Account,
    Contact,
    DeliveryStatus,
    Direction,
    Interaction,
    InteractionEvent,
    InteractionStatus,
    Message,
    MessageType,
    Role,
    User,
)
from providers import PROVIDERS
from providers.base import guess_mime, media_type_for
from workflows.ids import interaction_workflow_id
from workflows.interaction import InteractionWorkflow, Outgoing

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["replies"])

NOT_SENDABLE = AppError(
    409, "interaction_closed", "the interaction is closed: nothing more can be sent in it"
)
SEND_PENDING = AppError(
    503, "temporal_unavailable", "stored as queued but not yet handed over for sending; retry the message"
)


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=512, description="Meta/Kaleyra template name; Twilio ContentSid"
    )
    language: str = Field(default="en_US", min_length=2, max_length=20)
    parameters: list[Annotated[str, Field(max_length=1024)]] = Field(default_factory=list, max_length=20)


class ReplyIn(BaseModel):
    """Exactly one of `text`, `media_url` (with an optional `caption`) or `template`."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=4096)
    media_url: AnyHttpUrl | None = None
    caption: str | None = Field(default=None, max_length=1024)
    template: TemplateIn | None = None

    @model_validator(mode="after")
    def one_kind(self) -> Self:
        given = [name for name in ("text", "media_url", "template") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of text, media_url or template (got {given or 'none'})")
        if self.caption is not None and self.media_url is None:
            raise ValueError("caption goes with media_url")
        return self


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


async def workable(session: SessionDep, interaction_id: int, user: User) -> tuple[Interaction, Account]:
    """The interaction (locked) and its account, if `user` may work it: its owner, or staff."""
    await visible_interaction(session, interaction_id, user)  # 404 for what the caller may not see
    # populate_existing: the visibility check loaded the row already; read it again under the lock
    interaction = await session.get(Interaction, interaction_id, with_for_update=True, populate_existing=True)
    assert interaction is not None
    if user.role is Role.agent and interaction.owner_id != user.id:
        raise forbidden("only the agent who owns the interaction (or a supervisor) may do this")
    account = await session.get(Account, interaction.account_id)
    assert account is not None
    return interaction, account


async def sendable(session: SessionDep, interaction_id: int, user: User) -> tuple[Interaction, Account]:
    interaction, account = await workable(session, interaction_id, user)
    if interaction.status is InteractionStatus.closed:
        raise NOT_SENDABLE
    return interaction, account


def inside_window(interaction: Interaction) -> None:
    if not window_open(interaction.last_inbound_at):
        closed_at = window_closes_at(interaction.last_inbound_at)
        since = f"it closed at {closed_at.isoformat()}" if closed_at else "the contact never wrote"
        raise AppError(
            409,
            "outside_service_window",
            f"free-form messages need the contact's last message within 24 hours; {since}. "
            "Send a template (or the recontact template) instead.",
            details={"window_closed_at": closed_at.isoformat() if closed_at else None},
        )


def _takes_templates(account: Account) -> None:
    if not PROVIDERS[account.type].templates:
        raise conflict(f"{account.type.value} accounts cannot send templates", code="templates_unsupported")


def outbound(interaction: Interaction, user: User, kind: MessageType, text: str) -> Message:
    return interaction.queued_message(kind, text, "agent", sender_id=user.id)


async def send(
    session: SessionDep,
    services: ServicesDep,
    interaction: Interaction,
    message: Message,
    *,
    handed_before: bool = False,
) -> MessageOut:
    """Commit the queued message (the send activity reads it), then hand it to the workflow.

    Refused (the interaction closed meanwhile): in a transaction of its own, a new message is
    removed, one handed over before (a retry) is marked failed; 409. Temporal unreachable, or no
    answer by the deadline: the message stays queued and the call answers 503; `retry` hands it
    over again. Commits mid-request on purpose: the worker must see the row, and no connection or
    lock may be held while Temporal answers.
    """
    session.add(message)
    await session.flush()
    kind = "message_retried" if handed_before else "message_out"
    event = InteractionEvent(
        interaction_id=interaction.id, kind=kind, actor_id=message.sender_id, data={"message_id": message.id}
    )
    session.add(event)
    workflow_id = interaction_workflow_id(interaction.account_id, interaction.contact_id, interaction.id)
    try:
        await commit_then_update(
            session,
            services.temporal,
            workflow_id,
            InteractionWorkflow.send,
            Outgoing(message.id),
            refusal=NOT_SENDABLE,
            unavailable=SEND_PENDING,
        )
    except AppError as error:
        if error is NOT_SENDABLE:
            await _withdraw(session, message, event, handed_before=handed_before)
        raise
    shown = MessageOut.model_validate(message)
    if not handed_before:
        interaction.show_last(message.text)
    return shown


async def _withdraw(
    session: SessionDep, message: Message, event: InteractionEvent, *, handed_before: bool
) -> None:
    """Undo a hand-over the workflow refused, committed before the 409 rolls the request back."""
    await session.execute(delete(InteractionEvent).where(InteractionEvent.id == event.id))
    if handed_before:
        message.status = DeliveryStatus.failed
        message.error_text = "not sent: the interaction was closed first"
    else:
        await session.execute(delete(Message).where(Message.id == message.id))
    await session.commit()
