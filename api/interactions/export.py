"""The interactions as CSV, one row per interaction, streamed: a supervisor's spreadsheet of who
handled what, how fast, and how it ended.

The rows are read by keyset in batches of EXPORT_BATCH, each batch in a short session of its own,
and written out as they are read, so 100,000 rows cost as much memory as one batch and a slow
client holds no database connection while it reads. The rows are those the list would show for
the same filters (`api.interactions.service.matching_ids`), in interaction id order."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import Row, Select, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from api.deps import ServicesDep, SessionDep, StaffUser
from api.errors import not_found
from api.interactions.schemas import ExportIn, InteractionFilters
from api.interactions.service import display_name, in_batches, matching_ids, visible_accounts
from api.supervisor.measures import handle_seconds, seconds, wait_seconds
from domain.spreadsheet import neutralised
from models import (
    Account,
    Contact,
    Direction,
    Disposition,
    Interaction,
    Message,
    Offer,
    Queue,
    User,
)
from models.routing import first_accepted

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["interactions"])

EXPORT_BATCH = 1000

# The CSV's columns, in order, and what each holds (the route's OpenAPI description lists them).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("interaction_id", "the interaction's id"),
    ("account_key", "the account's key"),
    ("contact_name", "the contact's first and last name"),
    ("contact_mobile", "the contact's mobile number (international digits)"),
    ("status", "open, open-pending or closed"),
    ("owner", "the agent who owns (or last owned) it: full name, else username"),
    ("queue", "the queue it was last routed through"),
    ("tags", "its tags, separated by a comma and a space"),
    ("disposition_level_1", "the disposition's level-1 name"),
    ("disposition_level_2", "the level-2 name, where the disposition is of level 2 or 3"),
    ("disposition_level_3", "the level-3 name, where the disposition is of level 3"),
    ("started_at", "when the contact's first message started it"),
    ("first_offered_at", "when it was first offered to an agent"),
    ("accepted_at", "when an agent first accepted it"),
    ("wait_seconds", "accepted_at - started_at: how long the contact waited for an agent"),
    ("first_reply_at", "when an agent first wrote to the contact (autoreplies are not agents)"),
    ("first_response_seconds", "first_reply_at - started_at: the first response time"),
    ("closed_at", "when it was closed"),
    ("handle_seconds", "closed_at - accepted_at: the handle time"),
    ("inbound_messages", "messages from the contact"),
    ("outbound_messages", "messages to the contact (agents' replies, autoreplies, templates)"),
    ("last_message_at", "when the latest message was written"),
    ("last_message", "the latest message's first 200 characters"),
)
HEADER = [name for name, _ in COLUMNS]

EXPORT_DESCRIPTION = f"""One CSV row per interaction (`text/csv; charset=utf-8`, with a byte order
mark so spreadsheets read it as UTF-8; a header row first; streamed, in interaction id order).

The body is `{{"ids": [...]}}` for those interactions, or the list's filters (the query parameters
of `GET /api/whatsapp/interactions`, as JSON fields) for every interaction they match; an empty body
exports every interaction. Unknown ids answer 404. Admins and supervisors only.

Times are ISO 8601 with their UTC offset, in `time_zone` (an IANA name; default `UTC`); durations
are whole seconds; a cell is empty where the fact is unknown (never accepted, still open...). A cell
that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a leading `'`, so a
spreadsheet shows it as text instead of running it as a formula.

Columns:

{chr(10).join(f"- `{name}`: {meaning}" for name, meaning in COLUMNS)}
"""


@router.post(
    "/export",
    response_class=StreamingResponse,
    description=EXPORT_DESCRIPTION,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the CSV"},
        404: {"description": "one of `ids` is not an interaction"},
    },
)
async def export_interactions(
    body: ExportIn, user: StaffUser, session: SessionDep, services: ServicesDep
) -> StreamingResponse:
    """Export interactions as CSV."""
    # The ids query is built here, while the user is loaded: the stream runs after the request's
    # session has closed. The same ids the list pages (matching_ids), with no joins they do not need.
    accounts = await visible_accounts(session, user)
    if body.ids is not None:
        wanted = set(body.ids)
        found = set((await session.scalars(select(Interaction.id).where(Interaction.id.in_(wanted)))).all())
        if missing := sorted(wanted - found):
            raise not_found("interaction", ", ".join(map(str, missing[:10])))
        ids = matching_ids(InteractionFilters(), accounts).where(Interaction.id.in_(wanted))
    else:
        ids = matching_ids(body, accounts)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        _csv(services.sessionmaker, ids, ZoneInfo(body.time_zone)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="interactions-{stamp}.csv"'},
    )


async def _csv(
    sessions: async_sessionmaker[AsyncSession], ids: Select[int], zone: tzinfo
) -> AsyncIterator[bytes]:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield ("\ufeff" + _drain(text)).encode()

    def page(after: int) -> Select[*tuple[Any, ...]]:
        return export_rows(ids.where(Interaction.id > after).order_by(Interaction.id).limit(EXPORT_BATCH))

    async for rows in in_batches(sessions, page, EXPORT_BATCH):
        writer.writerows(neutralised(cells(row, zone)) for row in rows)
        yield _drain(text).encode()


def _drain(text: io.StringIO) -> str:
    written = text.getvalue()
    text.seek(0)
    text.truncate()
    return written


def export_rows(ids: Select[int]) -> Select[*tuple[Any, ...]]:
    """The export's facts of the interactions `ids` selects, one row each, in id order."""
    owner, level, parent, grandparent = (
        aliased(User),
        aliased(Disposition),
        aliased(Disposition),
        aliased(Disposition),
    )
    traffic = (
        select(
            func.count().filter(Message.direction == Direction.inbound).label("inbound"),
            func.count().filter(Message.direction == Direction.outbound).label("outbound"),
            func.min(Message.created_at)
            .filter(Message.direction == Direction.outbound, Message.sender_id.is_not(None))
            .label("first_reply_at"),
        )
        .where(Message.interaction_id == Interaction.id)
        .lateral("traffic")
    )
    first_offered = select(func.min(Offer.offered_at)).where(Offer.interaction_id == Interaction.id)
    acceptance = first_accepted(Interaction.id).lateral("acceptance")
    accepted = acceptance.c.accepted_at
    return (
        select(
            Interaction.id,
            Account.key,
            Contact.first_name,
            Contact.last_name,
            Contact.mobile,
            Interaction.status,
            display_name(owner),
            Queue.name,
            Interaction.tags,
            level.name,
            level.level,
            parent.name,
            parent.level,
            grandparent.name,
            grandparent.level,
            Interaction.started_at,
            first_offered.scalar_subquery(),
            accepted,
            wait_seconds(Interaction.started_at, accepted),
            traffic.c.first_reply_at,
            seconds(Interaction.started_at, traffic.c.first_reply_at),
            Interaction.closed_at,
            handle_seconds(accepted, Interaction.closed_at),
            traffic.c.inbound,
            traffic.c.outbound,
            Interaction.last_message_at,
            Interaction.last_message,
        )
        .join(Account, Account.id == Interaction.account_id)
        .join(Contact, Contact.id == Interaction.contact_id)
        .outerjoin(owner, owner.id == Interaction.owner_id)
        .outerjoin(Queue, Queue.id == Interaction.queue_id)
        .outerjoin(level, level.id == Interaction.disposition_id)
        .outerjoin(parent, parent.id == level.parent_id)
        .outerjoin(grandparent, grandparent.id == parent.parent_id)
        .outerjoin(traffic, true())
        .outerjoin(acceptance, true())
        .where(Interaction.id.in_(ids))
        .order_by(Interaction.id)
    )


def cells(row: Row[*tuple[Any, ...]], zone: tzinfo) -> list[object]:
    """One exported row's cells, in COLUMNS order."""
    (id_, key, first, last, mobile, status, owner, queue, tags, *path, started, offered, accepted, wait,
     replied, response, closed, handle, inbound, outbound, last_at, last_message) = row  # fmt: skip
    levels = ["", "", ""]
    for name, depth in zip(path[0::2], path[1::2], strict=True):
        if name is not None and 1 <= depth <= 3:
            levels[depth - 1] = name
    return [
        id_, key, f"{first} {last}".strip(), mobile, status.value, owner or "", queue or "", ", ".join(tags),
        *levels,
        _at(started, zone), _at(offered, zone), _at(accepted, zone), _whole(wait),
        _at(replied, zone), _whole(response), _at(closed, zone), _whole(handle),
        inbound, outbound, _at(last_at, zone), last_message,
    ]  # fmt: skip


def _at(moment: datetime | None, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""


def _whole(seconds: float | None) -> int | str:
    return round(seconds) if seconds is not None else ""
