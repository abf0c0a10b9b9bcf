"""Request and response shapes of users, queues, pauses, intervals and contacts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints, model_validator

from api.crud import Out
from models import Role, Strategy, UserStatus

Username = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
Capacity = Annotated[int, Field(ge=0, le=100)]


class UserIn(BaseModel):
    username: Username
    password: Password
    full_name: str = Field(default="", max_length=200)
    role: Role = Role.agent
    whatsapp_capacity: Capacity = 5


class UserPatch(BaseModel):
    username: Username | None = None
    password: Password | None = None
    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    whatsapp_capacity: Capacity | None = None


class UserOut(Out):
    id: int
    username: str
    full_name: str
    role: Role
    whatsapp_capacity: int
    status: UserStatus
    pause_id: int | None
    created_at: datetime
    updated_at: datetime


Timeout = Annotated[int, Field(ge=1, le=2147483)]  # seconds; Temporal's timers take up to 2^31 ms
Weight = Annotated[int, Field(ge=0, le=10)]


class QueueIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    strategy: Strategy = Strategy.beepall
    timeout: Timeout = 10
    weight: Weight = 0
    description: str = Field(default="", max_length=1000)


class QueuePatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    strategy: Strategy | None = None
    timeout: Timeout | None = None
    weight: Weight | None = None
    description: str | None = Field(default=None, max_length=1000)


class QueueOut(Out):
    id: int
    name: str
    strategy: Strategy
    timeout: int
    weight: int
    description: str


class PauseIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class PauseOut(Out):
    id: int
    name: str


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Month = Literal["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


def _known_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Europe/Rome)") from exc
    return name


Timezone = Annotated[str, AfterValidator(_known_timezone)]


class IntervalRule(BaseModel):
    always: bool | None = None
    time_from: ClockTime | None = None
    time_to: ClockTime | None = None
    weekdays: list[Weekday] = Field(default_factory=list)
    month_days: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)
    months: list[Month] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        bounded = self.time_from or self.time_to or self.weekdays or self.month_days or self.months
        if self.always and bounded:
            raise ValueError("a rule is either {always: true} or a time range with days and months, not both")
        if not self.always and not bounded:
            raise ValueError("a rule needs always: true, or a time range, weekdays, month days or months")
        if (self.time_from is None) != (self.time_to is None):
            raise ValueError("time_from and time_to go together")
        return self


class IntervalIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    timezone: Timezone = "UTC"
    rules: list[IntervalRule] = Field(min_length=1)


class IntervalPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    timezone: Timezone | None = None
    rules: list[IntervalRule] | None = Field(default=None, min_length=1)


class IntervalOut(Out):
    id: int
    name: str
    timezone: str
    rules: list[IntervalRule]


_MOBILE = re.compile(r"^[1-9][0-9]{5,14}$")


def normalize_mobile(value: str) -> str:
    """International digits without '+': spaces, dashes, dots, brackets and a leading + are dropped."""
    digits = re.sub(r"[\s\-.()]", "", value).removeprefix("+")
    if not _MOBILE.match(digits):
        raise ValueError("must be an international number: 6 to 15 digits with country code, no leading 0")
    return digits


Mobile = Annotated[str, AfterValidator(normalize_mobile)]


class ListIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)


class ListPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)


class ListRead(Out):
    id: int
    name: str
    description: str


class ContactIn(BaseModel):
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    mobile: Mobile
    email: EmailStr | None = None


class ContactPatch(BaseModel):
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    mobile: Mobile | None = None
    email: EmailStr | None = None
    list_id: int | None = None


class ContactOut(Out):
    id: int
    list_id: int
    first_name: str
    last_name: str
    mobile: str
    email: str | None
