"""What each provider puts on the wire, from the provider's side: the webhooks it posts to an
account's Receive URL (a customer's message, a delivery status), signed with the product's own
signature functions, and how to read the sends Shareline makes to it.

The shapes are the documented ones (/work/shared/reference/providers.md); providers/*.py reads
them back, so a demo webhook is exactly what a real provider would post.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from models import ProviderType
from providers import meta, sinch, twilio
from providers.fields import digits

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Shareline's delivery states, in the order a phone reports them, as each provider names them.
STATUS_NAMES: dict[ProviderType, dict[str, str]] = {
    ProviderType.twilio: {"sent": "sent", "delivered": "delivered", "read": "read"},
    ProviderType.meta: {"sent": "sent", "delivered": "delivered", "read": "read"},
    ProviderType.sinch_v2: {"sent": "QUEUED_ON_CHANNEL", "delivered": "DELIVERED", "read": "READ"},
    ProviderType.kaleyra: {"sent": "sent", "delivered": "delivered", "read": "read"},
}


@dataclass(frozen=True)
class Line:
    """A demo account as its provider knows it: where it posts webhooks and with which secrets."""

    type: ProviderType
    key: str
    phone: str  # the business number
    credentials: dict[str, str]
    receive_url: str = ""


@dataclass(frozen=True)
class Webhook:
    body: bytes
    headers: dict[str, str]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Customer → Shareline ------------------------------------------------------------------------------


def inbound(line: Line, message_id: str, mobile: str, name: str, text: str) -> Webhook:
    """The provider's webhook for a customer's text message."""
    if line.type is ProviderType.twilio:
        return _twilio_form(
            line,
            {
                "MessageSid": message_id, "SmsMessageSid": message_id, "SmsSid": message_id,
                "AccountSid": line.credentials["account_sid"], "From": f"whatsapp:+{mobile}",
                "To": f"whatsapp:+{line.phone}", "Body": text, "NumMedia": "0", "NumSegments": "1",
                "ProfileName": name, "WaId": mobile, "MessageType": "text", "SmsStatus": "received",
                "ApiVersion": "2010-04-01",
            },
        )  # fmt: skip
    if line.type is ProviderType.meta:
        message = {"from": mobile, "id": message_id, "timestamp": str(int(time.time())),
                   "type": "text", "text": {"body": text}}  # fmt: skip
        contacts = [{"profile": {"name": name}, "wa_id": mobile}]
        return _meta_envelope(line, {"contacts": contacts, "messages": [message]})
    if line.type is ProviderType.sinch_v2:
        return _sinch_event(
            line,
            "message",
            {
                "id": message_id, "direction": "TO_APP",
                "contact_message": {"text_message": {"text": text}},
                "channel_identity": _sinch_identity(line, mobile),
                "conversation_id": f"CONV{mobile}", "contact_id": f"CONTACT{mobile}",
                "contact_name": name, "metadata": "", "accept_time": _now_iso(),
            },
        )  # fmt: skip
    return _json(
        {"id": message_id, "body": text, "mime_type": "", "media_url": "", "from": mobile, "name": name,
         "type": "text", "created_at": str(int(time.time())), "reply_to": "", "wanumber": line.phone,
         "mobile": mobile}
    )  # fmt: skip


def status(line: Line, message_id: str, mobile: str, state: str, callback_url: str | None = None) -> Webhook:
    """The provider's delivery report: `state` is sent, delivered or read."""
    name = STATUS_NAMES[line.type][state]
    if line.type is ProviderType.twilio:
        return _twilio_form(
            line,
            {"MessageSid": message_id, "SmsSid": message_id, "MessageStatus": name, "SmsStatus": name,
             "AccountSid": line.credentials["account_sid"], "From": f"whatsapp:+{line.phone}",
             "To": f"whatsapp:+{mobile}", "ApiVersion": "2010-04-01"},
            callback_url,
        )  # fmt: skip
    if line.type is ProviderType.meta:
        report = {
            "id": message_id,
            "status": name,
            "timestamp": str(int(time.time())),
            "recipient_id": mobile,
        }
        return _meta_envelope(line, {"statuses": [report]})
    if line.type is ProviderType.sinch_v2:
        return _sinch_event(
            line,
            "message_delivery_report",
            {"message_id": message_id, "conversation_id": f"CONV{mobile}", "status": name,
             "channel_identity": _sinch_identity(line, mobile), "contact_id": f"CONTACT{mobile}"},
        )  # fmt: skip
    return _json({"id": message_id, "status": name, "mobile": mobile, "wanumber": line.phone})


def _twilio_form(line: Line, params: dict[str, str], url: str | None = None) -> Webhook:
    # Twilio signs the URL it calls (a send's StatusCallback, else the account's Receive URL).
    signed_url = url or line.receive_url
    signature = twilio.signature(line.credentials["auth_token"], signed_url, list(params.items()))
    return Webhook(urlencode(params).encode(), {"Content-Type": FORM, "X-Twilio-Signature": signature})


def _meta_envelope(line: Line, value: dict[str, Any]) -> Webhook:
    metadata = {"display_phone_number": line.phone, "phone_number_id": line.credentials["phone_number_id"]}
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": line.credentials["account_sid"],
                "changes": [
                    {
                        "field": "messages",
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                    }
                ],
            }
        ],
    }
    raw = json.dumps(body).encode()
    return Webhook(
        raw,
        {"Content-Type": JSON, "X-Hub-Signature-256": meta.signature(line.credentials["app_secret"], raw)},
    )


def _sinch_identity(line: Line, mobile: str) -> dict[str, str]:
    return {"channel": "WHATSAPP", "identity": mobile, "app_id": line.credentials["app_id"]}


def _sinch_event(line: Line, kind: str, event: dict[str, Any]) -> Webhook:
    now = _now_iso()
    body = {"app_id": line.credentials["app_id"], "project_id": line.credentials["project_id"],
            "accepted_time": now, "event_time": now, kind: event, "message_metadata": ""}  # fmt: skip
    raw = json.dumps(body).encode()
    nonce, stamp = uuid.uuid4().hex, str(int(time.time()))
    return Webhook(
        raw,
        {
            "Content-Type": JSON,
            "x-sinch-webhook-signature": sinch.signature(
                line.credentials["webhook_secret"], raw, nonce, stamp
            ),
            "x-sinch-webhook-signature-nonce": nonce,
            "x-sinch-webhook-signature-timestamp": stamp,
            "x-sinch-webhook-signature-algorithm": "HmacSHA256",
        },
    )


def _json(body: dict[str, Any]) -> Webhook:
    return Webhook(json.dumps(body).encode(), {"Content-Type": JSON})


# Shareline → provider ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """A send request as the phone shows it: to whom, and what (text, or what stands for it)."""

    mobile: str
    text: str
    status_callback: str | None = None


def read_send(provider: ProviderType, raw: bytes) -> Send:
    """The recipient and content of a send request Shareline made to `provider`'s API."""
    if provider is ProviderType.twilio:
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        shown = form.get("Body") or ""
        if form.get("ContentSid"):
            shown = f"[template {form['ContentSid']}] {form.get('ContentVariables', '')}".strip()
        elif form.get("MediaUrl"):
            shown = f"[media {form['MediaUrl']}] {shown}".strip()
        return Send(digits(form.get("To", "")), shown, form.get("StatusCallback"))
    body = json.loads(raw)
    if provider is ProviderType.sinch_v2:
        identities = body["recipient"]["identified_by"]["channel_identities"]
        content = body.get("message", {})
        shown = (content.get("text_message") or {}).get("text") or ""
        if media := content.get("media_message"):
            shown = f"[media {media.get('url')}]"
        return Send(digits(identities[0]["identity"]), shown)
    messaging = body["messaging_object"] if provider is ProviderType.kaleyra else body
    return Send(digits(str(messaging["to"])), _cloud_text(messaging))


def _cloud_text(messaging: dict[str, Any]) -> str:
    kind = messaging.get("type")
    if kind == "text":
        return str(messaging["text"]["body"])
    if kind == "template":
        template = messaging["template"]
        values = [
            parameter.get("text", "")
            for component in template.get("components", [])
            for parameter in component.get("parameters", [])
        ]
        return f"[template {template['name']}] {' '.join(values)}".strip()
    content = messaging.get(str(kind)) or {}
    return f"[{kind} {content.get('link', '')}] {content.get('caption', '')}".strip()
