"""Inbound media: fetched from the provider (with its auth, from its own media hosts only, within
the size limit: `providers.media`) into Shareline's media store."""

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
from domain.redact import redact
from models import Message
from providers import PROVIDERS
from providers.base import MediaRef, SendError
from providers.media import MediaHost, MediaPolicy
from settings import Settings


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

    def remove(self, relative: str) -> None:
        """Remove a stored file; one already gone, or a path outside the store, is left alone."""
        path = (self.root / relative).resolve()
        if path.is_relative_to(self.root.resolve()):
            path.unlink(missing_ok=True)


def media_policy(settings: Settings) -> MediaPolicy:
    return MediaPolicy(
        max_bytes=settings.media_max_bytes,
        listed=tuple(MediaHost.parse(entry) for entry in settings.media_allowed_hosts),
    )


class MediaActivities:
    def __init__(self, access: ProviderAccess, store: MediaStore, policy: MediaPolicy) -> None:
        self._access = access
        self._store = store
        self._policy = policy

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
                self._access.http, self._access.api_bases[account.type], account, reference, self._policy
            )
        except SendError as error:
            if error.retryable:
                raise retryable(error) from error
            # A refused URL (a foreign host, a private address, too large) fails for good, saying
            # why; every credential value is blanked out, the sids being no agent's business either.
            reason = redact(error.text, account.credentials.values())
            raise ApplicationError(reason, error.code, type=PROVIDER_REJECTED, non_retryable=True) from error
        stored = self._store.save(account.id, request.message_id, content, content_type)
        kept = await self._update_media(
            request.message_id,
            {"path": stored.path, "size": stored.size, "sha256": stored.sha256, "content_type": content_type,
             "status": "stored"},
        )  # fmt: skip
        if not kept:  # the message was deleted while its file downloaded: leave no orphan file
            self._store.remove(stored.path)
        return stored

    @activity.defn
    async def record_media_failure(self, failure: MediaFailure) -> None:
        await self._update_media(failure.message_id, {"status": "failed", "error": redact(failure.reason)})

    async def _update_media(self, message_id: int, changes: dict[str, Any]) -> bool:
        """Apply `changes` to the message's media; False if the message is gone (deleted)."""
        async with self._access.sessions() as session, session.begin():
            message = await session.get(Message, message_id, with_for_update=True)
            if message is None or message.media is None:
                return False
            message.media = {**message.media, **changes}
            return True
