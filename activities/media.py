"""Inbound media: fetched from the provider (with its auth) into Shareline's media store."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import PROVIDER_REJECTED, ProviderAccess, load_provider_account, retryable
from models import Message
from providers import PROVIDERS
from providers.base import MediaRef, SendError


@dataclass
class StoreMedia:
    message_id: int


@dataclass
class StoredMedia:
    path: str
    size: int
    sha256: str


@dataclass
class MediaFailure:
    message_id: int
    reason: str


class MediaStore:
    """Files under one root, named by account, message and content hash; written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, account_id: int, message_id: int, content: bytes, content_type: str | None) -> StoredMedia:
        digest = hashlib.sha256(content).hexdigest()
        extension = mimetypes.guess_extension((content_type or "").split(";", 1)[0].strip()) or ".bin"
        relative = Path(str(account_id)) / f"{message_id}-{digest[:16]}{extension}"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
            handle.write(content)
            temporary = Path(handle.name)
        os.replace(temporary, target)
        return StoredMedia(path=str(relative), size=len(content), sha256=digest)


class MediaActivities:
    def __init__(self, access: ProviderAccess, store: MediaStore, max_bytes: int) -> None:
        self._access = access
        self._store = store
        self._max_bytes = max_bytes

    @activity.defn
    async def store_media(self, request: StoreMedia) -> StoredMedia:
        async with self._access.sessions() as session:
            message = await session.get(Message, request.message_id)
            if message is None or not message.media:
                raise ApplicationError(f"message {request.message_id} has no media", non_retryable=True)
            if message.media.get("path"):  # already stored by an earlier attempt
                return StoredMedia(message.media["path"], message.media["size"], message.media["sha256"])
            account = await load_provider_account(session, self._access.box, message.account_id)
            reference = MediaRef(
                reference=message.media["reference"],
                mime_type=message.media.get("mime_type"),
                filename=message.media.get("filename"),
            )
        provider = PROVIDERS[account.type]
        try:
            content, content_type = await provider.fetch_media(
                self._access.http, self._access.endpoints, account, reference
            )
        except SendError as error:
            if error.retryable:
                raise retryable(error) from error
            raise ApplicationError(
                error.text, error.code, type=PROVIDER_REJECTED, non_retryable=True
            ) from error
        if len(content) > self._max_bytes:
            raise ApplicationError(
                f"the media is {len(content)} bytes, over the {self._max_bytes} byte limit",
                type=PROVIDER_REJECTED,
                non_retryable=True,
            )
        stored = self._store.save(account.id, request.message_id, content, content_type)
        await self._update_media(
            request.message_id,
            {"path": stored.path, "size": stored.size, "sha256": stored.sha256, "content_type": content_type,
             "status": "stored"},
        )  # fmt: skip
        return stored

    @activity.defn
    async def record_media_failure(self, failure: MediaFailure) -> None:
        await self._update_media(failure.message_id, {"status": "failed", "error": failure.reason[:500]})

    async def _update_media(self, message_id: int, changes: dict[str, Any]) -> None:
        async with self._access.sessions() as session, session.begin():
            message = await session.get(Message, message_id, with_for_update=True)
            if message is not None and message.media is not None:
                message.media = {**message.media, **changes}
