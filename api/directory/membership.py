"""Agent membership of queues and accounts: one implementation for both `.../{id}/agents` routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, status
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import InstrumentedAttribute

from api.crud import ListOut, get_or_404, paginate
from api.deps import AdminUser, PageDep, ServicesDep, SessionDep, StaffUser
from api.directory.schemas import UserOut
from api.directory.service import ensure_owns_no_open_interactions
from api.errors import invalid, not_found
from domain.dispatch import wake_waiting
from models import AccountAgent, Base, Interaction, User

# Memberships through which an agent sees interactions (api.interactions.service.visible), and the
# interaction column each is matched on: leaving one would strand the open interactions it owns.
SIGHT_OF_INTERACTIONS: dict[type[Base], InstrumentedAttribute[int]] = {AccountAgent: Interaction.account_id}


class MemberIds(BaseModel):
    ids: Annotated[list[int], Field(min_length=1, max_length=1000)]


def add_member_routes(
    router: APIRouter, owner: type[Base], link: type[Base], owner_column: str, what: str
) -> None:
    """Add GET/POST `/{owner_id}/agents` and DELETE `/{owner_id}/agents/{user_id}` to `router`."""
    link_owner = getattr(link, owner_column)
    link_user = link.user_id  # type: ignore[attr-defined]

    @router.get("/{owner_id}/agents", summary=f"Agents of a {what}")
    async def list_members(
        owner_id: int, _: StaffUser, session: SessionDep, page: PageDep
    ) -> ListOut[UserOut]:
        await get_or_404(session, owner, owner_id, what)
        query = select(User).join(link, link_user == User.id).where(link_owner == owner_id).order_by(User.id)
        count, rows = await paginate(session, query, page)
        return ListOut(count=count, rows=[UserOut.model_validate(row) for row in rows])

    @router.post("/{owner_id}/agents", summary=f"Add agents to a {what}")
    async def add_members(
        owner_id: int,
        body: MemberIds,
        _: AdminUser,
        session: SessionDep,
        services: ServicesDep,
        background: BackgroundTasks,
    ) -> dict[str, Any]:
        """New members may serve what waits already: each is woken after the commit."""
        await get_or_404(session, owner, owner_id, what)
        wanted = set(body.ids)
        found = set((await session.scalars(select(User.id).where(User.id.in_(wanted)))).all())
        if missing := sorted(wanted - found):
            raise invalid({"ids": f"no such users: {', '.join(map(str, missing))}"})
        rows = [{owner_column: owner_id, "user_id": user_id} for user_id in sorted(wanted)]
        await session.execute(insert(link).values(rows).on_conflict_do_nothing())
        for user_id in sorted(wanted):
            background.add_task(wake_waiting, services.sessionmaker, services.temporal, user_id)
        return {"added": sorted(wanted)}

    @router.delete(
        "/{owner_id}/agents/{user_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"Remove an agent from a {what}",
    )
    async def remove_member(owner_id: int, user_id: int, _: AdminUser, session: SessionDep) -> None:
        """Refused while the agent owns open interactions that the membership lets it see."""
        await get_or_404(session, owner, owner_id, what)
        sight = SIGHT_OF_INTERACTIONS.get(link)
        user = await session.get(User, user_id, with_for_update=True) if sight is not None else None
        if sight is not None and user is not None:  # locked: no interaction is assigned to it meanwhile
            await ensure_owns_no_open_interactions(
                session, user, f"agent {user.username} of {what} {owner_id}", sight == owner_id
            )
        removed = await session.execute(delete(link).where(link_owner == owner_id, link_user == user_id))
        if removed.rowcount == 0:  # type: ignore[attr-defined]
            raise not_found(f"agent of {what}", user_id)
