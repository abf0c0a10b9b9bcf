"""Each webhook that once answered 500 with a valid token and signature, found by the fuzzer or by
reading the parsers: now a clear 4xx that stores nothing, or stored with what cannot be stored
made storable, or (inside a batch) the bad element kept aside while the rest is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fuzz.wire import post_raw
from tests.webhooks import kaleyra_callback, meta_envelope, meta_text, sinch_text, twilio_message

NON_ASCII = "sha256=é".encode("latin-1")  # header octets a client may send; compare_digest refused text


def deep(levels: int, prefix: bytes = b"") -> bytes:
    return prefix + b"[" * levels + b"]" * levels + (b"]}" if prefix else b"")


def meta_raw(message: dict[str, Any], **envelope: Any) -> bytes:
    return json.dumps(meta_envelope([message], **envelope)).encode()


def sinch_report(code: Any) -> bytes:
    report = {"message_id": "01OUT", "status": "FAILED", "reason": {"code": code, "description": "x"}}
    return json.dumps({"app_id": "01SINCHAPP", "message_delivery_report": report}).encode()


def sinch_raw(**message: Any) -> bytes:
    body = sinch_text("01S-" + str(len(message)))
    body["message"].update(message)
    return json.dumps(body).encode()


@dataclass(frozen=True)
class Case:
    provider: str
    raw: bytes
    status: int
    code: str | None = None  # the error's code, for a 4xx
    names: str | None = None  # the field the error names
    stored: tuple[tuple[str, str], ...] = ()  # (provider id, text) of the messages a 200 stores
    rejected: int = 0  # batch elements kept aside
    headers: dict[str, str | bytes] = field(default_factory=dict)


CASES = {
    # Twilio ---------------------------------------------------------------------------------------
    "twilio NumMedia=abc": Case(
        "twilio", urlencode(twilio_message("SM-R1", NumMedia="abc")).encode(), 400, "malformed", "NumMedia"
    ),
    "twilio NumMedia of 5,000 digits": Case(
        "twilio", urlencode(twilio_message("SM-R2", "five", NumMedia="9" * 5000)).encode(), 200,
        stored=(("SM-R2", "five"),),
    ),
    "twilio NUL in the body": Case(
        "twilio", urlencode(twilio_message("SM-R3", "a\x00b")).encode(), 200, stored=(("SM-R3", "a\ufffdb"),)
    ),
    "twilio non-ASCII signature": Case(
        "twilio", urlencode(twilio_message("SM-R4")).encode(), 403, "bad_signature",
        headers={"X-Twilio-Signature": NON_ASCII},
    ),
    # Meta -----------------------------------------------------------------------------------------
    "meta JSON 5,000 deep": Case("meta", deep(5000, b'{"entry": '), 400, "too_deep"),
    "meta JSON 100,000 deep": Case("meta", b'{"entry": ' + b"[" * 100_000, 400, "too_deep"),
    "meta lone surrogate in a text": Case(
        "meta", meta_raw(meta_text("wamid.R1", "ok \ud800")), 200, stored=(("wamid.R1", "ok \ufffd"),)
    ),
    "meta 5,000-digit integer": Case(
        "meta", meta_raw(meta_text("wamid.R2")).replace(b'"timestamp": "', b'"timestamp": ' + b"9" * 5000 + b', "t": "'),
        400, "bad_json",
    ),
    "meta NaN": Case(
        "meta", meta_raw(meta_text("wamid.R3")).replace(b'"timestamp": "', b'"timestamp": NaN, "t": "'),
        400, "bad_json",
    ),
    "meta non-ASCII signature": Case(
        "meta", meta_raw(meta_text("wamid.R4")), 403, "bad_signature", headers={"X-Hub-Signature-256": NON_ASCII}
    ),
    "meta profile not an object": Case(
        "meta",
        json.dumps(meta_envelope([meta_text("wamid.R5", "named?")], names={})).replace(
            '"contacts": []', '"contacts": [{"profile": "Kerry", "wa_id": "16505551234"}]'
        ).encode(),
        200, stored=(("wamid.R5", "named?"),), rejected=1,
    ),
    "meta button_reply not an object": Case(
        "meta",
        meta_raw({**meta_text("wamid.R6"), "type": "interactive", "interactive": {"button_reply": "yes"}}),
        200, rejected=1,
    ),
    "meta mime_type not a string": Case(
        "meta", meta_raw({**meta_text("wamid.R7"), "type": "image", "image": {"id": "M1", "mime_type": 5}}),
        200, rejected=1,
    ),
    # Sinch ----------------------------------------------------------------------------------------
    "sinch JSON 5,000 deep": Case("sinch_v2", deep(5000, b'{"message": '), 400, "too_deep"),
    "sinch timestamp of 400 digits": Case(
        "sinch_v2", sinch_raw(), 403, "stale_signature",
        headers={"x-sinch-webhook-signature-timestamp": "9" * 400},
    ),
    "sinch non-ASCII signature": Case(
        "sinch_v2", sinch_raw(), 403, "bad_signature", headers={"x-sinch-webhook-signature": NON_ASCII}
    ),
    "sinch channel_identity not an object": Case(
        "sinch_v2", sinch_raw(channel_identity="46732001122"), 400, "malformed", "message.channel_identity"
    ),
    "sinch unhashable reason.code": Case(
        "sinch_v2", sinch_report(["OUTSIDE_ALLOWED_SENDING_WINDOW"]), 400, "malformed",
        "message_delivery_report.reason.code",
    ),
    "sinch lone surrogate in a text": Case(
        "sinch_v2", sinch_raw(id="01S-R1", contact_message={"text_message": {"text": "\udfff!"}}), 200,
        stored=(("01S-R1", "\ufffd!"),),
    ),
    # Kaleyra --------------------------------------------------------------------------------------
    "kaleyra JSON 5,000 deep": Case("kaleyra", deep(5000, b'{"body": '), 400, "too_deep"),
    "kaleyra mime_type not a string": Case(
        "kaleyra",
        json.dumps(kaleyra_callback("file", id="K-R1", type="file", media_url="https://k.example/f", mime_type=5)).encode(),
        400, "malformed", "mime_type",
    ),
    "kaleyra lone surrogate in a text": Case(
        "kaleyra", json.dumps(kaleyra_callback("hi \ud800", id="K-R2")).encode(), 200,
        stored=(("K-R2", "hi \ufffd"),),
    ),
    "kaleyra created_at of 5,000 digits": Case(
        "kaleyra", json.dumps(kaleyra_callback("late", id="K-R3", created_at="1" * 5000)).encode(), 200,
        stored=(("K-R3", "late"),),
    ),
    "kaleyra Content-Length of a superscript digit": Case(
        "kaleyra", json.dumps(kaleyra_callback("sized", id="K-R4")).encode(), 200, stored=(("K-R4", "sized"),),
        headers={"Content-Length": "²".encode("latin-1")},
    ),
    "kaleyra changes not a list": Case(
        "kaleyra", b'{"entry": [{"changes": 5}]}', 200, rejected=1
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_hostile_webhook_gets_a_clear_answer(module_client, accounts, rows, case):
    account = accounts[case.provider]
    before = rows.counts()
    known = set(rows.messages(account["id"]))

    response = await post_raw(module_client, case.provider, account, case.raw, headers=case.headers)

    assert response.status_code == case.status, response.text
    after = rows.counts()
    if case.status >= 400:
        error = response.json()["error"]
        assert error["code"] == case.code, error
        if case.names:
            assert case.names in error["fields"], error
        assert after == before, "a refused webhook stored something"
        return
    assert [m for m in rows.messages(account["id"]) if m not in known] == list(case.stored)
    assert after["rejected_webhook_items"] - before["rejected_webhook_items"] == case.rejected
    if case.provider != "twilio":
        assert response.json().get("rejected", 0) == case.rejected


async def test_one_bad_message_in_a_meta_batch_is_kept_aside_and_the_rest_stored(
    module_client, accounts, rows
):
    account = accounts["meta"]
    bad = {"from": "16505551234", "timestamp": "1732442400", "type": "text", "text": {"body": "no id"}}
    body = meta_envelope([meta_text("wamid.P1", "the good one"), bad], names={"16505551234": "Kerry"})
    rejected_before = rows.rejected(account["id"])

    response = await post_raw(module_client, "meta", account, json.dumps(body).encode())

    assert response.status_code == 200, response.text
    assert response.json() == {"messages": 1, "statuses": 0, "rejected": 1}
    assert ("wamid.P1", "the good one") in rows.messages(account["id"])
    new = rows.rejected(account["id"])[len(rejected_before) :]
    assert new == [("meta", "entry[0].changes[0].value.messages[1]: id is missing", bad)]

    # The provider retries what it thinks failed: the good message stays stored once.
    again = await post_raw(module_client, "meta", account, json.dumps(body).encode())
    assert again.status_code == 200
    assert rows.messages(account["id"]).count(("wamid.P1", "the good one")) == 1
