"""Posting raw bytes to an account's Receive URL, signed validly where the provider signs, so
that whatever the bytes are, the parser is what answers."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl

import httpx

from tests.webhooks import META_APP_SECRET, receive_path, sinch_headers, twilio_signature

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signed_headers(provider: str, account: dict[str, Any], raw: bytes) -> dict[str, str]:
    """The signature headers the provider would send with these bytes."""
    if provider == "meta":
        digest = hmac.new(META_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}"}
    if provider == "sinch_v2":
        return {k: v for k, v in sinch_headers(raw).items() if k != "Content-Type"}
    if provider == "twilio":
        try:
            params = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            return {"X-Twilio-Signature": "not-signable"}
        return {"X-Twilio-Signature": twilio_signature(account["receive_url"], params)}
    return {}  # Kaleyra signs nothing


async def post_raw(
    http: httpx.AsyncClient,
    provider: str,
    account: dict[str, Any],
    raw: bytes,
    content_type: str | None = None,
    headers: dict[str, str | bytes] | None = None,
) -> httpx.Response:
    """POST `raw` signed for `provider`; `headers` replace the signed ones (bytes pass as they are,
    as a client sending latin-1 header octets would)."""
    sent: dict[str, str | bytes] = {"Content-Type": content_type or (FORM if provider == "twilio" else JSON)}
    sent.update(signed_headers(provider, account, raw))
    sent.update(headers or {})
    octets = [
        (name.encode(), value if isinstance(value, bytes) else value.encode()) for name, value in sent.items()
    ]
    return await http.post(receive_path(account), content=raw, headers=octets)
