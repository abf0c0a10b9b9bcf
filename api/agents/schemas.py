"""TODO docstring"""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field, model_validator

from models import (
    UserStatus,
)


class StatusIn(BaseModel):
    status: UserStatus
    pause_id: int | None = None

    @model_validator(mode="after")
    def _pause_only_when_paused(self) -> Self:
        if self.status is UserStatus.paused and self.pause_id is None:
            raise ValueError("pause_id is required to pause")
        if self.status is not UserStatus.paused and self.pause_id is not None:
            raise ValueError("pause_id goes only with status paused")
        return self


class MeOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    status: UserStatus
    pause_id: int | None
    status_changed_at: datetime
    whatsapp_capacity: int
    account_ids: list[int]
    queue_ids: list[int]
    owed_dispositions: list[int] = Field(
        description="ids of the interactions this agent closed without the disposition their account "
        "demands: until each is disposed (`POST /api/whatsapp/interactions/{id}/dispose`) the agent "
        "stays in the account's disposition pause and a status change answers 409 "
        "`disposition_required`"
    )


class TicketOut(BaseModel):
    ticket: str
    expires_in: int
