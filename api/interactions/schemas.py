"""The shapes the interactions routes take and give: the list's filters, interactions, messages,
the timeline, replies and agent tools, the search vocabulary and saved searches."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from api.crud import ListOut, Out
from api.directory.schemas import Timezone
from domain.conditions import ConditionField, Operator, ValueType
from models import (
    DeliveryStatus,
    Direction,
    InteractionStatus,
    MessageType,
    UserStatus,
)

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class ContactOut(Out):
    id: int
    first_name: str
    last_name: str
    mobile: str


class InteractionSort(StrEnum):
    started_at = "started_at"
    last_message_at = "last_message_at"
    last_inbound_at = "last_inbound_at"  # ascending: who has been awaiting a reply longest


class InteractionFilters(BaseModel):
    """What the interaction list filters and sorts on (`api.interactions.service.matching_ids` and
    `ordered` apply them). Every filter given must hold; time ranges include both ends."""

    account_id: int | None = None
    agent_id: int | None = Field(
        default=None, description="the owner; with `participant=true`, any agent who handled it"
    )
    participant: bool = Field(
        default=False,
        description="`agent_id` names anyone who handled the interaction: its owner, an agent who "
        "accepted it (before a transfer), or who wrote in it",
    )
    queue_id: int | None = None
    status: InteractionStatus | None = Field(
        default=None,
        description="open (owned or waiting for an agent), open-pending (waiting only) or closed",
    )
    read: bool | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50, description="has any of these tags (exact)")
    tags_all: list[Tag] = Field(default_factory=list, max_length=50, description="has all of these tags")
    started_from: AwareDatetime | None = None
    started_to: AwareDatetime | None = None
    closed_from: AwareDatetime | None = None
    closed_to: AwareDatetime | None = None
    disposition_id: int | None = Field(
        default=None, description="disposed with this disposition or one of its sub-dispositions"
    )
    window: Literal["open", "closed"] | None = Field(
        default=None,
        description="the 24-hour service window: open (the customer wrote within 24 h) or closed",
    )
    q: str | None = Field(
        default=None,
        max_length=200,
        description="contact's name or mobile contains (any case; blank: no filter)",
    )
    conditions: str | None = Field(
        default=None,
        max_length=50_000,
        description="advanced search, as JSON text: "
        '`{"match": "all"|"any", "rules": [{"field", "operator", "value", "disabled"?}]}`; '
        "fields, their operators and value types at `GET /api/whatsapp/interactions/search-fields`. "
        "A bad rule is a 422 naming `conditions.rules.<index>`.",
        examples=[
            '{"match":"all","rules":[{"field":"contact.first_name","operator":"starts_with","value":"An"}]}'
        ],
    )
    sort: InteractionSort = InteractionSort.last_message_at
    order: Literal["asc", "desc"] = Field(
        default="desc", description="interactions without the time come last"
    )


class SavedQuery(InteractionFilters):
    """The list's query as a saved search keeps it: the same parameters, `conditions` as JSON text."""

    model_config = ConfigDict(extra="forbid")


SearchName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SavedSearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SearchName = Field(description="unique among the caller's saved searches (ignoring case)")
    query: SavedQuery = Field(default_factory=SavedQuery)


class SavedSearchPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SearchName | None = None
    query: SavedQuery | None = Field(default=None, description="replaces the whole saved query")


class SavedSearchOut(BaseModel):
    id: int
    name: str
    query: SavedQuery
    created_at: datetime
    updated_at: datetime


class SearchFieldOut(BaseModel):
    field: ConditionField
    type: ValueType = Field(
        description="what `value` is: text, number, boolean, datetime (ISO 8601 with "
        "a time zone), id (a record's id) or choice (one of `choices`); `in` takes a list of them"
    )
    operators: list[Operator]
    description: str
    choices: list[str] = Field(description="the values a choice field takes (empty otherwise)")
    in_plans: bool = Field(description="an action plan's `gotoif` may use it too")


class SearchOperatorOut(BaseModel):
    operator: Operator
    value: Literal["none", "one", "list"] = Field(description="what `value` the operator takes")
    description: str


class SearchFieldsOut(BaseModel):
    fields: list[SearchFieldOut]
    operators: list[SearchOperatorOut]


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


# Counting every match of a broad filter would scan them all: the list counts this many at most.
COUNT_LIMIT = 1_000


class InteractionListOut(ListOut[InteractionOut]):
    count: int = Field(
        description=f"how many interactions match, counted up to {COUNT_LIMIT:,}: past that, "
        "`count` is that limit and `count_exact` is false"
    )
    count_exact: bool = Field(
        description="false when more interactions match than `count` says (counting stopped at the limit)"
    )


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


EXPORT_MAX_IDS = 10_000


class ExportIn(InteractionFilters):
    """Which interactions to export: `ids`, or the list's filters (none: every interaction)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None,
        min_length=1,
        max_length=EXPORT_MAX_IDS,
        description=f"these interactions (at most {EXPORT_MAX_IDS}); not together with filters",
    )
    time_zone: Timezone = Field(
        default="UTC", description="IANA name of the zone the CSV's times are written in"
    )

    @model_validator(mode="after")
    def _ids_or_filters(self) -> Self:
        if self.ids is not None and self.model_fields_set - {"ids", "time_zone"}:
            raise ValueError("give ids or the list's filters, not both")
        return self
