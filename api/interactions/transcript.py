"""One interaction as a zip a person can read and keep: `transcript.txt` and `transcript.html`
(the thread and its timeline in time order) and, when asked, every stored media file.

The zip is written as it is read, never whole in memory: messages, timeline events and offers are
read by keyset in batches (a short session each, so a slow download holds no connection), merged
by time, and each entry is deflated into the response as it goes (a zip written to a stream
carries its sizes after each entry's data). Media files are read from the media store in chunks."""

from __future__ import annotations

import asyncio
import io
import os
import re
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from api.deps import CurrentUser, ServicesDep, SessionDep
from api.directory.schemas import Timezone
from api.interactions.service import display_name, in_batches, visible_interaction
from api.interactions.transcript_render import (
    Entry,
    Heading,
    HtmlTranscript,
    TextTranscript,
    describe,
    local_time,
)
from models import (
    Account,
    Direction,
    Disposition,
    InteractionEvent,
    Message,
    Offer,
    Queue,
    User,
)

router = APIRouter(prefix="/api/whatsapp/interactions", tags=["interactions"])

BATCH = 500
CHUNK = 256 * 1024  # media files are copied into the zip this much at a time
# Timeline events that repeat a message the thread shows anyway.
MESSAGE_EVENTS = ("message_out", "message_retried", "note", "autoreply")


TRANSCRIPT_DESCRIPTION = """A zip of the interaction for people to read and keep, streamed:

- `transcript.txt` and `transcript.html`: the interaction's facts (account, contact, status, owner,
  queue, tags, disposition, started and closed), then every message, internal note and timeline
  event (offers and their outcome, accepts, transfers, tags, close and disposition, routing trouble)
  in time order, each with its time (ISO 8601 in `time_zone`, default UTC), who wrote or did it, and
  for messages to the contact their delivery status. Internal notes are marked INTERNAL NOTE: they
  were never sent to the contact.
- with `attachments=true`, every stored media file (inbound and uploaded) under
  `attachments/{message_id}-{file name}`, the name reduced to letters, digits, `.`, `-` and `_`
  (no directories); the transcript names each message's file.

For whoever may read the interaction's messages: admins and supervisors, and the agents of its
account (as `GET .../messages`). Reading it marks nothing read."""


@router.get(
    "/{interaction_id}/transcript.zip",
    response_class=StreamingResponse,
    description=TRANSCRIPT_DESCRIPTION,
    responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def get_transcript(
    interaction_id: int,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    attachments: Annotated[bool, Query(description="include the stored media files")] = False,
    time_zone: Annotated[Timezone, Query(description="IANA zone of the transcript's times")] = "UTC",
) -> StreamingResponse:
    """The interaction's transcript, as a zip."""
    shown = await visible_interaction(session, interaction_id, user)
    zone = ZoneInfo(time_zone)
    account = await session.get(Account, shown.account_id)
    owner = await session.get(User, shown.owner_id) if shown.owner_id is not None else None
    queue = await session.get(Queue, shown.queue_id) if shown.queue_id is not None else None
    contact = f"{shown.contact.first_name} {shown.contact.last_name}".strip() or shown.contact.mobile
    heading = Heading(
        interaction_id,
        shown.started_at,
        f"{account.name} ({account.key})" if account else "",
        contact,
        f"{contact} (+{shown.contact.mobile})",
        [
            ("Status", shown.status.value),
            ("Owner", (owner.full_name or owner.username) if owner else ""),
            ("Queue", queue.name if queue else ""),
            ("Tags", ", ".join(shown.tags)),
            ("Disposition", " / ".join(await _disposition_path(session, shown.disposition_id))),
            ("Started", local_time(shown.started_at, zone)),
            ("Closed", local_time(shown.closed_at, zone) if shown.closed_at else ""),
            ("Times in", time_zone),
        ],
    )
    zip_name = f"interaction-{interaction_id}-transcript.zip"
    return StreamingResponse(
        _zip(services.sessionmaker, services.settings.media_dir, heading, zone, attachments=attachments),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{zip_name}"'},
    )


async def _disposition_path(session: SessionDep, disposition_id: int | None) -> list[str]:
    names: list[str] = []
    while disposition_id is not None and len(names) < 3:
        disposition = await session.get(Disposition, disposition_id)
        if disposition is None:
            break
        names.insert(0, disposition.name)
        disposition_id = disposition.parent_id
    return names


async def _zip(
    sessions: async_sessionmaker[AsyncSession],
    media_root: Path,
    heading: Heading,
    zone: tzinfo,
    *,
    attachments: bool,
) -> AsyncIterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, renderer in (("transcript.txt", TextTranscript), ("transcript.html", HtmlTranscript)):
            render = renderer(heading, zone)
            with archive.open(_member(name, heading.started_at, zone, zipfile.ZIP_DEFLATED), "w") as out:
                out.write(render.start())
                entries = _entries(sessions, media_root, heading, attachments=attachments)
                written = 0
                async for entry in entries:
                    out.write(render.entry(entry))
                    written += 1
                    if written % BATCH == 0:
                        yield sink.take()
                out.write(render.end())
            yield sink.take()
        if attachments:
            async for rows in in_batches(
                sessions, lambda after: _media_page(heading.interaction_id, after), BATCH
            ):
                for (message,) in rows:
                    source = stored_file(media_root, message.media)
                    if source is None:
                        continue
                    try:
                        handle = source.open("rb")
                    except OSError:  # deleted since: the transcript says it was stored, the zip lacks it
                        continue
                    member = _member(attachment_name(message.id, message.media), message.created_at, zone)
                    member.file_size = os.fstat(handle.fileno()).st_size  # a large file is written as zip64
                    with handle, archive.open(member, "w") as out:
                        while chunk := await asyncio.to_thread(handle.read, CHUNK):
                            out.write(chunk)
                            yield sink.take()
    yield sink.take()


class _Sink(io.RawIOBase):
    """Where the zip is written: a stream that cannot seek, emptied into the response as it fills."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        taken = b"".join(self._parts)
        self._parts.clear()
        return taken


def _member(name: str, at: datetime, zone: tzinfo, compression: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    local = at.astimezone(zone)
    stamp = (local.year, local.month, local.day, local.hour, local.minute, local.second)
    member = zipfile.ZipInfo(name, stamp if local.year >= 1980 else (1980, 1, 1, 0, 0, 0))
    member.compress_type = compression  # media is compressed already: stored as is
    return member


def _media_page(interaction_id: int, after: int) -> Select[Message]:
    return (
        select(Message)
        .where(
            Message.interaction_id == interaction_id, Message.id > after, Message.media["path"].isnot(None)
        )
        .order_by(Message.id)
        .limit(BATCH)
    )


UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def attachment_name(message_id: int, media: dict[str, Any] | None) -> str:
    """The media file's name in the zip: `attachments/{message_id}-{name}`, the sender's file name
    reduced to letters, digits, `.`, `-` and `_` (no directory, no leading dot), with the stored
    file's extension where it has none."""
    media = media or {}
    original = PurePosixPath(str(media.get("filename") or "").replace("\\", "/")).name
    name = UNSAFE.sub("_", original).strip("._")[:100]
    if not PurePosixPath(name).suffix:
        extension = UNSAFE.sub("_", PurePosixPath(str(media.get("path") or "")).suffix)[:10]
        name = (name or "media") + (extension if len(extension) > 1 else "")
    return f"attachments/{message_id}-{name}"


def stored_file(root: Path, media: dict[str, Any] | None) -> Path | None:
    """The stored file of a message's media, if there is one inside the media store."""
    relative = (media or {}).get("path")
    if not isinstance(relative, str) or not relative:
        return None
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    return path


async def _entries(
    sessions: async_sessionmaker[AsyncSession], media_root: Path, heading: Heading, *, attachments: bool
) -> AsyncIterator[Entry]:
    """The thread, the timeline and the offers, merged by time."""
    interaction_id = heading.interaction_id
    sources = [
        _messages(sessions, media_root, heading, attachments=attachments),
        _events(sessions, interaction_id),
        _offers(sessions, interaction_id),
    ]
    heads = [await anext(source, None) for source in sources]
    while any(head is not None for head in heads):
        index = min((i for i, head in enumerate(heads) if head is not None), key=lambda i: heads[i].at)  # type: ignore[union-attr]
        entry = heads[index]
        assert entry is not None
        yield entry
        heads[index] = await anext(sources[index], None)


async def _paged(
    sessions: async_sessionmaker[AsyncSession], page: Callable[[int], Select[*tuple[Any, ...]]]
) -> AsyncIterator[Row[*tuple[Any, ...]]]:
    async for rows in in_batches(sessions, page, BATCH, key=lambda row: int(row[0].id)):
        for row in rows:
            yield row


async def _messages(
    sessions: async_sessionmaker[AsyncSession], media_root: Path, heading: Heading, *, attachments: bool
) -> AsyncIterator[Entry]:
    sender = aliased(User)

    def page(after: int) -> Select[*tuple[Any, ...]]:
        return (
            select(Message, display_name(sender))
            .outerjoin(sender, sender.id == Message.sender_id)
            .where(Message.interaction_id == heading.interaction_id, Message.id > after)
            .order_by(Message.id)
            .limit(BATCH)
        )

    async for message, sender_name in _paged(sessions, page):
        yield message_entry(message, sender_name, heading.contact_name, media_root, attachments=attachments)


def message_entry(
    message: Message, sender_name: str | None, contact: str, media_root: Path, *, attachments: bool
) -> Entry:
    if message.direction is Direction.inbound:
        who = contact
    else:
        origin = (message.payload or {}).get("origin")
        who = sender_name or ("Autoreply" if origin == "autoreply" else "Shareline")
    status = ""
    if message.direction is Direction.outbound and message.status is not None:
        status = message.status.value
        if message.error_code or message.error_text:
            status += f" ({': '.join(part for part in (message.error_code, message.error_text) if part)})"
    attachment = ""
    if message.media:
        if stored_file(media_root, message.media) is None:
            attachment = f"{message.type.value}, not stored"
        elif attachments:
            attachment = attachment_name(message.id, message.media)
        else:
            attachment = f"{message.type.value}, not included (attachments=false)"
    return Entry(message.created_at, who, message.text, message.direction.value, status, attachment)


async def _events(sessions: async_sessionmaker[AsyncSession], interaction_id: int) -> AsyncIterator[Entry]:
    actor, agent = aliased(User), aliased(User)
    actor_id = func.coalesce(InteractionEvent.actor_id, InteractionEvent.data["from"].as_integer())
    agent_id = func.coalesce(
        InteractionEvent.data["agent_id"].as_integer(), InteractionEvent.data["owner_id"].as_integer()
    )

    def page(after: int) -> Select[*tuple[Any, ...]]:
        return (
            select(InteractionEvent, display_name(actor), display_name(agent), Queue.name, Disposition.name)
            .outerjoin(actor, actor.id == actor_id)
            .outerjoin(agent, agent.id == agent_id)
            .outerjoin(Queue, Queue.id == InteractionEvent.data["queue_id"].as_integer())
            .outerjoin(Disposition, Disposition.id == InteractionEvent.data["disposition_id"].as_integer())
            .where(
                InteractionEvent.interaction_id == interaction_id,
                InteractionEvent.id > after,
                InteractionEvent.kind.not_in(MESSAGE_EVENTS),
            )
            .order_by(InteractionEvent.id)
            .limit(BATCH)
        )

    async for event, actor_name, agent_name, queue_name, disposition in _paged(sessions, page):
        text = describe(event.kind, event.data or {}, agent_name, queue_name, disposition)
        yield Entry(event.at, actor_name or "", text, "event")  # no actor: routing did it


async def _offers(sessions: async_sessionmaker[AsyncSession], interaction_id: int) -> AsyncIterator[Entry]:
    agent = aliased(User)

    def page(after: int) -> Select[*tuple[Any, ...]]:
        return (
            select(Offer, display_name(agent), Queue.name)
            .join(agent, agent.id == Offer.agent_id)
            .outerjoin(Queue, Queue.id == Offer.queue_id)
            .where(Offer.interaction_id == interaction_id, Offer.id > after)
            .order_by(Offer.id)
            .limit(BATCH)
        )

    async for offer, agent_name, queue_name in _paged(sessions, page):
        via = f" via queue {queue_name}" if queue_name else ""
        text = f"offered to {agent_name}{via} ({offer.kind.value.replace('_', ' ')}): {offer.status.value}"
        yield Entry(offer.offered_at, "", text, "event")
