"""Building provider webhooks the way each provider builds them (documented payloads, real
signature schemes), and accounts whose provider APIs are the loopback fakes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from tests.conftest import Api
from tests.fakes.providers import FakeProviders

TWILIO_TOKEN = "twilio-secret-token"
META_APP_SECRET = "meta-app-secret"
SINCH_WEBHOOK_SECRET = "sinch-webhook-secret"


def credentials(provider: str, fakes: FakeProviders) -> dict[str, str]:
    return {
        "twilio": {"account_sid": fakes.twilio_sid, "auth_token": TWILIO_TOKEN},
        "meta": {
            "account_sid": "waba-1",
            "auth_token": fakes.meta_token,
            "app_id": "app-1",
            "phone_number_id": "106540352242922",
            "app_secret": META_APP_SECRET,
        },
        "sinch_v2": {
            "base_url": f"{fakes.base_url}/sinch",
            "project_id": "proj-1",
            "app_id": "01SINCHAPP",
            "key_id": fakes.sinch_key[0],
            "key_secret": fakes.sinch_key[1],
            "webhook_secret": SINCH_WEBHOOK_SECRET,
        },
        "kaleyra": {
            "base_url": f"{fakes.base_url}/kaleyra",
            "waba_id": "waba-2",
            "account_sid": "HXKAL1",
            "api_key": fakes.kaleyra_key,
        },
    }[provider]


async def make_account(
    api: Api, admin: dict[str, str], fakes: FakeProviders, provider: str, key: str | None = None, **extra: Any
) -> dict[str, Any]:
    lists = (await api.http.get("/api/cm/lists", headers=admin)).json()
    list_id = (
        lists["rows"][0]["id"]
        if lists["count"]
        else (await api.create(admin, "/api/cm/lists", {"name": "Inbound"}))["id"]
    )
    body = {
        "name": f"{provider} account",
        "key": key or provider[:5].replace("_", ""),
        "list_id": list_id,
        "type": provider,
        "phone": "14155238886",
        "credentials": credentials(provider, fakes),
        **extra,
    }
    return await api.create(admin, "/api/whatsapp/accounts", body)


def receive_path(account: dict[str, Any]) -> str:
    parts = urlsplit(account["receive_url"])
    return f"{parts.path}?{parts.query}"


# Twilio -------------------------------------------------------------------------------------------


def twilio_message(
    sid: str = "SM1", body: str = "Hello", mobile: str = "393331234567", **fields: str
) -> dict[str, str]:
    return {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Mario Rossi",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": mobile,
        "SmsStatus": "received",
        "Body": body,
        "To": "whatsapp:+14155238886",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC0123456789",
        "From": f"whatsapp:+{mobile}",
        "ApiVersion": "2010-04-01",
        **fields,
    }


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    """Written out from Twilio's documented algorithm, independent of providers.twilio."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


async def post_twilio(
    http: httpx.AsyncClient, account: dict[str, Any], params: dict[str, str], signature: str | None = None
) -> httpx.Response:
    return await http.post(
        receive_path(account),
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature or twilio_signature(account["receive_url"], params),
        },
    )


# Meta ---------------------------------------------------------------------------------------------


def meta_envelope(messages: list[Any] | None = None, statuses: list[Any] | None = None,
                  names: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "14155238886", "phone_number_id": "106540352242922"},
    }
    if messages is not None:
        value["contacts"] = [
            {"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in (names or {}).items()
        ]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba-1", "changes": [{"value": value, "field": "messages"}]}],
    }


def meta_text(wamid: str, text: str = "Hi", sender: str = "16505551234") -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "text": {"body": text},
        "type": "text",
    }


async def post_meta(
    http: httpx.AsyncClient,
    account: dict[str, Any],
    body: dict[str, Any] | bytes,
    secret: str = META_APP_SECRET,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return await http.post(
        receive_path(account),
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"},
    )


# Sinch --------------------------------------------------------------------------------------------


def sinch_text(message_id: str, text: str = "Hej", identity: str = "46732001122") -> dict[str, Any]:
    return {
        "app_id": "01SINCHAPP",
        "accepted_time": "2026-11-24T10:00:00.000Z",
        "event_time": "2026-11-24T10:00:00.000Z",
        "project_id": "proj-1",
        "message": {
            "id": message_id,
            "direction": "TO_APP",
            "contact_message": {"text_message": {"text": text}},
            "channel_identity": {"channel": "WHATSAPP", "identity": identity, "app_id": "01SINCHAPP"},
            "conversation_id": "01CONV",
            "contact_id": "01CONTACT",
            "metadata": "",
            "accept_time": "2026-11-24T10:00:00.000Z",
        },
        "message_metadata": "",
    }


def sinch_headers(raw: bytes, secret: str = SINCH_WEBHOOK_SECRET, nonce: str | None = None,
                  timestamp: int | None = None) -> dict[str, str]:  # fmt: skip
    nonce = nonce or uuid.uuid4().hex
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signed = raw + b"." + nonce.encode() + b"." + stamp.encode()
    return {
        "Content-Type": "application/json",
        "x-sinch-webhook-signature": base64.b64encode(
            hmac.new(secret.encode(), signed, hashlib.sha256).digest()
        ).decode(),
        "x-sinch-webhook-signature-nonce": nonce,
        "x-sinch-webhook-signature-timestamp": stamp,
        "x-sinch-webhook-signature-algorithm": "HmacSHA256",
    }


async def post_sinch(
    http: httpx.AsyncClient, account: dict[str, Any], body: dict[str, Any], **signing: Any
) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await http.post(receive_path(account), content=raw, headers=sinch_headers(raw, **signing))


# Kaleyra ------------------------------------------------------------------------------------------


def kaleyra_callback(body: str = "Namaste", mobile: str = "919876543210", **fields: Any) -> dict[str, Any]:
    return {
        "body": body,
        "mime_type": "",
        "media_url": "",
        "from": mobile,
        "name": "Asha",
        "type": "text",
        "created_at": "1732442400",
        "reply_to": "",
        "wanumber": "14155238886",
        "mobile": mobile,
        **fields,
    }


async def post_kaleyra(
    http: httpx.AsyncClient, account: dict[str, Any], body: dict[str, Any]
) -> httpx.Response:
    return await http.post(receive_path(account), json=body)


def _written_now(body: dict[str, Any]) -> dict[str, Any]:
    """A Sinch message the customer wrote just now (the window counts from its accept_time)."""
    body["message"]["accept_time"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return body


# A first message from 393331234567 to an account of each provider type: (post it, its body).
INBOUND: dict[str, tuple[Any, Any]] = {
    "twilio": (post_twilio, lambda: twilio_message("SMIN1", "hi", mobile="393331234567")),
    "meta": (post_meta, lambda: meta_envelope([meta_text("wamid.IN1", "hi", sender="393331234567")])),
    "sinch_v2": (post_sinch, lambda: _written_now(sinch_text("01IN1", "hi", identity="393331234567"))),
    "kaleyra": (
        post_kaleyra,
        lambda: kaleyra_callback("hi", mobile="393331234567", created_at=str(int(time.time()))),
    ),
}
