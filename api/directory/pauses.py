"""Pause statuses: every signed-in user reads them (agents pick one), admins manage them."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from api.crud import ListOut, ensure_unreferenced, get_or_404, paginate
from api.deps import AdminUser, CurrentUser, PageDep, SessionDep
from api.directory.schemas import PauseIn, PauseOut
from models import Account, Pause, User

router = APIRouter(prefix="/api/pauses", tags=["pauses"])


@router.get("")
async def list_pauses(_: CurrentUser, session: SessionDep, page: PageDep) -> ListOut[PauseOut]:
    count, rows = await paginate(session, select(Pause).order_by(Pause.name), page)
    return ListOut(count=count, rows=[PauseOut.model_validate(row) for row in rows])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_pause(body: PauseIn, _: AdminUser, session: SessionDep) -> PauseOut:
    pause = Pause(name=body.name)
    session.add(pause)
    await session.flush()
    return PauseOut.model_validate(pause)


@router.get("/{pause_id}")
async def get_pause(pause_id: int, _: CurrentUser, session: SessionDep) -> PauseOut:
    return PauseOut.model_validate(await get_or_404(session, Pause, pause_id, "pause"))


@router.patch("/{pause_id}")
@router.put("/{pause_id}")  # the same update, under its own operation id
async def update_pause(pause_id: int, body: PauseIn, _: AdminUser, session: SessionDep) -> PauseOut:
    pause = await get_or_404(session, Pause, pause_id, "pause")
    pause.name = body.name
    await session.flush()
    return PauseOut.model_validate(pause)


@router.delete("/{pause_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_pause(pause_id: int, _: AdminUser, session: SessionDep) -> None:
    pause = await get_or_404(session, Pause, pause_id, "pause")
    await ensure_unreferenced(
        session,
        f"pause {pause.name}",
        [
            ("agents now in it", select(User.username).where(User.pause_id == pause.id)),
            (
                "accounts as their disposition pause",
                select(Account.key).where(Account.disposition_pause_id == pause.id),
            ),
        ],
    )
    await session.delete(pause)
