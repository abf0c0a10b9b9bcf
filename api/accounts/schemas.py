"""Request and response shapes of WhatsApp accounts.

Secrets (provider tokens, API keys) are accepted on create and update and never returned: a
response shows ``"***"`` where one is stored and ``null`` where none is. Sending ``"***"`` or
leaving a secret out on update keeps the stored one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.crud import Out
from api.directory.schemas import Mobile, Timeout
from domain.templating import check_mustache
from models import ProviderType
from providers.config import BaseUrl, Secret, Text

MASK = "***"

Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,5}$")]
ServiceLevel = Annotated[
    int,
    Field(
        ge=1,
        le=86400,
        description="an interaction accepted within this many seconds of its start meets the "
        "service level (the supervisor's live view and reports)",
    ),
]
Mustache = Annotated[str, StringConstraints(max_length=2000), AfterValidator(check_mustache)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Where the assistant's stored key is sent (a provider declares its own: Provider.secret_destinations).
ASSISTANT_DESTINATIONS: dict[str, frozenset[str]] = {"base_url": frozenset({"api_key"})}
# Video has no such pair: Vidaoo's address is a setting (SHARELINE_VIDAOO_API_BASE), not the account's.


class Notification(_Strict):
    sound: bool = True
    shake: bool = False
    template: Mustache | None = None


class Transfer(_Strict):
    agent_enabled: bool = False
    agent_timeout: Timeout = 10
    queue_enabled: bool = False
    queue_timeout: Timeout = 10


class RecontactTemplate(_Strict):
    name: Text
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] = "en_US"
    parameters: list[Annotated[Mustache, StringConstraints(max_length=1000)]] = Field(
        default_factory=list, max_length=20
    )


class Assistant(_Strict):
    enabled: bool = False
    base_url: BaseUrl | None = None
    model: Text | None = None
    api_key: Secret | None = None
    instructions: str = Field(default="", max_length=4000)


class Video(_Strict):
    enabled: bool = False
    api_key: Secret | None = None
    topic: Text | None = None
    note: str = Field(default="", max_length=1000)
    metadata: dict[str, Any] = Field(default_factory=dict, description="a JSON object for Vidaoo automations")


class AccountPatch(_Strict):
    """Every field optional: what is sent changes, what is left out stays (nested objects too)."""

    name: Text | None = None
    key: Key | None = None
    list_id: int | None = None
    motion_domain: BaseUrl | None = None
    type: ProviderType | None = None
    phone: Mobile | None = None
    description: str | None = Field(default=None, max_length=1000)
    credentials: dict[str, Any] | None = None
    wait_assigned_agent: Timeout | None = None
    wait_assigned_queue: Timeout | None = None
    notification: Notification | None = None
    transfer: Transfer | None = None
    mandatory_disposition: bool | None = None
    disposition_pause_id: int | None = None
    service_level_seconds: ServiceLevel | None = None
    recontact_template: RecontactTemplate | None = None
    assistant: Assistant | None = None
    video: Video | None = None


class AccountIn(AccountPatch):
    name: Text
    key: Key
    list_id: int
    type: ProviderType
    phone: Mobile
    credentials: dict[str, Any]
    wait_assigned_agent: Timeout = 10
    wait_assigned_queue: Timeout = 10
    service_level_seconds: ServiceLevel = 60


class NotificationOut(BaseModel):
    sound: bool
    shake: bool
    template: str


class AssistantOut(BaseModel):
    enabled: bool
    base_url: str | None
    model: str | None
    api_key: Literal["***"] | None
    instructions: str


class VideoOut(BaseModel):
    enabled: bool
    api_key: Literal["***"] | None
    topic: str | None
    note: str
    metadata: dict[str, Any]


class AccountOut(BaseModel):
    id: int
    name: str
    key: str
    list_id: int
    motion_domain: str
    type: ProviderType
    phone: str
    description: str
    credentials: dict[str, Any]
    wait_assigned_agent: int
    wait_assigned_queue: int
    receive_url: str | None = Field(description="paste into the provider's console; shown to admins only")
    proxy_token: str | None = Field(description="generated once, immutable; shown to admins only")
    notification: NotificationOut
    transfer: Transfer
    mandatory_disposition: bool
    disposition_pause_id: int | None
    service_level_seconds: int
    recontact_template: RecontactTemplate | None
    assistant: AssistantOut
    video: VideoOut


MAX_OVERLAP_HOURS = 168


class RotateTokenIn(BaseModel):
    overlap_hours: int = Field(
        default=24, ge=0, le=MAX_OVERLAP_HOURS, description="how long the replaced token keeps working"
    )


class RotatedTokenOut(BaseModel):
    proxy_token: str
    receive_url: str
    previous_token_expires_at: datetime


Name = Annotated[str, Field(min_length=1, max_length=200)]


class AnswerIn(BaseModel):
    name: Name
    value: str = Field(min_length=1, max_length=4096)


class AnswerPatch(BaseModel):
    name: Name | None = None
    value: str | None = Field(default=None, min_length=1, max_length=4096)


class AnswerOut(Out):
    id: int
    account_id: int
    name: str
    value: str


class DispositionIn(BaseModel):
    name: Name
    level: Annotated[int, Field(ge=1, le=3)] = 1
    parent_id: int | None = None

    @model_validator(mode="after")
    def _parent_matches_level(self) -> Self:
        if self.level == 1 and self.parent_id is not None:
            raise ValueError("a level 1 disposition has no parent")
        if self.level > 1 and self.parent_id is None:
            raise ValueError(f"a level {self.level} disposition needs a parent of level {self.level - 1}")
        return self


class DispositionPatch(BaseModel):
    name: Name


class DispositionOut(Out):
    id: int
    account_id: int
    name: str
    level: int
    parent_id: int | None
