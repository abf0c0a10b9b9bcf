"""Signature schemes: Twilio's published vector, Meta's and Sinch's HMACs, windows and URLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from models import ProviderType
from providers.base import ProviderAccount, WebhookRejected, WebhookRequest
from providers.meta import MetaProvider
from providers.sinch import SinchProvider
from providers.twilio import TwilioProvider, signature, url_variants
from tests.webhooks import META_APP_SECRET, SINCH_WEBHOOK_SECRET, sinch_headers, twilio_signature

TWILIO_VECTOR_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]


def test_twilio_published_vector():
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, TWILIO_VECTOR_PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilio_repeated_keys_are_sorted_by_value():
    params = [("MediaUrl", "b"), ("MediaUrl", "a"), ("Body", "x")]
    assert signature("t", "https://h/p", params) == signature(
        "t", "https://h/p", [("Body", "x"), ("MediaUrl", "a"), ("MediaUrl", "b")]
    )


def test_twilio_url_with_and_without_default_port():
    assert url_variants("https://h.example.com/x?token=1") == [
        "https://h.example.com/x?token=1",
        "https://h.example.com:443/x?token=1",
    ]
    assert url_variants("https://h.example.com:443/x") == [
        "https://h.example.com:443/x",
        "https://h.example.com/x",
    ]
    assert url_variants("http://h.example.com:8080/x") == ["http://h.example.com:8080/x"]


def _account(kind: ProviderType, **credentials: str) -> ProviderAccount:
    return ProviderAccount(
        1,
        kind,
        "14155238886",
        "https://wa.example.com/api/whatsapp/accounts/1/notify?token=t",
        "t",
        credentials,
    )


def _request(body: bytes, content_type: str, **headers: str) -> WebhookRequest:
    return WebhookRequest({k.lower(): v for k, v in headers.items()}, body, content_type)


def test_twilio_signs_the_public_receive_url_not_the_proxied_one():
    account = _account(ProviderType.twilio, account_sid="AC1", auth_token="tok")
    body = b"Body=Hi&MessageSid=SM1"
    params = {"Body": "Hi", "MessageSid": "SM1"}
    now = datetime.now(UTC)
    good = twilio_signature(account.receive_url, params, "tok")
    TwilioProvider().verify(
        _request(body, "application/x-www-form-urlencoded", **{"X-Twilio-Signature": good}), account, now
    )
    with_port = twilio_signature(account.receive_url.replace(".com/", ".com:443/"), params, "tok")
    TwilioProvider().verify(
        _request(body, "application/x-www-form-urlencoded", **{"X-Twilio-Signature": with_port}), account, now
    )
    behind_proxy = twilio_signature(
        "http://10.0.0.5:8000/api/whatsapp/accounts/1/notify?token=t", params, "tok"
    )
    for bad in (behind_proxy, "", twilio_signature(account.receive_url, params, "other-token")):
        with pytest.raises(WebhookRejected) as rejected:
            TwilioProvider().verify(
                _request(body, "application/x-www-form-urlencoded", **{"X-Twilio-Signature": bad}),
                account,
                now,
            )
        assert rejected.value.status_code == 403


def test_meta_signature_over_raw_bytes():
    account = _account(ProviderType.meta, app_secret=META_APP_SECRET)
    raw = b'{"object": "whatsapp_business_account",  "entry": []}'  # odd spacing: hash bytes, not JSON
    import hashlib
    import hmac

    good = "sha256=" + hmac.new(META_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    now = datetime.now(UTC)
    MetaProvider().verify(_request(raw, "application/json", **{"X-Hub-Signature-256": good}), account, now)
    reserialized = json.dumps(json.loads(raw)).encode()
    with pytest.raises(WebhookRejected):
        MetaProvider().verify(
            _request(reserialized, "application/json", **{"X-Hub-Signature-256": good}), account, now
        )
    # without an app secret the token in the Receive URL is the guard
    MetaProvider().verify(_request(raw, "application/json"), _account(ProviderType.meta), now)


def test_sinch_signature_window_and_nonce():
    account = _account(ProviderType.sinch_v2, webhook_secret=SINCH_WEBHOOK_SECRET)
    raw = b'{"message": {}}'
    now = datetime.now(UTC)
    headers = sinch_headers(raw, nonce="n-1", timestamp=int(now.timestamp()))
    assert SinchProvider().verify(_request(raw, "application/json", **headers), account, now) == "n-1"
    stale = sinch_headers(raw, timestamp=int(now.timestamp()) - 301)
    with pytest.raises(WebhookRejected, match="5-minute"):
        SinchProvider().verify(_request(raw, "application/json", **stale), account, now)
    forged = sinch_headers(raw, secret="guess")
    with pytest.raises(WebhookRejected, match="does not match"):
        SinchProvider().verify(_request(raw, "application/json", **forged), account, now)
    with pytest.raises(WebhookRejected, match="missing"):
        SinchProvider().verify(_request(raw, "application/json"), account, now)
