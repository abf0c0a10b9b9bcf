"""`GET /api/reports/summary`: how interactions were answered over a period, grouped by agent,
queue, account or day, as JSON or (with `Accept: text/csv`) as CSV.

Every figure comes from api.supervisor.measures, the definitions the live view and the export
share; an interaction belongs to the period it started in, an offer to the period it was made in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import SQLColumnExpression, Subquery, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import SessionDep, StaffUser
from api.errors import invalid
from api.interactions.service import display_name
from api.supervisor.measures import OUTCOMES, ServiceLevelOut, interaction_facts, service_level
from domain.spreadsheet import neutralised
from models import Account, Interaction, Offer, Queue, User

router = APIRouter(prefix="/api/reports", tags=["supervisor"])

NONE = "(none)"  # the group of interactions with no queue or no agent


class GroupBy(StrEnum):
    agent = "agent"  # the interaction's owner (its last one, for a transferred interaction)
    queue = "queue"  # the queue it was last routed through
    account = "account"
    day = "day"  # the UTC day it started


class SummaryRow(ServiceLevelOut):
    group: str = Field(description="the agent's, queue's or account's id, or the day (YYYY-MM-DD, UTC)")
    name: str = Field(
        description=f"the agent's name, the queue's name, the account's key or the day; {NONE!r}"
    )
    offers: dict[str, int] = Field(description="offers made in the period, by outcome (pending too)")


class SummaryOut(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    group_by: GroupBy
    rows: list[SummaryRow]
    total: SummaryRow = Field(description="the whole period, every group together")


COLUMNS = ["group", "name", *ServiceLevelOut.model_fields, *(f"offers_{o.value}" for o in OUTCOMES)]

SUMMARY_DESCRIPTION = f"""The measures of `GET /api/supervisor/live`'s service level over `from`
(inclusive) to `to` (exclusive), both with a time zone, one row per group in id (or day) order,
and the period's total. With `Accept: text/csv`: a CSV (`text/csv; charset=utf-8`, a header row,
the total last with the group `total`) of the columns {", ".join(COLUMNS)}; cells a spreadsheet
would run as a formula start with `'`."""


@router.get(
    "/summary",
    response_model=SummaryOut,
    description=SUMMARY_DESCRIPTION,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def summary(
    _: StaffUser,
    session: SessionDep,
    from_: Annotated[AwareDatetime, Query(alias="from", description="the period's start")],
    to: Annotated[AwareDatetime, Query(description="the period's end (exclusive)")],
    group_by: GroupBy = GroupBy.day,
    accept: Annotated[str, Header(include_in_schema=False)] = "",
) -> SummaryOut | Response:
    if to <= from_:
        raise invalid({"query.to": "must be after from"})
    rows = await _rows(session, from_, to, group_by)
    total = await _rows(session, from_, to, None)
    report = SummaryOut.model_validate(
        {"from": from_, "to": to, "group_by": group_by, "rows": rows, "total": total[0]}
    )
    if "text/csv" in accept:
        return Response(_csv(report), media_type="text/csv; charset=utf-8")
    return report


async def _rows(
    session: AsyncSession, start: datetime, end: datetime, group_by: GroupBy | None
) -> list[dict[str, Any]]:
    """One row per group (group_by None: one row, `total`), in id or day order, no-queue or
    no-agent last."""
    facts = interaction_facts(Interaction.started_at >= start, Interaction.started_at < end)
    measures = select(*service_level(facts))
    offers = (
        select(Offer.status, func.count())
        .join(Interaction, Interaction.id == Offer.interaction_id)
        .where(Offer.offered_at >= start, Offer.offered_at < end)
        .group_by(Offer.status)
    )
    if group_by is None:
        measured = {"total": (await session.execute(measures)).one()._asdict()}
        outcomes = {"total": _outcomes(await session.execute(offers))}
    else:
        key, offer_key = _keys(group_by, facts)
        measured = {
            row.key: row._asdict()
            for row in await session.execute(measures.add_columns(key.label("key")).group_by(key))
        }
        by_group: dict[Any, list[tuple[Any, int]]] = {}
        for group, outcome, count in await session.execute(
            offers.with_only_columns(offer_key, Offer.status, func.count()).group_by(offer_key)
        ):
            by_group.setdefault(group, []).append((outcome, count))
        outcomes = {group: _outcomes(counted) for group, counted in by_group.items()}
    groups = sorted(measured.keys() | outcomes.keys(), key=lambda group: (group is None, group))
    names = await _names(session, group_by, set(groups))
    return [
        {
            "started": 0,
            "accepted": 0,
            "within_sla": 0,
            "abandoned": 0,
            **measured.get(group, {}),
            "group": "" if group is None else str(group),
            "name": names.get(group, NONE if group is None else str(group)),
            "offers": outcomes.get(group, _outcomes([])),
        }
        for group in groups
    ]


def _outcomes(counted: Iterable[Any]) -> dict[str, int]:
    """Offers by outcome, every outcome present."""
    outcomes = {status.value: 0 for status in OUTCOMES}
    for status, count in counted:
        outcomes[status.value] = count
    return outcomes


def _keys(group_by: GroupBy, facts: Subquery) -> tuple[SQLColumnExpression[Any], SQLColumnExpression[Any]]:
    """What interactions (in `facts`) and offers are grouped by."""
    match group_by:
        case GroupBy.agent:
            return facts.c.owner_id, Offer.agent_id
        case GroupBy.queue:
            return facts.c.queue_id, Offer.queue_id
        case GroupBy.account:
            return facts.c.account_id, Interaction.account_id
        case GroupBy.day:
            return facts.c.day, func.date(func.timezone("UTC", Offer.offered_at))


async def _names(session: AsyncSession, group_by: GroupBy | None, ids: set[Any]) -> dict[Any, str]:
    """Each group's name to people: an agent's display name, a queue's name, an account's key."""
    wanted = [ident for ident in ids if ident is not None]
    match group_by:
        case GroupBy.agent:
            query = select(User.id, display_name(User)).where(User.id.in_(wanted))
        case GroupBy.queue:
            query = select(Queue.id, Queue.name).where(Queue.id.in_(wanted))
        case GroupBy.account:
            query = select(Account.id, Account.key).where(Account.id.in_(wanted))
        case _:
            return {}
    return {ident: name for ident, name in (await session.execute(query)).all()}


def _csv(report: SummaryOut) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in [*report.rows, report.total]:
        plain = row.model_dump(exclude={"offers"})
        cells = [plain[name] for name in COLUMNS if name in plain]
        writer.writerow(neutralised([*cells, *(row.offers[outcome.value] for outcome in OUTCOMES)]))
    return out.getvalue()
