"""What hangs off one account: canned answers, dispositions and the action plan.

Agents of the account read answers and dispositions (they use them); admins change them.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, status
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.accounts.plan import StepIn, StepOut, build_plan, load_plan
from api.accounts.schemas import (
    AnswerIn,
    AnswerOut,
    AnswerPatch,
    DispositionIn,
    DispositionOut,
    DispositionPatch,
)
from api.accounts.service import visible_account
from api.crud import ListOut, apply_patch, ensure_unreferenced, get_or_404, paginate
from api.deps import AdminUser, CurrentUser, PageDep, SessionDep, StaffUser
from api.errors import invalid, not_found
from models import Account, Action, CannedAnswer, Disposition

router = APIRouter(prefix="/api/whatsapp/accounts/{account_id}", tags=["account configuration"])


OwnedT = TypeVar("OwnedT", CannedAnswer, Disposition)


async def _owned(session: AsyncSession, model: type[OwnedT], account_id: int, ident: int) -> OwnedT:
    row = await session.get(model, ident)
    if row is None or row.account_id != account_id:
        raise not_found(model.__tablename__.removesuffix("s").replace("_", " "), ident)
    return row


# Canned answers ---------------------------------------------------------------------------------


@router.get("/answers")
async def list_answers(
    account_id: int, user: CurrentUser, session: SessionDep, page: PageDep, search: str | None = None
) -> ListOut[AnswerOut]:
    await visible_account(session, account_id, user)
    query = select(CannedAnswer).where(CannedAnswer.account_id == account_id).order_by(CannedAnswer.name)
    if search:
        query = query.where(
            or_(
                CannedAnswer.name.icontains(search, autoescape=True),
                CannedAnswer.value.icontains(search, autoescape=True),
            )
        )
    count, rows = await paginate(session, query, page)
    return ListOut(count=count, rows=[AnswerOut.model_validate(row) for row in rows])


@router.post("/answers", status_code=status.HTTP_201_CREATED)
async def create_answer(account_id: int, body: AnswerIn, _: AdminUser, session: SessionDep) -> AnswerOut:
    await get_or_404(session, Account, account_id, "account")
    answer = CannedAnswer(account_id=account_id, **body.model_dump())
    session.add(answer)
    await session.flush()
    return AnswerOut.model_validate(answer)


@router.get("/answers/{answer_id}")
async def get_answer(account_id: int, answer_id: int, user: CurrentUser, session: SessionDep) -> AnswerOut:
    await visible_account(session, account_id, user)
    return AnswerOut.model_validate(await _owned(session, CannedAnswer, account_id, answer_id))


@router.patch("/answers/{answer_id}")
@router.put("/answers/{answer_id}")  # the same update, under its own operation id
async def update_answer(
    account_id: int, answer_id: int, body: AnswerPatch, _: AdminUser, session: SessionDep
) -> AnswerOut:
    answer = await _owned(session, CannedAnswer, account_id, answer_id)
    apply_patch(answer, body)
    await session.flush()
    return AnswerOut.model_validate(answer)


@router.delete("/answers/{answer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_answer(account_id: int, answer_id: int, _: AdminUser, session: SessionDep) -> None:
    await session.delete(await _owned(session, CannedAnswer, account_id, answer_id))


# Dispositions -----------------------------------------------------------------------------------


@router.get("/dispositions")
async def list_dispositions(
    account_id: int, user: CurrentUser, session: SessionDep, page: PageDep
) -> ListOut[DispositionOut]:
    await visible_account(session, account_id, user)
    query = (
        select(Disposition)
        .where(Disposition.account_id == account_id)
        .order_by(Disposition.level, Disposition.name)
    )
    count, rows = await paginate(session, query, page)
    return ListOut(count=count, rows=[DispositionOut.model_validate(row) for row in rows])


@router.post("/dispositions", status_code=status.HTTP_201_CREATED)
async def create_disposition(
    account_id: int, body: DispositionIn, _: AdminUser, session: SessionDep
) -> DispositionOut:
    await get_or_404(session, Account, account_id, "account")
    if body.parent_id is not None:
        parent = await session.get(Disposition, body.parent_id)
        if parent is None or parent.account_id != account_id:
            raise invalid({"parent_id": "is not a disposition of this account"})
        if parent.level != body.level - 1:
            raise invalid(
                {"parent_id": f"a level {body.level} disposition needs a parent of level {body.level - 1}"}
            )
    disposition = Disposition(account_id=account_id, **body.model_dump())
    session.add(disposition)
    await session.flush()
    return DispositionOut.model_validate(disposition)


@router.patch("/dispositions/{disposition_id}")
@router.put("/dispositions/{disposition_id}")  # the same update, under its own operation id
async def update_disposition(
    account_id: int, disposition_id: int, body: DispositionPatch, _: AdminUser, session: SessionDep
) -> DispositionOut:
    """Only the name changes; moving a disposition in the tree is delete and create."""
    disposition = await _owned(session, Disposition, account_id, disposition_id)
    disposition.name = body.name
    await session.flush()
    return DispositionOut.model_validate(disposition)


@router.delete("/dispositions/{disposition_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_disposition(account_id: int, disposition_id: int, _: AdminUser, session: SessionDep) -> None:
    disposition = await _owned(session, Disposition, account_id, disposition_id)
    await ensure_unreferenced(
        session,
        f"disposition {disposition.name}",
        [
            (
                "dispositions under it",
                select(Disposition.name).where(Disposition.parent_id == disposition_id),
            ),
            (
                "close steps of the action plan",
                select(Action.position).where(Action.disposition_id == disposition_id),
            ),
        ],
    )
    await session.delete(disposition)


# Action plan ------------------------------------------------------------------------------------


@router.get("/actions")
async def get_actions(account_id: int, _: StaffUser, session: SessionDep) -> list[StepOut]:
    await get_or_404(session, Account, account_id, "account")
    return await load_plan(session, account_id)


@router.put("/actions")
async def replace_actions(
    account_id: int, body: list[StepIn], _: AdminUser, session: SessionDep
) -> list[StepOut]:
    """Replace the whole ordered plan; steps are numbered from 1 in the order sent."""
    await get_or_404(session, Account, account_id, "account", lock=True)
    actions = await build_plan(session, account_id, body)
    await session.execute(delete(Action).where(Action.account_id == account_id))
    session.add_all(actions)
    await session.flush()
    return await load_plan(session, account_id)
