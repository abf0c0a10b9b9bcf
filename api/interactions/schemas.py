"""TODO docstring"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.crud import Out
from models import (
    DeliveryStatus,
    Direction,
    InteractionStatus,
    MessageType,
    UserStatus,
)


class ContactOut(Out):
    id: int
    first_name: str
    last_name: str
    mobile: str


class InteractionFilters(BaseModel):
    """What the interaction list filters on (`api.interactions.service.filtered` applies them)."""

    account_id: int | None = None
    agent_id: int | None = Field(default=None, description="the owner")
    status: InteractionStatus | None = Field(
        default=None,
        description="open (owned or waiting for an agent), open-pending (waiting only) or closed",
    )
    read: bool | None = None


class InteractionOut(BaseModel):
    id: int
    account_id: int
    account_key: str
    contact: ContactOut
    status: InteractionStatus
    read: bool
    owner_id: int | None
    queue_id: int | None
    tags: list[str]
    disposition_id: int | None
    started_at: datetime
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    window_closes_at: datetime | None = Field(
        description="when free-form replies stop being allowed (24 h after the customer's last message)"
    )
    last_message: str
    closed_at: datetime | None
    workflow_id: str


class MessageOut(Out):
    id: int
    interaction_id: int
    direction: Direction
    type: MessageType
    text: str
    media: dict[str, Any] | None
    payload: dict[str, Any]
    provider_message_id: str | None
    status: DeliveryStatus | None  # None for internal notes
    error_code: str | None
    error_text: str | None
    sender_id: int | None
    sent_at: datetime | None
    created_at: datetime
    status_at: datetime | None


class TimelineEventOut(BaseModel):
    id: int
    interaction_id: int
    at: datetime
    kind: str = Field(
        description="what happened: accepted, transfer, transfer_returned, transfer_void, released, tags, "
        "note, video_call, closed, disposed, message_out, message_retried, autoreply, routing_error, "
        "plan_error, step_skipped, ... (new kinds may appear: show an unknown one by its name)"
    )
    actor_id: int | None = Field(
        description="the user who did it (for a transfer, the owner who asked for it); null for routing"
    )
    actor_name: str | None = Field(description="that user's full name, else its username")
    agent_name: str | None = Field(description="the agent `data.agent_id` names (a transfer's target)")
    queue_name: str | None = Field(description="the queue `data.queue_id` names")
    data: dict[str, Any] = Field(
        description="the kind's facts, e.g. transfer {from, agent_id, queue_id}, tags {add, remove}, "
        "closed/disposed {disposition_id}, video_call {meeting_id, join_url, customer_url}; "
        "events about a message carry its message_id"
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


class AcceptedOut(BaseModel):
    interaction_id: int
    owner_id: int


class CloseIn(BaseModel):
    disposition_id: int | None = None


class DisposeIn(BaseModel):
    disposition_id: int


class TransferIn(BaseModel):
    agent_id: int | None = None
    queue_id: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.agent_id is None) == (self.queue_id is None):
            raise ValueError("give exactly one of agent_id and queue_id")
        return self


class AgentTarget(BaseModel):
    id: int
    username: str
    full_name: str
    status: UserStatus
    present: bool  # online with a live event stream: an offer would reach them now


class QueueTarget(BaseModel):
    id: int
    name: str
    description: str


class TransferTargetsOut(BaseModel):
    agents: list[AgentTarget]
    queues: list[QueueTarget]


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4096)


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add: list[Tag] = Field(default_factory=list, max_length=50)
    remove: list[Tag] = Field(default_factory=list, max_length=50)


class RenderedAnswer(BaseModel):
    id: int
    name: str
    text: str  # rendered for this interaction's contact, agent and account


class VideoCallOut(BaseModel):
    meeting_id: str
    join_url: str  # the agent's link
    customer_url: str
    message: MessageOut  # the WhatsApp message carrying the customer's link


class AssistantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str | None = Field(default=None, min_length=1, max_length=2000)
