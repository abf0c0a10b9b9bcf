"""Meta WhatsApp Cloud API: JSON webhooks signed with X-Hub-Signature-256, Graph API sends."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from models import DeliveryStatus, MessageType, ProviderType
from providers.base import (
    InboundMessage,
    MediaRef,
    OutboundMessage,
    Parsed,
    Provider,
    ProviderAccount,
    SendError,
    SendResult,
    StatusUpdate,
    WebhookRejected,
    WebhookRequest,
    check_response,
    request,
    response_json,
    same_signature,
)
from providers.config import Credentials, Secret, Text
from providers.fields import (
    error_code,
    from_unix,
    identifier,
    malformed,
    mobile,
    obj,
    optional_object,
    optional_string,
)
from providers.media import MediaHost, MediaPolicy, download

if TYPE_CHECKING:
    from settings import Settings

# Where the Graph API's media URLs point (lookaside.fbsbx.com/whatsapp_business/attachments/…),
# the Graph API itself, and SHARELINE_META_GRAPH_BASE.
MEDIA_HOSTS = (MediaHost("lookaside.fbsbx.com"), MediaHost("graph.facebook.com"))
MEDIA_KINDS = {"image", "video", "audio", "document", "sticker"}
# The types whose content object is read: it must be an object when present.
KNOWN_KINDS = MEDIA_KINDS | {"text", "location", "interactive", "button", "reaction"}
STATUSES = {
    "sent": DeliveryStatus.sent,
    "delivered": DeliveryStatus.delivered,
    "read": DeliveryStatus.read,
    "failed": DeliveryStatus.failed,
}
RATE_LIMITED = {"4", "80007", "130429", "131048", "131056"}  # throughput and pair-rate limits: retry later


def signature(app_secret: str, body: bytes) -> str:
    """X-Hub-Signature-256: "sha256=" + lowercase hex HMAC-SHA256(app secret, the raw body)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class MetaCredentials(Credentials):
    account_sid: Text
    auth_token: Secret
    app_id: Text
    phone_number_id: Text
    app_secret: Secret | None = None


class MetaProvider(Provider):
    type = ProviderType.meta
    credentials = MetaCredentials
    recontact = True

    def api_base(self, settings: Settings) -> str:
        return settings.meta_graph_base.rstrip("/")

    def verify(self, request: WebhookRequest, account: ProviderAccount, now: datetime) -> str | None:
        app_secret = account.credentials.get("app_secret")
        if not app_secret:
            return None  # no app secret configured: the Receive URL's token is the guard
        given = request.headers.get("x-hub-signature-256", "")
        if not same_signature(signature(app_secret, request.body), given.lower()):
            raise WebhookRejected(403, "bad_signature", "X-Hub-Signature-256 does not match")
        return None

    def parse(self, request: WebhookRequest) -> Parsed:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
            raise WebhookRejected(
                400, "malformed", "expected {object, entry: [...]}", fields={"entry": "must be a list"}
            )
        parsed = Parsed()
        values = [
            (where, change.get("value"))
            for where, change in cloud_changes(body["entry"], parsed)
            if change.get("field") == "messages"
        ]
        return parse_cloud_values(values, parsed)

    async def send(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        message: OutboundMessage,
    ) -> SendResult:
        phone_number_id = account.credentials["phone_number_id"]
        response = await request(
            http,
            "POST",
            f"{api_base}/{phone_number_id}/messages",
            json={"messaging_product": "whatsapp", "recipient_type": "individual", **cloud_message(message)},
            headers={"Authorization": f"Bearer {account.credentials['auth_token']}"},
        )
        body = response_json(response)
        error = obj(body, "error")
        code = str(error["code"]) if error.get("code") is not None else None
        if not response.is_success and code in RATE_LIMITED:
            raise SendError(str(error.get("message") or "rate limited"), retryable=True, code=code)
        check_response(response, code, str(error.get("message") or response.reason_phrase))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not messages[0].get("id"):
            raise SendError("Meta answered without a message id", retryable=False)
        return SendResult(provider_message_id=str(messages[0]["id"]))

    async def fetch_media(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        media: MediaRef,
        policy: MediaPolicy,
    ) -> tuple[bytes, str | None]:
        auth = {"Authorization": f"Bearer {account.credentials['auth_token']}"}
        media_id = quote(media.reference, safe="")  # an id, never a path of the Graph API
        meta = await request(http, "GET", f"{api_base}/{media_id}", headers=auth)
        check_response(meta, None, meta.reason_phrase)
        url = response_json(meta).get("url")
        if not url:
            raise SendError("Meta gave no download URL for the media", retryable=False)
        hosts = (*MEDIA_HOSTS, MediaHost.of_url(api_base))
        content, content_type = await download(http, policy, str(url), hosts, headers=auth)
        return content, content_type or media.mime_type


def cloud_message(message: OutboundMessage) -> dict[str, Any]:
    """The Cloud API message object (also Kaleyra's, whose v2 API is Meta-shaped)."""
    if message.template is not None:
        template: dict[str, Any] = {
            "name": message.template.name,
            "language": {"code": message.template.language},
        }
        if message.template.parameters:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": p} for p in message.template.parameters],
                }
            ]
        return {"to": message.to, "type": "template", "template": template}
    if message.media_url:
        kind = message.media_kind
        media: dict[str, Any] = {"link": message.media_url}
        if message.text and kind != "audio":
            media["caption"] = message.text
        return {"to": message.to, "type": kind, kind: media}
    return {"to": message.to, "type": "text", "text": {"preview_url": False, "body": message.text}}


def cloud_changes(entries: list[Any], parsed: Parsed) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each `entry[].changes[]` object with where it is; a malformed entry or change is rejected
    on its own (Meta retries a refused batch, good elements and bad, for days)."""
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            parsed.reject(f"entry[{i}]", "must be an object", entry)
            continue
        changes = entry.get("changes")
        if changes is None:
            continue
        if not isinstance(changes, list):
            parsed.reject(f"entry[{i}].changes", "must be a list", changes)
            continue
        for j, change in enumerate(changes):
            if isinstance(change, dict):
                yield f"entry[{i}].changes[{j}].value", change
            else:
                parsed.reject(f"entry[{i}].changes[{j}]", "must be an object", change)


def parse_cloud_values(values: list[tuple[str, Any]], parsed: Parsed | None = None) -> Parsed:
    """Messages and statuses of Cloud API `value` objects, each with where it is in the body
    (shared with Kaleyra's older format). An element that cannot be read is rejected alone."""
    parsed = parsed if parsed is not None else Parsed()
    for where, value in values:
        if value is None:
            continue
        if not isinstance(value, dict):
            parsed.reject(where, "must be an object", value)
            continue
        names: dict[str, str] = {}
        for at, contact in _elements(value, "contacts", where, parsed):
            try:
                names[str(contact.get("wa_id"))] = str(optional_object(contact, "profile").get("name") or "")
            except WebhookRejected as rejected:
                parsed.reject(at, rejected.message, contact)
        for at, raw in _elements(value, "messages", where, parsed):
            try:
                parsed.messages.append(_message(raw, names))
            except WebhookRejected as rejected:
                parsed.reject(at, rejected.message, raw)
        for at, raw in _elements(value, "statuses", where, parsed):
            try:
                if update := _status(raw):
                    parsed.statuses.append(update)
            except WebhookRejected as rejected:
                parsed.reject(at, rejected.message, raw)
    return parsed


def _elements(
    value: dict[str, Any], key: str, where: str, parsed: Parsed
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The objects of the list value[key] with where each is; what is not one is rejected."""
    items = value.get(key)
    if items is None:
        return
    if not isinstance(items, list):
        parsed.reject(f"{where}.{key}", "must be a list", items)
        return
    for k, item in enumerate(items):
        if isinstance(item, dict):
            yield f"{where}.{key}[{k}]", item
        else:
            parsed.reject(f"{where}.{key}[{k}]", "must be an object", item)


def _message(raw: dict[str, Any], names: dict[str, str]) -> InboundMessage:
    if not raw.get("id") or not raw.get("from"):
        raise malformed("from" if raw.get("id") else "id", "is missing")
    message_id = identifier(raw["id"], "id")
    sender = mobile(raw["from"], "from")
    kind = str(raw.get("type") or "")
    text, media = "", None
    message_type = MessageType.unsupported
    content = optional_object(raw, kind) if kind in KNOWN_KINDS else obj(raw, kind)
    if kind == "text":
        message_type, text = MessageType.text, str(content.get("body") or "")
    elif kind in MEDIA_KINDS:
        if not content.get("id"):
            raise malformed(f"{kind}.id", "is missing (the media id)")
        message_type = MessageType(kind)
        caption = optional_string(content, "caption", kind)
        text = caption or ""
        media = MediaRef(
            reference=identifier(content["id"], f"{kind}.id"),
            mime_type=optional_string(content, "mime_type", kind),
            filename=optional_string(content, "filename", kind),
            caption=caption,
            sha256=optional_string(content, "sha256", kind),
        )
    elif kind == "location":
        message_type = MessageType.location
        text = " ".join(str(content.get(part) or "") for part in ("name", "address")).strip()
    elif kind == "contacts":
        message_type = MessageType.contacts
    elif kind == "interactive":
        message_type = MessageType.interactive
        reply = optional_object(content, "button_reply", kind) or optional_object(content, "list_reply", kind)
        text = str(reply.get("title") or "")
    elif kind == "button":
        message_type, text = MessageType.button, str(content.get("text") or "")
    elif kind == "reaction":
        message_type, text = MessageType.reaction, str(content.get("emoji") or "")
    return InboundMessage(
        provider_message_id=message_id,
        mobile=sender,
        profile_name=names.get(str(raw["from"]), names.get(sender, "")),
        type=message_type,
        text=text,
        media=media,
        payload=raw,
        sent_at=from_unix(raw.get("timestamp")),
    )


def _status(raw: dict[str, Any]) -> StatusUpdate | None:
    if not raw.get("id"):
        raise malformed("id", "is missing (the message id)")
    message_id = identifier(raw["id"], "id")
    status = STATUSES.get(str(raw.get("status")))
    if status is None:
        return None  # e.g. "deleted" or "warning": nothing to record on the message
    errors = raw.get("errors") if isinstance(raw.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return StatusUpdate(
        provider_message_id=message_id,
        status=status,
        error_code=error_code(first.get("code"), "errors[0].code"),
        error_text=optional_string(first, "message", "errors[0]")
        or optional_string(first, "title", "errors[0]"),
        at=from_unix(raw.get("timestamp")),
    )
