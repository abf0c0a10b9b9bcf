"""Agent replies through the HTTP API, the interaction's workflow and each provider's fake API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import metrics
from tests.helpers import db, wait_for
from tests.support.conversations import CONTACT, owned, settled
from tests.webhooks import post_twilio

SEND_ROUTE = {
    "twilio": "twilio.send",
    "meta": "meta.send",
    "sinch_v2": "sinch.send",
    "kaleyra": "kaleyra.send",
}


@pytest.mark.parametrize("provider", ["twilio", "meta", "sinch_v2", "kaleyra"])
async def test_a_reply_is_stored_queued_then_sent_by_the_provider(
    api, client, admin, fakes, worker, temporal_env, provider
):
    floor = await owned(api, client, admin, fakes, temporal_env, provider)
    response = await client.post(f"{floor.path}/messages", json={"text": "Ciao!"}, headers=floor.ann.headers)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert (queued["status"], queued["direction"], queued["sender_id"]) == ("queued", "out", floor.ann.id)

    sent = await settled(client, floor, queued["id"])
    assert sent["provider_message_id"]
    (request,) = fakes.of(SEND_ROUTE[provider])
    assert "Ciao!" in str(request.body)
    assert CONTACT in str(request.body)


async def test_replies_go_out_in_the_order_they_were_written(api, client, admin, fakes, worker, temporal_env):
    floor = await owned(api, client, admin, fakes, temporal_env)
    ids = []
    for text in ("one", "two", "three", "four"):
        response = await client.post(f"{floor.path}/messages", json={"text": text}, headers=floor.ann.headers)
        ids.append(response.json()["id"])
    for message_id in ids:
        await settled(client, floor, message_id)
    assert [request.body["Body"] for request in fakes.of("twilio.send")] == ["one", "two", "three", "four"]


async def test_a_media_reply_and_who_may_send(api, client, admin, fakes, worker, temporal_env):
    floor = await owned(api, client, admin, fakes, temporal_env)
    refused = await client.post(f"{floor.path}/messages", json={"text": "mine?"}, headers=floor.bob.headers)
    assert refused.status_code == 403
    media = {"media_url": "https://cdn.example.com/menu.pdf", "caption": "Our menu"}
    response = await client.post(f"{floor.path}/messages", json=media, headers=admin)  # a supervisor may
    assert response.status_code == 202, response.text
    assert response.json()["type"] == "document"
    await settled(client, floor, response.json()["id"])
    (request,) = fakes.of("twilio.send")
    assert (request.body["MediaUrl"], request.body["Body"]) == (
        "https://cdn.example.com/menu.pdf",
        "Our menu",
    )


@pytest.mark.parametrize(
    ("body", "field_hint"),
    [
        ({}, "exactly one of text, media_url or template"),
        ({"text": "a", "template": {"name": "t"}}, "exactly one"),
        ({"caption": "alone", "text": "a"}, "caption goes with media_url"),
        ({"media_url": "ftp://example.com/a.png"}, "media_url"),
        ({"text": ""}, "text"),
    ],
)
async def test_bad_replies_are_refused_and_nothing_is_stored(
    api, client, admin, fakes, worker, temporal_env, settings, body, field_hint
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    response = await client.post(f"{floor.path}/messages", json=body, headers=floor.ann.headers)
    assert response.status_code == 422
    assert field_hint in str(response.json()["error"])
    with db(settings) as conn:
        assert conn.execute("SELECT count(*) FROM messages WHERE direction = 'out'").fetchone() == (0,)


def _age_the_window(settings, interaction_id: int) -> None:
    with db(settings) as conn:
        conn.execute(
            "UPDATE interactions SET last_inbound_at = now() - interval '25 hours' WHERE id = %s",
            (interaction_id,),
        )


async def test_outside_the_window_free_text_is_refused_before_any_provider_call(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await owned(api, client, admin, fakes, temporal_env, "meta")
    _age_the_window(settings, floor.interaction["id"])
    for body in ({"text": "still there?"}, {"media_url": "https://cdn.example.com/a.jpg"}):
        response = await client.post(f"{floor.path}/messages", json=body, headers=floor.ann.headers)
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "outside_service_window"
        assert error["details"]["window_closed_at"]
    template = {"name": "order_update", "language": "it", "parameters": ["42"]}
    response = await client.post(
        f"{floor.path}/messages", json={"template": template}, headers=floor.ann.headers
    )
    assert response.status_code == 202, response.text
    await settled(client, floor, response.json()["id"])
    (request,) = fakes.of("meta.send")  # the refused ones never reached the provider
    assert request.body["type"] == "template"
    assert request.body["template"]["name"] == "order_update"


async def test_sinch_accounts_cannot_send_templates(api, client, admin, fakes, worker, temporal_env):
    floor = await owned(api, client, admin, fakes, temporal_env, "sinch_v2")
    response = await client.post(
        f"{floor.path}/messages", json={"template": {"name": "t"}}, headers=floor.ann.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "templates_unsupported"
    recontact = await client.post(f"{floor.path}/recontact", headers=floor.ann.headers)
    assert recontact.status_code == 409
    assert recontact.json()["error"]["code"] == "recontact_unavailable"


async def test_recontact_sends_the_accounts_template_rendered(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await owned(api, client, admin, fakes, temporal_env, "meta")
    template = {
        "name": "come_back",
        "language": "it",
        "parameters": ["{{contact.mobile}}", "{{agent.username}}"],
    }
    assert (
        await client.patch(
            f"/api/whatsapp/accounts/{floor.account['id']}",
            json={"recontact_template": template},
            headers=admin,
        )
    ).status_code == 200
    _age_the_window(settings, floor.interaction["id"])
    response = await client.post(f"{floor.path}/recontact", headers=floor.ann.headers)
    assert response.status_code == 202, response.text
    await settled(client, floor, response.json()["id"])
    (request,) = fakes.of("meta.send")
    parameters = request.body["template"]["components"][0]["parameters"]
    assert [p["text"] for p in parameters] == [CONTACT, "ann"]


async def test_a_refused_send_shows_the_providers_reason_and_retry_really_resends(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    fakes.fail_next["twilio.send"].append(
        (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}, {})
    )
    response = await client.post(f"{floor.path}/messages", json={"text": "hello?"}, headers=floor.ann.headers)
    failed = await settled(client, floor, response.json()["id"], "failed")
    assert failed["error_code"] == "21211"
    assert "not a valid phone number" in failed["error_text"]

    retried = await client.post(f"{floor.path}/messages/{failed['id']}/retry", headers=floor.ann.headers)
    assert retried.status_code == 202, retried.text
    # At once again: the message is queued (handed over once more) or sent (409); never sent twice.
    again = await client.post(f"{floor.path}/messages/{failed['id']}/retry", headers=floor.ann.headers)
    assert again.status_code in (202, 409), again.text
    sent = await settled(client, floor, failed["id"])
    assert sent["error_code"] is None
    assert [request.body["Body"] for request in fakes.of("twilio.send")] == ["hello?", "hello?"]
    assert sent["payload"]["attempt"] == 1
    late = await client.post(f"{floor.path}/messages/{failed['id']}/retry", headers=floor.ann.headers)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "not_failed")


async def test_a_send_whose_retries_run_out_is_marked_failed_for_the_agent(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    gave_up_before = metrics.SENDS.labels("twilio", "gave_up")._value.get()
    for _ in range(20):  # SEND_RETRY's attempts, every one a provider outage
        fakes.fail_next["twilio.send"].append((503, {"code": 20500, "message": "Service unavailable"}, {}))
    response = await client.post(
        f"{floor.path}/messages", json={"text": "anyone?"}, headers=floor.ann.headers
    )
    assert response.status_code == 202

    async def gave_up():
        await temporal_env.sleep(timedelta(minutes=2))  # the retry back-off, skipped
        rows = (await client.get(f"{floor.path}/messages", headers=floor.ann.headers)).json()["rows"]
        message = next(row for row in rows if row["id"] == response.json()["id"])
        return message if message["status"] == "failed" else None

    failed = await wait_for(gave_up, seconds=60)
    assert failed["error_code"] == "send_gave_up"
    assert len(fakes.of("twilio.send")) == 20
    assert metrics.SENDS.labels("twilio", "gave_up")._value.get() == gave_up_before + 1  # counted once


async def test_a_late_window_error_marks_the_reply_failed_with_that_reason(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    response = await client.post(f"{floor.path}/messages", json={"text": "late"}, headers=floor.ann.headers)
    sent = await settled(client, floor, response.json()["id"])
    callback = {
        "MessageSid": sent["provider_message_id"],
        "MessageStatus": "undelivered",
        "ErrorCode": "63016",
    }
    assert (await post_twilio(client, floor.account, callback)).status_code == 200
    failed = await settled(client, floor, sent["id"], "failed")
    assert failed["error_text"].startswith("outside the 24-hour customer service window")


async def test_nothing_is_sent_in_a_closed_interaction(api, client, admin, fakes, worker, temporal_env):
    floor = await owned(api, client, admin, fakes, temporal_env)
    assert (await client.post(f"{floor.path}/close", json={}, headers=floor.ann.headers)).status_code == 200
    response = await client.post(f"{floor.path}/messages", json={"text": "bye"}, headers=floor.ann.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "interaction_closed"


async def test_an_uploaded_file_is_sent_by_a_url_only_the_provider_knows(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    content = b"%PDF-1.7 a small menu"
    response = await client.post(
        f"{floor.path}/messages/upload",
        files={"file": ("menu.pdf", content, "application/pdf")},
        data={"caption": "Our menu"},
        headers=floor.ann.headers,
    )
    assert response.status_code == 202, response.text
    assert response.json()["type"] == "document"
    await settled(client, floor, response.json()["id"])
    (request,) = fakes.of("twilio.send")
    url = request.body["MediaUrl"]
    assert url.startswith(floor.account["motion_domain"]) and request.body["Body"] == "Our menu"
    path = url.removeprefix(floor.account["motion_domain"])
    fetched = await client.get(path)  # the provider has no login
    assert (fetched.status_code, fetched.content) == (200, content)
    assert fetched.headers["x-content-type-options"] == "nosniff"
    assert fetched.headers["content-disposition"].startswith("attachment")
    assert (await client.get(path[:-1] + ("0" if path[-1] != "0" else "1"))).status_code == 404
    assert (await client.get(path.rsplit("/", 1)[0] + "/%C3%A9")).status_code == 422


async def test_an_upload_must_be_a_media_type_whatsapp_takes(api, client, admin, fakes, worker, temporal_env):
    floor = await owned(api, client, admin, fakes, temporal_env)
    response = await client.post(
        f"{floor.path}/messages/upload",
        files={"file": ("page.html", b"<script>alert(1)</script>", "text/html")},
        headers=floor.ann.headers,
    )
    assert response.status_code == 422
    assert "file" in response.json()["error"]["fields"]


async def test_an_upload_over_the_limit_is_refused_and_nothing_stored(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    too_big = b"x" * (settings.media_max_bytes + 1)
    response = await client.post(
        f"{floor.path}/messages/upload",
        files={"file": ("big.pdf", too_big, "application/pdf")},
        headers=floor.ann.headers,
    )
    assert response.status_code == 413
    with db(settings) as conn:
        assert conn.execute("SELECT count(*) FROM messages WHERE direction = 'out'").fetchone() == (0,)
