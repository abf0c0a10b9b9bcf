"""Sending stored outbound messages through each provider's client against its fake API."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import messages
from activities.common import ProviderAccess
from activities.messages import MessageActivities, SendMessage
from models.db import create_engine, create_sessionmaker
from models.secrets import SecretBox
from providers import api_bases
from tests.helpers import db
from tests.webhooks import (
    INBOUND,
    make_account,
    post_sinch,
    post_twilio,
)


@pytest.fixture
async def activities(settings):
    engine = create_engine(settings.sqlalchemy_url, pool_size=2)
    async with httpx.AsyncClient(timeout=10) as http:
        box = SecretBox(settings.secret_key.get_secret_value())
        yield MessageActivities(ProviderAccess(create_sessionmaker(engine), http, api_bases(settings), box))
    await engine.dispose()


async def outbound(
    api, client, admin, fakes, settings, provider, text="Hello from Shareline", media=None, template=None
):
    """An account of `provider`, an inbound message from the contact, and a queued reply row."""
    account = await make_account(api, admin, fakes, provider)
    post, body = INBOUND[provider]
    assert (await post(client, account, body())).status_code == 200
    payload = {"template": template} if template else {}
    with db(settings) as conn:
        ((interaction_id,),) = conn.execute("SELECT id FROM interactions").fetchall()
        ((message_id,),) = conn.execute(
            "INSERT INTO messages (account_id, interaction_id, direction, type, text, media, payload, status)"
            " VALUES (%s, %s, 'out', %s, %s, %s, %s, 'queued') RETURNING id",
            (account["id"], interaction_id, "template" if template else "text", text,
             json.dumps(media) if media else None, json.dumps(payload)),
        ).fetchall()  # fmt: skip
    return account, message_id


def row(settings, message_id):
    with db(settings) as conn:
        return conn.execute(
            "SELECT status, provider_message_id, error_code, error_text FROM messages WHERE id = %s",
            (message_id,),
        ).fetchone()


async def test_twilio_text(api, client, admin, fakes, settings, activities):
    account, message_id = await outbound(api, client, admin, fakes, settings, "twilio")
    outcome = await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    (sent,) = fakes.of("twilio.send")
    assert sent.path == f"/twilio/2010-04-01/Accounts/{fakes.twilio_sid}/Messages.json"
    assert (
        sent.headers["authorization"]
        == "Basic " + base64.b64encode(f"{fakes.twilio_sid}:twilio-secret-token".encode()).decode()
    )
    assert sent.body == {
        "From": "whatsapp:+14155238886",
        "To": "whatsapp:+393331234567",
        "Body": "Hello from Shareline",
        "StatusCallback": account["receive_url"],
    }
    assert outcome.status == "sent" and outcome.provider_message_id.startswith("SM")
    assert row(settings, message_id)[:2] == ("sent", outcome.provider_message_id)


async def test_twilio_media_and_content_template(api, client, admin, fakes, settings, activities):
    _, media_id = await outbound(
        api,
        client,
        admin,
        fakes,
        settings,
        "twilio",
        text="see this",
        media={"url": "https://cdn.example.com/a.jpg"},
    )
    await ActivityEnvironment().run(activities.send_message, SendMessage(media_id))
    assert fakes.of("twilio.send")[-1].body["MediaUrl"] == "https://cdn.example.com/a.jpg"
    with db(settings) as conn:
        conn.execute("UPDATE messages SET status = 'sent' WHERE id = %s", (media_id,))
        ((template_id,),) = conn.execute(
            "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload, status)"
            " SELECT account_id, interaction_id, 'out', 'template', '', %s, 'queued' FROM messages WHERE id = %s RETURNING id",
            (
                json.dumps({"template": {"name": "HX123", "language": "en", "parameters": ["Jane", "42"]}}),
                media_id,
            ),
        ).fetchall()
    await ActivityEnvironment().run(activities.send_message, SendMessage(template_id))
    body = fakes.of("twilio.send")[-1].body
    assert body["ContentSid"] == "HX123"
    assert json.loads(body["ContentVariables"]) == {"1": "Jane", "2": "42"}
    assert "Body" not in body


async def test_meta_text_image_and_template(api, client, admin, fakes, settings, activities):
    _, message_id = await outbound(api, client, admin, fakes, settings, "meta", text="Hi",
                                   media={"url": "https://cdn.example.com/photo.png"})  # fmt: skip
    outcome = await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    (sent,) = fakes.of("meta.send")
    assert sent.path == "/graph/106540352242922/messages"
    assert sent.headers["authorization"] == "Bearer meta-access-token"
    assert sent.body == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "393331234567",
        "type": "image", "image": {"link": "https://cdn.example.com/photo.png", "caption": "Hi"},
    }  # fmt: skip
    assert outcome.provider_message_id.startswith("wamid.")


async def test_meta_outside_the_window_is_a_permanent_failure(
    api, client, admin, fakes, settings, activities
):
    _, message_id = await outbound(api, client, admin, fakes, settings, "meta")
    error = {"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
                       "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have passed"}}}  # fmt: skip
    fakes.fail_next["meta.send"].append((400, error, {}))
    outcome = await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    assert (outcome.status, outcome.error_code) == ("failed", "131047")
    status, provider_id, code, text = row(settings, message_id)
    assert (status, provider_id, code) == ("failed", None, "131047")
    assert "Re-engagement" in text
    again = await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    assert again.status == "failed"
    assert len(fakes.of("meta.send")) == 1  # a failed message is not re-sent by a replayed activity


async def test_rate_limits_and_outages_are_retried_after_retry_after(
    api, client, admin, fakes, settings, activities
):
    _, message_id = await outbound(api, client, admin, fakes, settings, "kaleyra")
    fakes.fail_next["kaleyra.send"].append(
        (429, {"error": {"code": "E429", "message": "slow down"}}, {"Retry-After": "7"})
    )
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    assert not raised.value.non_retryable
    assert raised.value.next_retry_delay == timedelta(seconds=7)
    assert row(settings, message_id)[0] == "queued"
    fakes.fail_next["kaleyra.send"].append((503, {"message": "maintenance"}, {}))
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    assert not raised.value.non_retryable
    outcome = await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    assert outcome.status == "sent"
    sent = fakes.of("kaleyra.send")[-1]
    assert sent.path == "/kaleyra/v2/HXKAL1/whatsapp/14155238886/messages"
    assert sent.headers["api-key"] == "kaleyra-api-key"
    assert sent.body["messaging_object"]["to"] == "+393331234567"
    assert sent.body["messaging_object"]["text"] == {"body": "Hello from Shareline"}


async def test_sinch_token_is_cached_and_refreshed_once_on_401(
    api, client, admin, fakes, settings, activities
):
    _, first = await outbound(api, client, admin, fakes, settings, "sinch_v2")
    await ActivityEnvironment().run(activities.send_message, SendMessage(first))
    # The worker's token cache outlives a test: an earlier test may have left a valid token.
    assert len(fakes.of("sinch.token")) <= 1
    tokens_before, sends_before = len(fakes.of("sinch.token")), len(fakes.of("sinch.send"))
    with db(settings) as conn:
        ((second,),) = conn.execute(
            "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload, status)"
            " SELECT account_id, interaction_id, 'out', 'text', 'again', '{}', 'queued' FROM messages WHERE id = %s RETURNING id",
            (first,),
        ).fetchall()
    fakes.revoked_tokens.update(fakes.issued_tokens)  # the cached token stops working
    outcome = await ActivityEnvironment().run(activities.send_message, SendMessage(second))
    assert outcome.status == "sent"
    tokens = fakes.of("sinch.token")
    assert len(tokens) == tokens_before + 1  # refreshed once
    assert tokens[-1].body == {"grant_type": "client_credentials"}
    sent = fakes.of("sinch.send")[-1]
    assert sent.path == "/sinch/v1/projects/proj-1/messages:send"
    assert sent.body == {
        "app_id": "01SINCHAPP",
        "recipient": {
            "identified_by": {"channel_identities": [{"channel": "WHATSAPP", "identity": "+393331234567"}]}
        },
        "message": {"text_message": {"text": "again"}},
    }
    assert len(fakes.of("sinch.send")) == sends_before + 2  # the 401, then the retried send


async def test_sinch_window_error_arrives_later_as_a_delivery_report(
    api, client, admin, fakes, settings, activities
):
    account, message_id = await outbound(api, client, admin, fakes, settings, "sinch_v2")
    outcome = await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    report = {"app_id": "01SINCHAPP", "project_id": "proj-1", "message_delivery_report": {
        "message_id": outcome.provider_message_id, "conversation_id": "C", "status": "FAILED",
        "channel_identity": {"channel": "WHATSAPP", "identity": "393331234567"}, "contact_id": "X",
        "reason": {"code": "OUTSIDE_ALLOWED_SENDING_WINDOW", "description": "outside the 24h window"}}}  # fmt: skip
    assert (await post_sinch(client, account, report)).status_code == 200
    assert row(settings, message_id) == (
        "failed",
        outcome.provider_message_id,
        "OUTSIDE_ALLOWED_SENDING_WINDOW",
        "outside the 24-hour customer service window: only a template may be sent (outside the 24h window)",
    )


async def test_a_status_that_outruns_the_send_is_applied_when_the_id_is_recorded(
    api, client, admin, fakes, settings, activities
):
    account, message_id = await outbound(api, client, admin, fakes, settings, "twilio")
    future_sid = fakes.twilio_sid_for(fakes.last_id + 1)  # the sid the fake will give this send
    assert (
        await post_twilio(client, account, {"MessageSid": future_sid, "MessageStatus": "delivered"})
    ).status_code == 200
    outcome = await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    assert outcome.provider_message_id == future_sid
    assert row(settings, message_id)[0] == "delivered"


async def test_templates_on_sinch_are_refused_without_a_call(api, client, admin, fakes, settings, activities):
    template = {"name": "recontact", "language": "en_US", "parameters": []}
    _, message_id = await outbound(api, client, admin, fakes, settings, "sinch_v2", template=template)
    outcome = await ActivityEnvironment().run(activities.send_message, SendMessage(message_id))
    assert (outcome.status, outcome.error_code) == ("failed", "no_templates")
    assert fakes.of("sinch.send") == []


class SlowAnswers(httpx.AsyncBaseTransport):
    """The provider receives each request and acts on it; its first `slow` answers come `delay`
    seconds late (an overloaded provider that accepted the message)."""

    def __init__(self, delay: float, slow: int = 1) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._delay, self._slow = delay, slow

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if self._slow:
            self._slow -= 1
            await response.aread()
            await asyncio.sleep(self._delay)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_send_answered_after_the_deadline_is_counted_and_sent_again(
    api, client, admin, fakes, settings, monkeypatch
):
    _, message_id = await outbound(api, client, admin, fakes, settings, "meta")
    monkeypatch.setattr(messages, "SEND_DEADLINE", timedelta(seconds=0.3))
    engine = create_engine(settings.sqlalchemy_url, pool_size=2)
    box = SecretBox(settings.secret_key.get_secret_value())
    async with httpx.AsyncClient(transport=SlowAnswers(delay=5), timeout=30) as http:
        slow = MessageActivities(ProviderAccess(create_sessionmaker(engine), http, api_bases(settings), box))
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(slow.send_message, SendMessage(message_id))
        assert not raised.value.non_retryable
        assert "outcome is unknown" in str(raised.value)
        with db(settings) as conn:
            attempt = conn.execute(
                "SELECT status, provider_message_id, attempts, last_error FROM messages WHERE id = %s",
                (message_id,),
            ).fetchone()
        assert attempt is not None
        status, provider_id, attempts, last_error = attempt
        assert (status, provider_id, attempts) == ("queued", None, 1)
        assert "outcome is unknown" in last_error

        outcome = await ActivityEnvironment().run(slow.send_message, SendMessage(message_id))
    await engine.dispose()
    assert outcome.status == "sent"
    # The provider got both POSTs: the duplicate the module docstring owns up to, now visible.
    assert len(fakes.of("meta.send")) == 2
    with db(settings) as conn:
        assert conn.execute(
            "SELECT status, provider_message_id, attempts FROM messages WHERE id = %s", (message_id,)
        ).fetchone() == ("sent", outcome.provider_message_id, 2)


def test_the_send_deadline_leaves_room_inside_the_activity_timeout():
    assert messages.SEND_DEADLINE <= messages.SEND_START_TO_CLOSE * 0.75
