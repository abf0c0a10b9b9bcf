"""Upstream text shown to agents is bounded and carries no credential: unit cases for the one
function, then the paths by which provider and assistant text reach an agent."""

from __future__ import annotations

import pytest

from domain.delivery import WINDOW_CLOSED_TEXT, failure_text
from domain.redact import LIMIT, REDACTED, redact
from providers.base import SendError
from tests.support.conversations import enable_assistant, owned, settled

TOKEN = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"Authorization: Bearer {TOKEN} was refused", TOKEN),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl expired", "eyJhbGciOiJIUzI1NiJ9"),
        ("header api-key: kaleyra-api-key is not valid", "kaleyra-api-key"),
        ('{"error": "bad", "api_key": "abc123"}', "abc123"),
        ("GET https://cdn.test/m.png?key=AIzaSy123&token=t0k3n&sig=5ig failed", "AIzaSy123"),
        ("GET https://cdn.test/m.png?key=AIzaSy123&token=t0k3n&sig=5ig failed", "t0k3n"),
        ("GET https://cdn.test/m.png?key=AIzaSy123&token=t0k3n&sig=5ig failed", "5ig"),
        ("password=hunter2 rejected", "hunter2"),
        ("hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 mismatched", "9f86d081884c"),
        ("blob dGhpcyBpcyBhIHNlY3JldCBrZXkgdmFsdWUxMjM0NTY3OA== echoed", "dGhpcyBpcyBh"),
    ],
)
def test_credential_looking_values_are_redacted(text, leaked):
    cleaned = redact(text)
    assert leaked not in cleaned
    assert REDACTED in cleaned


def test_the_accounts_own_secrets_are_redacted_wherever_they_appear():
    cleaned = redact(
        "you sent twilio-secret-token (twilio-secret-token!)", ["twilio-secret-token", None, "ab"]
    )
    assert cleaned == f"you sent {REDACTED} ({REDACTED}!)"


def test_ordinary_provider_words_are_kept_and_the_text_is_bounded():
    for words in (
        "The 'To' number is not a valid phone number.",
        "HTTP 503: Service unavailable",
        "OUTSIDE_ALLOWED_SENDING_WINDOW",
        "Re-engagement message (131047)",
    ):
        assert redact(words) == words
    long = redact("line one\nline two\t" + "word " * 200)
    assert len(long) == LIMIT and long.endswith("…") and "\n" not in long


def test_stored_failure_texts_and_send_errors_are_redacted():
    assert failure_text("63016", f"Bearer {TOKEN}") == f"{WINDOW_CLOSED_TEXT} (Bearer {REDACTED})"
    assert failure_text(None, "api-key=abc123 bad") == f"api-key={REDACTED} bad"
    assert failure_text(None, "x" * 2000) is not None and len(failure_text(None, "x" * 2000) or "") == LIMIT
    assert failure_text(None, None) is None
    assert TOKEN not in SendError(f"HTTP 401: token {TOKEN}", retryable=False).text


async def test_a_providers_refusal_reaches_the_agent_without_the_secrets_it_echoed(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    echoed = f"Authenticate failed for Bearer {TOKEN}; api-key=twilio-secret-token. " + "Details " * 100
    fakes.fail_next["twilio.send"].append((400, {"code": 20003, "message": echoed, "status": 400}, {}))
    response = await client.post(f"{floor.path}/messages", json={"text": "hi"}, headers=floor.ann.headers)
    failed = await settled(client, floor, response.json()["id"], "failed")
    assert failed["error_text"].startswith("HTTP 400: Authenticate failed for Bearer [redacted]")
    assert TOKEN not in failed["error_text"] and "twilio-secret-token" not in failed["error_text"]
    assert len(failed["error_text"]) <= LIMIT


async def test_an_assistant_502_reason_carries_no_key(api, client, admin, fakes, worker, temporal_env):
    floor = await owned(api, client, admin, fakes, temporal_env)
    await enable_assistant(client, admin, fakes, floor)
    echoed = {"error": {"message": f"Incorrect API key provided: {fakes.llm_key}. Bearer {TOKEN}"}}
    fakes.fail_next["llm.chat"].append((500, echoed, {}))
    response = await client.post(f"{floor.path}/assistant", json={}, headers=floor.ann.headers)
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "Incorrect API key provided" in message
    assert fakes.llm_key not in message and TOKEN not in message
