"""Kaleyra WhatsApp API v2. Kaleyra signs nothing: the Receive URL's token is the guard.

Inbound arrives either as the documented "callback profile" JSON (body, mime_type, media_url,
from, name, type, created_at, ...) or in the older Meta-shaped format; both are accepted. Field
names of status callbacks and of the send response are UNCONFIRMED in Kaleyra's public docs, so
every name seen in the wild is read (see docs/providers.md).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

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
    WebhookRequest,
    check_response,
    media_type_for,
    request,
    response_json,
)
from providers.config import BaseUrl, Credentials, Secret, Text
from providers.fields import (
    error_code,
    from_iso,
    from_unix,
    identifier,
    malformed,
    mobile,
    obj,
    optional_object,
    optional_string,
)
from providers.media import MediaHost, MediaPolicy, download
from providers.meta import cloud_changes, cloud_message, parse_cloud_values

# Where Kaleyra serves inbound media: its own domains and the account's base_url. Kaleyra's docs
# call media_url "an S3 link" without naming the bucket's host: an operator whose media comes
# from one lists it in SHARELINE_MEDIA_ALLOWED_HOSTS (the api-key is then sent there too).
MEDIA_HOSTS = (MediaHost(".kaleyra.io"), MediaHost(".kaleyra.com"))
STATUSES = {
    "sent": DeliveryStatus.sent,
    "delivered": DeliveryStatus.delivered,
    "read": DeliveryStatus.read,
    "failed": DeliveryStatus.failed,
    "not-sent": DeliveryStatus.failed,
}
ID_FIELDS = ("id", "message_id", "msgid", "wamid")
# What identifies a callback-profile message that carries no id: a retry repeats these values,
# whatever the JSON's spacing or key order.
IDENTIFYING_FIELDS = ("from", "mobile", "wanumber", "created_at", "type", "body", "media_url", "reply_to")


class KaleyraCredentials(Credentials):
    base_url: BaseUrl
    waba_id: Text
    account_sid: Text
    api_key: Secret


class KaleyraProvider(Provider):
    type = ProviderType.kaleyra
    credentials = KaleyraCredentials
    secret_destinations = {"base_url": frozenset({"api_key"})}
    recontact = True

    def verify(self, request: WebhookRequest, account: ProviderAccount, now: datetime) -> str | None:
        return None

    def parse(self, request: WebhookRequest) -> Parsed:
        body = request.json()
        if not isinstance(body, dict):
            raise malformed("body", "must be a JSON object")
        if isinstance(body.get("entry"), list):  # Meta envelope
            parsed = Parsed()
            values = [(where, change.get("value")) for where, change in cloud_changes(body["entry"], parsed)]
            return parse_cloud_values(values, parsed)
        if "messages" in body or "statuses" in body:  # older per-number format: a bare Meta `value`
            return parse_cloud_values([("", body)])
        if "status" in body and not body.get("from"):
            return _status(body)
        return Parsed(messages=[_callback_profile(body)])

    async def send(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        message: OutboundMessage,
    ) -> SendResult:
        credentials = account.credentials
        url = f"{credentials['base_url']}/v2/{credentials['account_sid']}/whatsapp/{account.phone}/messages"
        messaging = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **cloud_message(message),
        }
        messaging["to"] = f"+{message.to}"
        if messaging["type"] == "text":
            messaging["text"] = {"body": message.text}  # Kaleyra's documented text object has no preview_url
        response = await request(
            http,
            "POST",
            url,
            json={"messaging_object": messaging},
            headers={"api-key": credentials["api_key"]},
        )
        body = response_json(response)
        error = obj(body, "error")
        code = error.get("code") or body.get("code")
        check_response(
            response,
            str(code) if code else None,
            str(error.get("message") or body.get("message") or response.reason_phrase),
        )
        message_id = _send_id(body)
        if not message_id:
            raise SendError("Kaleyra answered without a message id", retryable=False)
        return SendResult(provider_message_id=message_id)

    async def fetch_media(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        media: MediaRef,
        policy: MediaPolicy,
    ) -> tuple[bytes, str | None]:
        headers = {"api-key": account.credentials["api_key"]}
        hosts = (*MEDIA_HOSTS, MediaHost.of_url(account.credentials["base_url"]))
        content, content_type = await download(http, policy, media.reference, hosts, headers=headers)
        return content, content_type or media.mime_type


def _send_id(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict) and messages[0].get("id"):
        return str(messages[0]["id"])
    data = body.get("data")
    if isinstance(data, dict) and data.get("message_id"):
        return str(data["message_id"])
    if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("message_id"):
        return str(data[0]["message_id"])
    return str(body["id"]) if body.get("id") else None


def _callback_profile(body: dict[str, Any]) -> InboundMessage:
    sender_key = "from" if body.get("from") else "mobile"
    if not body.get(sender_key):
        raise malformed("from", "is missing")
    sender = mobile(body[sender_key], sender_key)
    message_id = _message_id(body) or _content_id(body)
    declared = str(body.get("type") or "text").lower()
    media = None
    if body.get("media_url"):
        mime = optional_string(body, "mime_type")
        message_type = (
            MessageType(declared)
            if declared in {"image", "video", "audio", "document", "sticker"}
            else media_type_for(mime)
        )
        media = MediaRef(
            reference=str(body["media_url"]), mime_type=mime, caption=str(body.get("body") or "") or None
        )
    elif declared == "text":
        message_type = MessageType.text
    else:
        message_type = next((kind for kind in MessageType if kind.value == declared), MessageType.unsupported)
    return InboundMessage(
        provider_message_id=message_id,
        mobile=sender,
        profile_name=str(body.get("name") or ""),
        type=message_type,
        text=str(body.get("body") or ""),
        media=media,
        payload=body,
        sent_at=_created_at(body.get("created_at")),
    )


def _content_id(body: dict[str, Any]) -> str:
    """With no id field, the id is a hash of what identifies the message, canonically serialized."""
    identifying = {name: body[name] for name in IDENTIFYING_FIELDS if name in body}
    canonical = json.dumps(identifying, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "kaleyra-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _created_at(value: Any) -> datetime | None:
    """`created_at`: unix seconds (or milliseconds) as seen in the wild, else ISO 8601 taken as UTC
    when it has no offset (the field's format is UNCONFIRMED in Kaleyra's docs). A value that is
    no time (or none Python can hold) is no time: the message is stored without it."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value) if len(value.strip()) <= 20 else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = int(value)
        return from_unix(seconds // 1000 if seconds > 10**11 else seconds)
    return from_iso(value) if value else None


def _message_id(body: dict[str, Any]) -> str | None:
    """The first id field present (Kaleyra's name for it is UNCONFIRMED)."""
    name = next((name for name in ID_FIELDS if body.get(name)), None)
    return identifier(body[name], name) if name else None


def _status(body: dict[str, Any]) -> Parsed:
    message_id = _message_id(body)
    if not message_id:
        raise malformed("id", "is missing (the message id)")
    status = STATUSES.get(str(body.get("status")).lower())
    if status is None:
        return Parsed()
    error = optional_object(body, "error")
    code = error.get("code") or body.get("error_code")
    return Parsed(
        statuses=[
            StatusUpdate(
                provider_message_id=message_id,
                status=status,
                error_code=error_code(code, "error.code" if error.get("code") else "error_code"),
                error_text=optional_string(error, "message", "error")
                or optional_string(body, "error_message")
                or optional_string(body, "reason"),
            )
        ]
    )
