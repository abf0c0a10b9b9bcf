"""Media replies from an uploaded file, and the capability URL providers fetch it from.

Providers take outbound media by URL, so an uploaded file is stored in Shareline's media store
and offered at `{motion_domain}/media/{message_id}/{signature}`, outside `/api`: no login (the
provider has none), but the HMAC signature (a key derived from the secret key for this one use)
makes the URL unguessable. Only media types WhatsApp accepts are taken, and they are served as
attachments browsers may not sniff, so a link cannot carry a page into Shareline's origin.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from activities.media import MediaStore
from api.deps import CurrentUser, ServicesDep, SessionDep
from api.errors import AppError, invalid, not_found
from api.routers.interactions import MessageOut
from api.routers.replies import NOT_SENDABLE, inside_window, outbound, send, sendable
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


@router.post(
    "/api/whatsapp/interactions/{interaction_id}/messages/upload",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "closed, or outside the service window"}, 413: {}},
)
async def reply_with_file(
    interaction_id: int,
    file: Annotated[UploadFile, File(description="the media to send")],
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    caption: Annotated[str, Form(max_length=1024)] = "",
) -> MessageOut:
    """Send an uploaded file (image, video, audio or document) with an optional caption."""
    interaction, account = await sendable(session, interaction_id, user)
    inside_window(interaction)
    mime = (file.content_type or "").split(";", 1)[0].strip().lower()
    if mime not in ALLOWED_MIME:
        raise invalid({"file": f"{mime or 'an untyped file'} is not a media type WhatsApp takes"})
    limit = services.settings.media_max_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise AppError(
            413, "too_large", f"uploaded media is limited to {limit} bytes", {"file": "is too large"}
        )
    if not content:
        raise invalid({"file": "is empty"})
    message = outbound(interaction, user, media_type_for(mime), caption)
    session.add(message)
    await session.flush()
    stored = MediaStore(services.settings.media_dir).save(account.id, message.id, content, mime)
    message.media = {
        "url": f"{account.motion_domain}/media/{message.id}/{_signature(services.settings, message.id)}",
        "path": stored.path,
        "content_type": mime,
        "filename": file.filename,
        "size": stored.size,
    }
    try:
        return await send(session, services, interaction, message)
    except AppError as error:
        if error is NOT_SENDABLE:  # the message is gone again: so is its file
            (services.settings.media_dir / stored.path).unlink(missing_ok=True)
        raise


@router.get("/media/{message_id}/{signature}", response_class=FileResponse, include_in_schema=False)
async def uploaded_media(
    message_id: int,
    signature: Annotated[str, PathParam(pattern="^[0-9a-f]{32}$")],
    session: SessionDep,
    services: ServicesDep,
) -> FileResponse:
    """The bytes of an uploaded outbound media message, for the provider to fetch."""
    if not hmac.compare_digest(signature.encode(), _signature(services.settings, message_id).encode()):
        raise not_found("media", message_id)
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


def _signature(settings: Settings, message_id: int) -> str:
    assert settings.secret_key is not None
    secret = settings.secret_key.get_secret_value().encode()
    key = hashlib.sha256(b"shareline outbound media links\0" + secret).digest()
    return hmac.new(key, str(message_id).encode(), hashlib.sha256).hexdigest()[:32]
