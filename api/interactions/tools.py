"""The agent's tools inside an interaction: internal notes, tags, canned answers, a Vidaoo video
call and the AI assistant's suggested reply.

Notes are messages of direction `internal`: in the thread for agents and supervisors, never sent.
Tags go through `models.interaction.change_tags`, the store the plan's `tag` steps use too.
Vidaoo and the assistant model are other companies' services: when they fail the agent gets a
502 (504 on a timeout) naming the service and its reason, and nothing is stored or sent. The
video call records its event only once the customer's link is handed to the workflow.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from api.crud import ListOut, paginate
from api.deps import CurrentUser, PageDep, ServicesDep, SessionDep
from api.errors import AppError, conflict
from api.interactions.schemas import (
    AssistantIn,
    MessageOut,
    NoteIn,
    RenderedAnswer,
    TagsIn,
    VideoCallOut,
)
from api.interactions.service import inside_window, outbound, send, sendable, visible_interaction, workable
from domain.templating import render, variables
from integrations import ExternalServiceError
from integrations.assistant import AssistantConfig, Turn, suggest_reply
from integrations.vidaoo import create_meeting
from models import Account, CannedAnswer, Contact, Direction, InteractionEvent, Message, MessageType, User
from models.events import notify_agents
from models.interaction import change_tags

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["agent tools"])

TRANSCRIPT_TURNS = 50  # the latest messages the assistant model sees


@router.post("/{interaction_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(interaction_id: int, body: NoteIn, user: CurrentUser, session: SessionDep) -> MessageOut:
    """An internal note in the thread: agents and supervisors see it, the customer never does. A
    note by someone else reaches the owner's event stream as a `message` event."""
    interaction, _ = await workable(session, interaction_id, user)
    note = Message(
        account_id=interaction.account_id,
        interaction_id=interaction.id,
        direction=Direction.internal,
        type=MessageType.text,
        text=body.text,
        payload={"origin": "note"},
        status=None,
        sender_id=user.id,
    )
    session.add(note)
    await session.flush()
    session.add(
        InteractionEvent(
            interaction_id=interaction.id, kind="note", actor_id=user.id, data={"message_id": note.id}
        )
    )
    if interaction.owner_id is not None and interaction.owner_id != user.id:  # a supervisor's note
        data = {"interaction_id": interaction.id, "message_ids": [note.id]}
        await notify_agents(session, [interaction.owner_id], "message", data)
    return MessageOut.model_validate(note)


@router.post("/{interaction_id}/tags")
async def edit_tags(
    interaction_id: int, body: TagsIn, user: CurrentUser, session: SessionDep
) -> dict[str, list[str]]:
    """Add and remove tags (a tag both added and removed ends up removed)."""
    await workable(session, interaction_id, user)
    tags = await change_tags(session, interaction_id, add=body.add, remove=body.remove)
    assert tags is not None
    session.add(
        InteractionEvent(
            interaction_id=interaction_id,
            kind="tags",
            actor_id=user.id,
            data={"add": body.add, "remove": body.remove},
        )
    )
    return {"tags": tags}


@router.get("/{interaction_id}/answers")
async def canned_answers(
    interaction_id: int,
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    search: Annotated[str | None, Query(max_length=100, description="in the name or the text")] = None,
) -> ListOut[RenderedAnswer]:
    """The interaction's account's canned answers (only those), rendered with mustache."""
    shown = await visible_interaction(session, interaction_id, user)
    query = (
        select(CannedAnswer).where(CannedAnswer.account_id == shown.account_id).order_by(CannedAnswer.name)
    )
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(CannedAnswer.name.ilike(pattern) | CannedAnswer.value.ilike(pattern))
    values = await _variables(session, shown.account_id, shown.contact.id, user)
    count, rows = await paginate(session, query, page)
    return ListOut(
        count=count,
        rows=[
            RenderedAnswer(id=answer.id, name=answer.name, text=render(answer.value, values))
            for answer in rows
        ],
    )


@router.post(
    "/{interaction_id}/video-call",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "video calls disabled, or outside the window"}, 502: {}, 504: {}},
)
async def video_call(
    interaction_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> VideoCallOut:
    """Create a Vidaoo meeting; the agent gets its link, the customer theirs by WhatsApp."""
    interaction, account = await sendable(session, interaction_id, user)
    api_key = services.secrets.open(account.encrypted_secrets).get("video.api_key")
    if not account.video_enabled or not api_key:
        raise conflict("video calls are not enabled (with an API key) on this account", code="video_disabled")
    inside_window(interaction)  # the link is a free-form message
    await session.commit()  # release the interaction's row lock while Vidaoo works
    try:
        meeting = await create_meeting(
            services.http,
            services.settings.vidaoo_api_base,
            api_key,
            account.video_topic or account.name,
            account.video_note,
            account.video_metadata,
        )
    except ExternalServiceError as error:
        raise _external(error) from error
    message = outbound(interaction, user, MessageType.text, f"Join the video call: {meeting.guest_url}")
    message.payload["origin"] = "video"
    sent = await send(session, services, interaction, message)
    session.add(
        InteractionEvent(
            interaction_id=interaction.id,
            kind="video_call",
            actor_id=user.id,
            data={"meeting_id": meeting.id, "join_url": meeting.host_url, "customer_url": meeting.guest_url},
        )
    )
    return VideoCallOut(
        meeting_id=meeting.id, join_url=meeting.host_url, customer_url=meeting.guest_url, message=sent
    )


@router.post(
    "/{interaction_id}/assistant",
    responses={409: {"description": "the assistant is not enabled or configured"}, 502: {}, 504: {}},
)
async def assistant(
    interaction_id: int, body: AssistantIn, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> dict[str, str]:
    """A suggested reply from the account's assistant model; nothing is sent."""
    interaction, account = await workable(session, interaction_id, user)
    config = _assistant_config(account, services)
    rows = (
        await session.scalars(
            select(Message)
            .where(Message.interaction_id == interaction.id, Message.direction != Direction.internal)
            .order_by(Message.id.desc())
            .limit(TRANSCRIPT_TURNS)
        )
    ).all()
    transcript = [Turn(m.direction is Direction.inbound, m.text) for m in reversed(rows) if m.text]
    values = await _variables(session, account.id, interaction.contact_id, user)
    answers = [
        (answer.name, render(answer.value, values))
        for answer in await session.scalars(select(CannedAnswer).where(CannedAnswer.account_id == account.id))
    ]
    await session.commit()  # release the interaction's row lock while the model thinks
    try:
        suggestion = await suggest_reply(services.http, config, transcript, answers, body.question)
    except ExternalServiceError as error:
        raise _external(error) from error
    return {"suggestion": suggestion}


def _assistant_config(account: Account, services: ServicesDep) -> AssistantConfig:
    """The account's endpoint (with its key) or else the settings' (with theirs); the model is the
    account's or else the settings'."""
    section: dict[str, Any] = account.assistant or {}
    if not section.get("enabled"):
        raise conflict("the assistant is not enabled on this account", code="assistant_disabled")
    settings = services.settings
    if section.get("base_url"):  # the account's own endpoint gets the account's own key, never ours
        base_url, key = (
            section["base_url"],
            services.secrets.open(account.encrypted_secrets).get("assistant.api_key"),
        )
    else:
        base_url = settings.assistant_base_url
        key = settings.assistant_api_key.get_secret_value() if settings.assistant_api_key else None
    model = section.get("model") or settings.assistant_model
    if not base_url or not model:
        raise conflict(
            "the assistant has no base URL or model (set them on the account or in the settings)",
            code="assistant_unconfigured",
        )
    return AssistantConfig(base_url, model, key, section.get("instructions", ""))


async def _variables(session: SessionDep, account_id: int, contact_id: int, user: User) -> dict[str, Any]:
    account = await session.get(Account, account_id)
    contact = await session.get(Contact, contact_id)
    assert account is not None and contact is not None
    return variables(account, contact, agent=user)


def _external(error: ExternalServiceError) -> AppError:
    code = "external_timeout" if error.status_code == 504 else "external_error"
    return AppError(
        error.status_code, code, f"{error.service} {error.reason}", details={"service": error.service}
    )
