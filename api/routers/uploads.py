"""Media replies from an uploaded file, and the capability URL providers fetch it from.

Providers take outbound media by URL, so an uploaded file is stored in Shareline's media store
and offered at `{motion_domain}/api/whatsapp/media/{message_id}/{signature}`: no login (the
provider has none), but the HMAC signature (keyed by the secret key) makes the URL unguessable.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import FileResponse

from activities.media import MediaStore
from api.deps import CurrentUser, ServicesDep, SessionDep
from api.errors import AppError, invalid, not_found
from api.routers.interactions import MessageOut
from api.routers.replies import inside_window, outbound, send, sendable
from models import Direction, Message
from providers.base import media_type_for
from settings import Settings

router = APIRouter(tags=["replies"])


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
    limit = services.settings.media_max_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise AppError(413, "too_large", f"uploaded media is limited to {limit} bytes", {"file": "too large"})
    if not content:
        raise invalid({"file": "is empty"})
    mime = (file.content_type or "application/octet-stream").split(";", 1)[0].strip()
    message = outbound(interaction, user, media_type_for(mime), caption)
    session.add(message)
    await session.flush()
    stored = MediaStore(services.settings.media_dir).save(account.id, message.id, content, mime)
    signature = _signature(services.settings, message.id)
    message.media = {
        "url": f"{account.motion_domain}/api/whatsapp/media/{message.id}/{signature}",
        "path": stored.path,
        "content_type": mime,
        "filename": file.filename,
        "size": stored.size,
    }
    return await send(session, services, interaction, message)


@router.get(
    "/api/whatsapp/media/{message_id}/{signature}", response_class=FileResponse, include_in_schema=False
)
async def uploaded_media(
    message_id: int, signature: str, session: SessionDep, services: ServicesDep
) -> FileResponse:
    """The bytes of an uploaded outbound media message, for the provider to fetch."""
    if not hmac.compare_digest(signature, _signature(services.settings, message_id)):
        raise not_found("media", message_id)
    message = await session.get(Message, message_id)
    if (
        message is None
        or message.direction is not Direction.outbound
        or not (message.media or {}).get("path")
    ):
        raise not_found("media", message_id)
    assert message.media is not None
    return FileResponse(
        services.settings.media_dir / message.media["path"],
        media_type=message.media.get("content_type") or "application/octet-stream",
        filename=message.media.get("filename") or None,
    )


def _signature(settings: Settings, message_id: int) -> str:
    assert settings.secret_key is not None
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"outbound-media:{message_id}".encode(), hashlib.sha256).hexdigest()[:32]
