"""The one small interface every WhatsApp provider module implements.

A provider verifies a webhook for an account, parses it into normalized inbound messages and
status updates, sends text / media / templates, and fetches inbound media. It holds no database
or Temporal handle: the webhook route and the activities do the I/O around it.
"""

from __future__ import annotations

import hmac
import json
import math
import mimetypes
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from domain.redact import redact
from models import DeliveryStatus, MessageType, ProviderType
from providers.config import Credentials, secret_fields

if TYPE_CHECKING:
    from providers.media import MediaPolicy
    from settings import Settings

# Webhook JSON nests a few levels (Meta: entry, changes, value, messages, interactive, ...). Deeper
# is refused before anything walks it: json, jsonb and our own code all recurse.
MAX_JSON_DEPTH = 64
# PostgreSQL text and jsonb hold neither NUL nor lone surrogates (a JSON "\ud800"): each is
# stored as U+FFFD, as a UTF-8 decoder shows what it cannot read.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class ProviderAccount:
    """What a provider needs of an account: credentials with secrets decrypted, and its public URL."""

    id: int
    type: ProviderType
    phone: str
    receive_url: str
    proxy_token: str
    credentials: dict[str, str]


@dataclass(frozen=True)
class WebhookRequest:
    headers: dict[str, str]  # lower-case names
    body: bytes
    content_type: str  # media type only, lower-case, no parameters

    def json(self) -> Any:
        """The body as JSON with every string storable, or WebhookRejected(400): not JSON, not
        UTF-8, nested deeper than MAX_JSON_DEPTH, NaN/Infinity or a number Python will not read."""
        try:
            parsed = json.loads(
                self.body, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant
            )
        except RecursionError as exc:
            raise _too_deep() from exc
        except ValueError as exc:  # also JSONDecodeError and UnicodeDecodeError
            raise WebhookRejected(400, "bad_json", f"the body is not valid JSON: {exc}") from exc
        return _storable(parsed, 0)


def _json_int(text: str) -> int:
    limit = sys.get_int_max_str_digits()  # 0: no limit
    if limit and len(text.lstrip("-")) > limit:
        raise ValueError(f"a number has more than {limit} digits")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep() -> WebhookRejected:
    return WebhookRejected(400, "too_deep", f"the JSON nests more than {MAX_JSON_DEPTH} levels deep")


def _storable(value: Any, depth: int) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise _too_deep()
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list):
        return [_storable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {storable_text(key): _storable(item, depth + 1) for key, item in value.items()}
    return value


def storable_text(text: str) -> str:
    """`text` with NUL and lone surrogates (which PostgreSQL cannot store) replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


@dataclass(frozen=True)
class MediaRef:
    reference: str  # a URL (Twilio, Sinch, Kaleyra) or a media id (Meta)
    mime_type: str | None = None
    filename: str | None = None
    caption: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    provider_message_id: str
    mobile: str  # international digits, no '+'
    profile_name: str
    type: MessageType
    text: str = ""
    media: MediaRef | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None


@dataclass(frozen=True)
class StatusUpdate:
    provider_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
    error_text: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class RejectedItem:
    """One element of a batch that could not be read: kept with its raw JSON so the rest of the
    batch is stored (a provider retries a refused batch, bad element and all, for days)."""

    reason: str  # where in the body, and why
    raw: Any


@dataclass(frozen=True)
class Parsed:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    rejected: list[RejectedItem] = field(default_factory=list)

    def reject(self, where: str, why: str, raw: Any) -> None:
        self.rejected.append(RejectedItem(reason=f"{where}: {why}", raw=raw))


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    parameters: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutboundMessage:
    to: str  # international digits, no '+'
    text: str = ""
    media_url: str | None = None
    template: Template | None = None

    @property
    def media_kind(self) -> str:
        """What WhatsApp calls the media: image, video, audio or document (from the URL's file type)."""
        return media_type_for(guess_mime(self.media_url or "")).value


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class WebhookRejected(Exception):
    """A webhook that cannot be accepted: the status code and a message safe to return and log."""

    def __init__(
        self, status_code: int, code: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = fields  # field path → why, for a body that is readable but wrong


class SendError(Exception):
    """A send or fetch the provider refused. `retryable` errors (429, 5xx, network) are retried
    by the activity's retry policy; the others are recorded on the message as failed. The text
    is the provider's words, bounded and redacted: agents read it."""

    def __init__(
        self, text: str, *, retryable: bool, code: str | None = None, retry_after: float | None = None
    ) -> None:
        text = redact(text)
        super().__init__(text)
        self.text = text
        self.retryable = retryable
        self.code = code
        self.retry_after = retry_after


class Provider(ABC):
    """A provider declares its own configuration (what the accounts API validates and seals, what
    the webhook route accepts and answers) and implements verify, parse, send and fetch_media."""

    credentials: ClassVar[type[Credentials]]  # an account's `credentials` section
    type: ClassVar[ProviderType]
    # Where a stored secret is sent, by the credential holding the address: changing the address
    # needs the secret sent again, or "***" would hand the stored one to whoever the new address is.
    secret_destinations: ClassVar[Mapping[str, frozenset[str]]] = {}
    content_types: ClassVar[frozenset[str]] = frozenset({"application/json"})
    templates: ClassVar[bool] = (
        True  # can send approved templates (the only thing allowed outside the window)
    )
    recontact: ClassVar[bool] = False  # can send the account's recontact template (XCALLY: Meta, Kaleyra)
    # The webhook's answer (body, media type) when the provider expects a fixed one; else the counts as JSON.
    acknowledgement: ClassVar[tuple[str, str] | None] = None

    @property
    def secret_fields(self) -> frozenset[str]:
        return secret_fields(self.credentials)

    def api_base(self, settings: Settings) -> str:
        """The address a setting gives this provider (tests point it at a fake), without a trailing
        slash; empty when every address is an account credential."""
        return ""

    @abstractmethod
    def verify(self, request: WebhookRequest, account: ProviderAccount, now: datetime) -> str | None:
        """Raise WebhookRejected(403) unless the request is authentic. Return a nonce that must not
        have been seen before (the caller records it), or None."""

    @abstractmethod
    def parse(self, request: WebhookRequest) -> Parsed:
        """Normalize the body; raise WebhookRejected(400) if it is malformed."""

    @abstractmethod
    async def send(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        message: OutboundMessage,
    ) -> SendResult:
        """Send `message`; `api_base` is what `api_base(settings)` gave."""

    @abstractmethod
    async def fetch_media(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        media: MediaRef,
        policy: MediaPolicy,
    ) -> tuple[bytes, str | None]:
        """The media's bytes and content type, downloaded from the provider's own media hosts only
        (`providers.media.download`), within the policy's size limit."""


def guess_mime(url: str) -> str | None:
    return mimetypes.guess_type(url.split("?", 1)[0])[0]


def media_type_for(mime: str | None) -> MessageType:
    """image, video or audio by the MIME type's major part; anything else travels as a document."""
    kind = (mime or "").split("/", 1)[0]
    return MessageType(kind) if kind in {"image", "video", "audio"} else MessageType.document


def check_response(response: httpx.Response, code: str | None, text: str) -> None:
    """Raise SendError for a non-2xx response: 429 and 5xx are retryable, other 4xx permanent."""
    if response.is_success:
        return
    retryable = response.status_code == 429 or response.status_code >= 500
    raise SendError(
        f"HTTP {response.status_code}: {text}",
        retryable=retryable,
        code=code,
        retry_after=retry_after(response),
    )


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def response_json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def request(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """An HTTP call whose network failures become retryable SendErrors."""
    try:
        return await http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise SendError(f"{type(exc).__name__} calling the provider", retryable=True) from exc


def same_signature(expected: str, given: str) -> bool:
    """Constant-time comparison of a signature header, whatever characters it holds (compare_digest
    refuses non-ASCII text)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))
