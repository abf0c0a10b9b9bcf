"""Media replies from an uploaded file, and the capability URL providers fetch it from.

Providers take outbound media by URL, so an uploaded file is stored in Shareline's media store
and offered at `{motion_domain}/media/{message_id}/{expires}/{signature}`, outside `/api`: no
login (the provider has none), but the HMAC signature (a key derived from the secret key for this
one use) over the message id and the expiry makes the URL unguessable, and it expires LINK_LIFETIME
after the upload, long enough for any provider to fetch it (they do within minutes). Links of the
earlier form `/media/{message_id}/{signature}` never expired: they are refused (404).

Only media types WhatsApp accepts are taken, and they are served as attachments browsers may not
sniff, so a link cannot carry a page into Shareline's origin. The upload is read only up to the
size limit: a larger Content-Length is refused before anything is read, and a body that runs past
the limit is refused as it does (413), so an oversized upload is never spooled to disk in full.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile
from starlette.types import Message as AsgiMessage

from activities.media import MediaStore
from api.deps import CurrentUser, ServicesDep, SessionDep
from api.errors import AppError, invalid, not_found
from api.interactions.errors import InteractionClosed
from api.interactions.schemas import MessageOut
from api.interactions.service import inside_window, outbound, send, sendable
from models import Direction, Message
from providers.base import media_type_for
from settings import Settings

router = APIRouter(tags=["replies"])

# What WhatsApp takes as media (Meta's list; the other providers take the same or a subset).
ALLOWED_MIME = frozenset(
    {
        "image/jpeg", "image/png",
        "video/mp4", "video/3gpp",
        "audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg",
        "text/plain", "application/pdf", "application/msword", "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)  # fmt: skip
LINK_LIFETIME = timedelta(hours=24)
CAPTION_MAX = 1024
# What a multipart body carries besides the file: boundaries, part headers, the caption.
FORM_OVERHEAD = 64 * 1024

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "the media to send"},
                    "caption": {"type": "string", "maxLength": CAPTION_MAX, "default": ""},
                },
            }
        }
    },
}


@dataclass
class Upload:
    file: UploadFile
    mime: str
    caption: str


async def read_upload(request: Request, services: ServicesDep) -> AsyncIterator[Upload]:
    """The multipart form, read only as far as the size limit allows. A route dependency, not
    FastAPI's form parsing (which spools the whole body first), listed before the session and
    the user so that no database connection is held while a client uploads."""
    limit = services.settings.media_max_bytes
    form = await _limited(request, limit).form(max_files=1, max_fields=1, max_part_size=4 * CAPTION_MAX)
    try:
        file, caption = form.get("file"), form.get("caption", "")
        if not isinstance(file, UploadFile):
            raise invalid({"file": "is required (a multipart/form-data file part)"})
        if not isinstance(caption, str) or len(caption) > CAPTION_MAX:
            raise invalid({"caption": f"must be text of at most {CAPTION_MAX} characters"})
        if file.size is not None and file.size > limit:
            raise _too_large(limit)
        mime = (file.content_type or "").split(";", 1)[0].strip().lower()
        yield Upload(file, mime, caption)
    finally:
        await form.close()


def _limited(request: Request, limit: int) -> Request:
    """The request, its body refused (413) once it is larger than `limit` bytes of file can make it."""
    allowed = limit + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > allowed:
        raise _too_large(limit)
    received = 0

    async def receive() -> AsgiMessage:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > allowed:
            raise _too_large(limit)
        return message

    return Request(request.scope, receive)


def _too_large(limit: int) -> AppError:
    return AppError(413, "too_large", f"uploaded media is limited to {limit} bytes", {"file": "is too large"})


@router.post(
    "/api/whatsapp/interactions/{interaction_id}/messages/upload",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "closed, or outside the service window"}, 413: {}},
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def reply_with_file(
    interaction_id: int,
    upload: Annotated[Upload, Depends(read_upload, scope="function")],
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> MessageOut:
    """Send an uploaded file (image, video, audio or document, multipart `file`) with an optional
    `caption`, up to SHARELINE_MEDIA_MAX_BYTES. The provider fetches it from a signed link that
    expires after LINK_LIFETIME (24 h)."""
    interaction, account = await sendable(session, interaction_id, user)
    inside_window(interaction)
    if upload.mime not in ALLOWED_MIME:
        raise invalid({"file": f"{upload.mime or 'an untyped file'} is not a media type WhatsApp takes"})
    content = await upload.file.read()
    if not content:
        raise invalid({"file": "is empty"})
    message = outbound(interaction, user, media_type_for(upload.mime), upload.caption)
    session.add(message)
    await session.flush()
    stored = MediaStore(services.settings.media_dir).save(account.id, message.id, content, upload.mime)
    expires = int(time.time() + LINK_LIFETIME.total_seconds())
    message.media = {
        "url": account.motion_domain + media_link(services.settings, message.id, expires),
        "path": stored.path,
        "content_type": upload.mime,
        "filename": upload.file.filename,
        "size": stored.size,
    }
    try:
        return await send(session, services, interaction, message)
    except AppError as error:
        if isinstance(error, InteractionClosed):  # the message is gone again: so is its file
            (services.settings.media_dir / stored.path).unlink(missing_ok=True)
        raise


@router.get("/media/{message_id}/{expires}/{signature}", response_class=FileResponse, include_in_schema=False)
async def uploaded_media(
    message_id: int,
    expires: int,
    signature: Annotated[str, PathParam(pattern="^[0-9a-f]{32}$")],
    session: SessionDep,
    services: ServicesDep,
) -> FileResponse:
    """The bytes of an uploaded outbound media message, for the provider to fetch: 404 unless the
    signature covers this message and expiry, 410 once the link has expired (24 h after upload)."""
    expected = _signature(services.settings, message_id, expires)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise not_found("media", message_id)
    if expires <= time.time():
        raise AppError(410, "link_expired", f"the link to media {message_id} has expired")
    message = await session.get(Message, message_id)
    media = message.media if message is not None and message.direction is Direction.outbound else None
    if not media or not media.get("path"):
        raise not_found("media", message_id)
    return FileResponse(
        services.settings.media_dir / media["path"],
        media_type=media["content_type"],
        filename=media.get("filename") or f"media-{message_id}",
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def media_link(settings: Settings, message_id: int, expires: int) -> str:
    """The path of the link to an uploaded message's media, valid until `expires` (Unix time)."""
    return f"/media/{message_id}/{expires}/{_signature(settings, message_id, expires)}"


def _signature(settings: Settings, message_id: int, expires: int) -> str:
    key = settings.purpose_key("outbound media links")
    return hmac.new(key, f"{message_id}/{expires}".encode(), "sha256").hexdigest()[:32]
