"""Rules of the directory that more than one route applies."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import AppError
from models import Interaction, User
from models.interaction import ACTIVE


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
