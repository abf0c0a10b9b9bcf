"""Users: admins manage them, supervisors may read them."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, status
from sqlalchemy import select

from api.crud import ListOut, apply_patch, ensure_unreferenced, get_or_404, paginate
from api.deps import AdminUser, PageDep, ServicesDep, SessionDep, StaffUser
from api.directory.schemas import UserIn, UserOut, UserPatch
from api.directory.service import ensure_owns_no_open_interactions
from api.errors import conflict, invalid
from api.security import hash_password
from domain.dispatch import wake_waiting
from models import Account, Action, Role, User
from models.events import notify_floor

router = APIRouter(prefix="/api/users", tags=["users"])


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
        await notify_floor(session)
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
