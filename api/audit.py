"""`GET /api/audit` (admins): the audit trail of destructive actions, newest first. Each record
names who did what to which rows by id and by value, so it reads right after the rows are gone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.crud import ListOut, Out, paginate
from api.deps import AdminUser, PageDep, SessionDep
from models import AuditRecord

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditFilters(BaseModel):
    action: str | None = Field(None, max_length=50, description="e.g. `interaction.delete`")
    actor_id: int | None = Field(None, description="the user who acted (its id, kept after it is deleted)")
    at_from: datetime | None = Field(None, description="records at or after this time")
    at_to: datetime | None = Field(None, description="records before this time")


class AuditOut(Out):
    id: int
    at: datetime
    action: str
    actor_id: int | None
    actor_name: str
    target_id: int | None = Field(
        description="the id of what was acted on (for a delete: the gone interaction)"
    )
    details: dict[str, Any] = Field(
        description="for `interaction.delete`: interaction_id, account_id, account_key, contact_id, "
        "contact_mobile, status, owner_id, owner, message_count, files"
    )


@router.get("")
async def list_audit(
    _: AdminUser, session: SessionDep, page: PageDep, filters: Annotated[AuditFilters, Query()]
) -> ListOut[AuditOut]:
    """The audit records matching the filters, newest first, paged."""
    query = select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc())
    if filters.action is not None:
        query = query.where(AuditRecord.action == filters.action)
    if filters.actor_id is not None:
        query = query.where(AuditRecord.actor_id == filters.actor_id)
    if filters.at_from is not None:
        query = query.where(AuditRecord.at >= filters.at_from)
    if filters.at_to is not None:
        query = query.where(AuditRecord.at < filters.at_to)
    count, rows = await paginate(session, query, page)
    return ListOut(count=count, rows=[AuditOut.model_validate(row) for row in rows])
