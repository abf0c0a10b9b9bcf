"""Users: admins manage them, supervisors may read them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.dispatch import wake_waiting
from api.crud import ListOut, Out, apply_patch, ensure_unreferenced, get_or_404, paginate
from api.deps import AdminUser, PageDep, ServicesDep, SessionDep, StaffUser
from api.errors import AppError, conflict, invalid
from api.security import hash_password
from models import Account, Action, Interaction, Role, User, UserStatus
from models.interaction import ACTIVE

router = APIRouter(prefix="/api/users", tags=["users"])

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


@router.get("")
async def list_users(
    _: StaffUser, session: SessionDep, page: PageDep, role: Role | None = None
) -> ListOut[UserOut]:
    query = select(User).order_by(User.id)
    if role is not None:
        query = query.where(User.role == role)
    count, rows = await paginate(session, query, page)
    return ListOut(count=count, rows=[UserOut.model_validate(row) for row in rows])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserIn, _: AdminUser, session: SessionDep) -> UserOut:
    user = User(**body.model_dump(exclude={"password"}), password_hash=hash_password(body.password))
    session.add(user)
    await session.flush()
    return UserOut.model_validate(user)


@router.get("/{user_id}")
async def get_user(user_id: int, _: StaffUser, session: SessionDep) -> UserOut:
    return UserOut.model_validate(await get_or_404(session, User, user_id, "user"))


@router.patch("/{user_id}")
@router.put("/{user_id}")  # the same update, under its own operation id
async def update_user(
    user_id: int,
    body: UserPatch,
    me: AdminUser,
    session: SessionDep,
    services: ServicesDep,
    background: BackgroundTasks,
) -> UserOut:
    """A changed WhatsApp capacity wakes interactions waiting for this agent (after the commit).
    A new password or role signs the user out everywhere: its tokens answer 401 from now on."""
    user = await get_or_404(session, User, user_id, "user")
    if user.id == me.id and body.role not in (None, Role.admin):
        raise conflict("you cannot take the admin role from yourself", {"role": "would lock you out"})
    if "password" in body.model_fields_set and body.password is None:
        raise invalid({"password": "may not be null"})
    if body.password is not None or body.role not in (None, user.role):
        user.token_version += 1  # revokes the user's tokens and open event streams
    if body.password is not None:
        user.password_hash = hash_password(body.password)
    apply_patch(user, body, exclude=frozenset({"password"}))
    await session.flush()
    if "whatsapp_capacity" in body.model_fields_set:
        background.add_task(wake_waiting, services.sessionmaker, services.temporal, user.id)
    return UserOut.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: int, me: AdminUser, session: SessionDep) -> None:
    """Memberships of accounts and queues go with the user; action-plan steps that name them, and
    open interactions it owns, block it. Its tokens then name nobody (401), its stream tickets go
    with it and its open event streams end at their next heartbeat."""
    user = await get_or_404(session, User, user_id, "user", lock=True)  # no interaction is assigned meanwhile
    if user.id == me.id:
        raise conflict("you cannot delete yourself")
    await ensure_owns_no_open_interactions(session, user, f"user {user.username}")
    await ensure_unreferenced(
        session,
        f"user {user.username}",
        [
            (
                "agent steps of the action plans of accounts",
                select(Account.key)
                .join(Action, Action.account_id == Account.id)
                .where(Action.agent_id == user.id),
            )
        ],
    )
    await session.delete(user)


async def ensure_owns_no_open_interactions(
    session: AsyncSession, user: User, what: str, *scope: ColumnElement[bool]
) -> None:
    """Refuse (409) while `user` owns open interactions (among those matching `scope`): nobody
    could serve them, so a supervisor transfers or closes them first."""
    owned = (
        await session.scalars(
            select(Interaction.id)
            .where(Interaction.owner_id == user.id, ACTIVE, *scope)
            .order_by(Interaction.id)
        )
    ).all()
    if owned:
        raise AppError(
            409,
            "owns_open_interactions",
            f"{what} owns open interaction {', '.join(map(str, owned))}; transfer or close it first",
            details={"interaction_ids": list(owned)},
        )
