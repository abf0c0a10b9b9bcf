"""Meta WhatsApp Cloud API: JSON webhooks signed with X-Hub-Signature-256, Graph API sends."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from models import DeliveryStatus, MessageType, ProviderType
from providers.base import (
    Endpoints,
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
    digits,
    from_unix,
    obj,
    request,
    response_json,
)
from providers.media import MediaHost, MediaPolicy, download

# Where the Graph API's media URLs point (lookaside.fbsbx.com/whatsapp_business/attachments/…),
# the Graph API itself, and SHARELINE_META_GRAPH_BASE.
MEDIA_HOSTS = (MediaHost("lookaside.fbsbx.com"), MediaHost("graph.facebook.com"))
MEDIA_KINDS = {"image", "video", "audio", "document", "sticker"}
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


class MetaProvider(Provider):
    type = ProviderType.meta

    def verify(self, request: WebhookRequest, account: ProviderAccount, now: datetime) -> str | None:
        app_secret = account.credentials.get("app_secret")
        if not app_secret:
            return None  # no app secret configured: the Receive URL's token is the guard
        given = request.headers.get("x-hub-signature-256", "")
        if not hmac.compare_digest(signature(app_secret, request.body), given.lower()):
            raise WebhookRejected(403, "bad_signature", "X-Hub-Signature-256 does not match")
        return None

    def parse(self, request: WebhookRequest) -> Parsed:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
            raise WebhookRejected(400, "malformed", "expected {object, entry: [...]}")
        values = []
        for entry in body["entry"]:
            for change in _list(entry, "changes"):
                if isinstance(change, dict) and change.get("field") == "messages":
                    values.append(change.get("value") or {})
        return parse_cloud_values(values)

    async def send(
        self,
        http: httpx.AsyncClient,
        endpoints: Endpoints,
        account: ProviderAccount,
        message: OutboundMessage,
    ) -> SendResult:
        phone_number_id = account.credentials["phone_number_id"]
        response = await request(
            http,
            "POST",
            f"{endpoints.meta_graph_base}/{phone_number_id}/messages",
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
        endpoints: Endpoints,
        account: ProviderAccount,
        media: MediaRef,
        policy: MediaPolicy,
    ) -> tuple[bytes, str | None]:
        auth = {"Authorization": f"Bearer {account.credentials['auth_token']}"}
        media_id = quote(media.reference, safe="")  # an id, never a path of the Graph API
        meta = await request(http, "GET", f"{endpoints.meta_graph_base}/{media_id}", headers=auth)
        check_response(meta, None, meta.reason_phrase)
        url = response_json(meta).get("url")
        if not url:
            raise SendError("Meta gave no download URL for the media", retryable=False)
        hosts = (*MEDIA_HOSTS, MediaHost.of_url(endpoints.meta_graph_base))
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


def parse_cloud_values(values: list[Any]) -> Parsed:
    """Messages and statuses of Cloud API `value` objects (shared with Kaleyra's older format)."""
    parsed = Parsed()
    for value in values:
        if not isinstance(value, dict):
            raise WebhookRejected(400, "malformed", "a change value is not an object")
        names = {
            str(contact.get("wa_id")): str((contact.get("profile") or {}).get("name") or "")
            for contact in _list(value, "contacts")
            if isinstance(contact, dict)
        }
        for raw in _list(value, "messages"):
            parsed.messages.append(_message(raw, names))
        for raw in _list(value, "statuses"):
            if update := _status(raw):
                parsed.statuses.append(update)
    return parsed


def _message(raw: Any, names: dict[str, str]) -> InboundMessage:
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("from"):
        raise WebhookRejected(400, "malformed", "a message lacks id or from")
    kind = str(raw.get("type") or "")
    sender = digits(str(raw["from"]))
    text, media = "", None
    message_type = MessageType.unsupported
    content = obj(raw, kind)
    if kind == "text":
        message_type, text = MessageType.text, str(content.get("body") or "")
    elif kind in MEDIA_KINDS:
        if not content.get("id"):
            raise WebhookRejected(400, "malformed", f"the {kind} message has no media id")
        message_type = MessageType(kind)
        text = str(content.get("caption") or "")
        media = MediaRef(
            reference=str(content["id"]),
            mime_type=content.get("mime_type"),
            filename=content.get("filename"),
            caption=content.get("caption"),
            sha256=content.get("sha256"),
        )
    elif kind == "location":
        message_type = MessageType.location
        text = " ".join(str(content.get(part) or "") for part in ("name", "address")).strip()
    elif kind == "contacts":
        message_type = MessageType.contacts
    elif kind == "interactive":
        message_type = MessageType.interactive
        reply = content.get("button_reply") or content.get("list_reply") or {}
        text = str(reply.get("title") or "")
    elif kind == "button":
        message_type, text = MessageType.button, str(content.get("text") or "")
    elif kind == "reaction":
        message_type, text = MessageType.reaction, str(content.get("emoji") or "")
    return InboundMessage(
        provider_message_id=str(raw["id"]),
        mobile=sender,
        profile_name=names.get(str(raw["from"]), names.get(sender, "")),
        type=message_type,
        text=text,
        media=media,
        payload=raw,
        sent_at=from_unix(raw.get("timestamp")),
    )


def _status(raw: Any) -> StatusUpdate | None:
    if not isinstance(raw, dict) or not raw.get("id"):
        raise WebhookRejected(400, "malformed", "a status lacks its message id")
    status = STATUSES.get(str(raw.get("status")))
    if status is None:
        return None  # e.g. "deleted" or "warning": nothing to record on the message
    errors = raw.get("errors") if isinstance(raw.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return StatusUpdate(
        provider_message_id=str(raw["id"]),
        status=status,
        error_code=str(first["code"]) if first.get("code") is not None else None,
        error_text=first.get("message") or first.get("title"),
        at=from_unix(raw.get("timestamp")),
    )


def _list(container: Any, key: str) -> list[Any]:
    if not isinstance(container, dict):
        raise WebhookRejected(400, "malformed", f"expected an object holding {key}")
    value = container.get(key) or []
    if not isinstance(value, list):
        raise WebhookRejected(400, "malformed", f"{key} is not a list")
    return value
