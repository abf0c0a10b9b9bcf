"""The signed-in agent: presence (online, paused with a reason, offline) and what it serves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Self

from fastapi import APIRouter
from pydantic import BaseModel, model_validator
from sqlalchemy import select

from api.deps import CurrentUser, SessionDep
from api.errors import invalid
from models import AccountAgent, Pause, QueueAgent, UserStatus

router = APIRouter(prefix="/api/agents", tags=["agents"])


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


async def _me(session: SessionDep, user: CurrentUser) -> MeOut:
    accounts = await session.scalars(select(AccountAgent.account_id).where(AccountAgent.user_id == user.id))
    queues = await session.scalars(select(QueueAgent.queue_id).where(QueueAgent.user_id == user.id))
    return MeOut(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        status=user.status,
        pause_id=user.pause_id,
        status_changed_at=user.status_changed_at,
        whatsapp_capacity=user.whatsapp_capacity,
        account_ids=sorted(accounts),
        queue_ids=sorted(queues),
    )


@router.get("/me")
async def get_me(user: CurrentUser, session: SessionDep) -> MeOut:
    return await _me(session, user)


@router.put("/me/status")
async def set_my_status(body: StatusIn, user: CurrentUser, session: SessionDep) -> MeOut:
    if body.pause_id is not None and await session.get(Pause, body.pause_id) is None:
        raise invalid({"pause_id": f"pause {body.pause_id} does not exist"})
    if (user.status, user.pause_id) != (body.status, body.pause_id):
        user.status = body.status
        user.pause_id = body.pause_id
        user.status_changed_at = datetime.now(UTC)
        await session.flush()
    return await _me(session, user)
