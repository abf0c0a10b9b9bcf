"""Hostile webhooks for every provider, with a valid token and (where the provider signs) a valid
signature, so the parsers answer: random bytes, wrong content types, deep JSON, invalid UTF-8,
NaN and numbers Python will not read, and every field of the documented payloads given a value
of the wrong type. Nothing answers 5xx, and a refused request stores nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.wire import FORM, JSON, post_raw
from tests.webhooks import kaleyra_callback, meta_envelope, meta_text, sinch_text, twilio_message

EXAMPLES_PER_PROVIDER = 120
RAW = "\x00raw\x00"  # stands for a JSON token json.dumps cannot write, spliced in afterwards

# Documented payloads of each provider, to be broken one field at a time.
SAMPLES: dict[str, list[Any]] = {
    "meta": [
        meta_envelope(
            [
                meta_text("wamid.F1"),
                {"from": "16505551234", "id": "wamid.F2", "timestamp": "1732442400", "type": "image",
                 "image": {"id": "M1", "mime_type": "image/jpeg", "sha256": "x", "caption": "c"}},
                {"from": "16505551234", "id": "wamid.F3", "timestamp": "1732442400", "type": "interactive",
                 "interactive": {"type": "button_reply", "button_reply": {"id": "b", "title": "Yes"}}},
            ],
            [{"id": "wamid.OUT", "status": "failed", "timestamp": "1732442401", "recipient_id": "1",
              "errors": [{"code": 131047, "title": "Re-engagement message"}]}],
            names={"16505551234": "Kerry"},
        ),
    ],
    "sinch_v2": [
        sinch_text("01F1"),
        {"app_id": "01SINCHAPP", "message_delivery_report": {
            "message_id": "01OUT", "status": "FAILED", "channel_identity": {"identity": "46732001122"},
            "reason": {"code": "OUTSIDE_ALLOWED_SENDING_WINDOW", "description": "late"}}},
        {"app_id": "01SINCHAPP", "message": {
            "id": "01F2", "direction": "TO_APP", "channel_identity": {"identity": "46732001122"},
            "contact_message": {"media_message": {"url": "https://s.example/a.jpg", "filename_override": "a"}}}},
    ],
    "kaleyra": [
        kaleyra_callback("Namaste", id="K-F1"),
        kaleyra_callback("", id="K-F2", type="image", media_url="https://k.example/i", mime_type="image/png"),
        {"id": "K-OUT", "status": "failed", "error": {"code": "E1", "message": "no"}},
        meta_envelope([meta_text("wamid.KF1")], names={"16505551234": "Kerry"}),
    ],
}  # fmt: skip

TWILIO_SAMPLES = [
    twilio_message("SM-F1"),
    twilio_message("SM-F2", NumMedia="1", MediaUrl0="https://t.example/m", MediaContentType0="image/png"),
    {"MessageSid": "SM-OUT", "MessageStatus": "undelivered", "ErrorCode": "63016", "AccountSid": "AC1"},
]

CONTENT_TYPES = {"twilio": FORM, "meta": JSON, "sinch_v2": JSON, "kaleyra": JSON}
WRONG_CONTENT_TYPES = [
    "",
    "text/plain",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
    "APPLICATION/JSON",
    FORM,
]

# Strings a database or an encoder may choke on, and numbers at the edges of what Python reads.
HOSTILE_TEXT = st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "é" * 300, "9" * 4300, "", " ", "whatsapp:+", "²³"]
)
TEXT = st.text(max_size=30) | HOSTILE_TEXT | st.text(st.characters(codec="utf-8"), max_size=300)
RAW_TOKENS = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400", b"9" * 5000, b"-0"])
SCALARS = st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300) | st.floats(allow_nan=False, allow_infinity=False) | TEXT  # fmt: skip
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)  # fmt: skip


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value where another value can go."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


@st.composite
def broken_json(draw: st.DrawFn, samples: list[Any]) -> bytes:
    """A documented payload with one place given a value of another type, or a raw token."""
    sample = draw(st.sampled_from(samples))
    path = draw(st.sampled_from(paths(sample)))
    if draw(st.booleans()):
        return json.dumps(replaced(sample, path, draw(VALUES))).encode()
    body = json.dumps(replaced(sample, path, RAW)).encode()
    return body.replace(json.dumps(RAW).encode(), draw(RAW_TOKENS))


@st.composite
def invalid_utf8(draw: st.DrawFn, samples: list[Any]) -> bytes:
    body = json.dumps(draw(st.sampled_from(samples)), ensure_ascii=False).encode()
    at = draw(st.integers(0, len(body)))
    return body[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])) + body[at:]


def deep_json() -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda levels, shape: shape[0] * levels + shape[1] + shape[2] * levels,
        st.integers(60, 5000),
        st.sampled_from([(b"[", b"", b"]"), (b'{"entry":', b"[]", b"}"), (b'{"message":', b"{}", b"}")]),
    )


def json_bodies(provider: str) -> st.SearchStrategy[bytes]:
    samples = SAMPLES[provider]
    return st.one_of(
        broken_json(samples),
        broken_json(samples),  # twice: the most telling of them
        invalid_utf8(samples),
        deep_json(),
        st.binary(max_size=300),
        st.builds(lambda value: json.dumps(value).encode(), VALUES),
    )


@st.composite
def form_bodies(draw: st.DrawFn) -> bytes:
    """Twilio's form with a field given another value, dropped or added; or bytes that are no form."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=300))
    fields = dict(draw(st.sampled_from(TWILIO_SAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([*fields, "NumMedia", "MediaUrl0", "WaId", "From", "Latitude", "X"]))
        if draw(st.integers(0, 4)) == 0:
            fields.pop(name, None)
        else:
            fields[name] = draw(TEXT).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return urlencode(fields).encode()


SIGNATURE_HEADERS = {
    "twilio": ["X-Twilio-Signature"],
    "meta": ["X-Hub-Signature-256"],
    "sinch_v2": ["x-sinch-webhook-signature", "x-sinch-webhook-signature-timestamp", "x-sinch-webhook-signature-nonce"],
    "kaleyra": [],
}  # fmt: skip
HEADER_VALUES = st.sampled_from(["", "é".encode("latin-1"), b"\xff\xfe", "9" * 400, "²³", "sha256=" + "0" * 64]) | st.text(
    st.characters(min_codepoint=32, max_codepoint=126), max_size=60
)  # fmt: skip


@pytest.mark.parametrize("provider", ["twilio", "meta", "sinch_v2", "kaleyra"])
@fuzz_settings(EXAMPLES_PER_PROVIDER)
@given(data=st.data())
async def test_a_hostile_webhook_never_answers_5xx_and_a_refused_one_stores_nothing(
    module_client, accounts, rows, provider, data
):
    raw = data.draw(form_bodies() if provider == "twilio" else json_bodies(provider), label="body")
    content_type = data.draw(
        st.sampled_from([CONTENT_TYPES[provider]] * 4 + WRONG_CONTENT_TYPES), label="content type"
    )
    headers: dict[str, str | bytes] = {}
    if SIGNATURE_HEADERS[provider] and data.draw(st.integers(0, 5), label="forge") == 0:
        headers[data.draw(st.sampled_from(SIGNATURE_HEADERS[provider]))] = data.draw(HEADER_VALUES)
    before = rows.counts()

    response = await post_raw(module_client, provider, accounts[provider], raw, content_type, headers)

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert rows.counts() == before, f"refused with {response.status_code} yet stored: {response.text}"
        assert set(response.json()) == {"error"}
