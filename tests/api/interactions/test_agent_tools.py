"""Notes, tags, canned answers, video calls and the assistant, through the HTTP API against fake
Vidaoo and chat-completions servers (and the providers' fakes for the customer's video link)."""

from __future__ import annotations

import pytest

from tests.helpers import db
from tests.support.conversations import CONTACT, enable_assistant, owned, settled
from tests.webhooks import make_account


@pytest.fixture
def settings(settings):
    """A short timeout for other companies' services, so the hang tests take a second."""
    return settings.model_copy(update={"http_timeout_seconds": 1.0})


def outbound_count(settings) -> int:
    with db(settings) as conn:
        row = conn.execute("SELECT count(*) FROM messages WHERE direction = 'out'").fetchone()
    assert row is not None
    return int(row[0])


async def test_a_note_is_in_the_thread_for_staff_and_agents_and_never_sent(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    response = await client.post(
        f"{floor.path}/notes", json={"text": "Customer is a reseller"}, headers=floor.ann.headers
    )
    assert response.status_code == 201, response.text
    note = response.json()
    assert (note["direction"], note["status"], note["sender_id"]) == ("internal", None, floor.ann.id)
    for viewer in (admin, floor.ann.headers):
        rows = (await client.get(f"{floor.path}/messages", headers=viewer)).json()["rows"]
        assert any(row["id"] == note["id"] for row in rows)
    assert fakes.of("twilio.send") == []
    assert (
        await client.post(f"{floor.path}/notes", json={"text": ""}, headers=floor.ann.headers)
    ).status_code == 422
    assert (
        await client.post(f"{floor.path}/notes", json={"text": "me too"}, headers=floor.bob.headers)
    ).status_code == 403


async def test_tags_are_added_and_removed(api, client, admin, fakes, worker, temporal_env):
    floor = await owned(api, client, admin, fakes, temporal_env)
    response = await client.post(
        f"{floor.path}/tags", json={"add": ["vip", "billing", "vip"]}, headers=floor.ann.headers
    )
    assert response.json() == {"tags": ["vip", "billing"]}
    response = await client.post(
        f"{floor.path}/tags", json={"add": ["late"], "remove": ["billing"]}, headers=floor.ann.headers
    )
    assert response.json() == {"tags": ["vip", "late"]}
    assert (await client.get(floor.path, headers=admin)).json()["tags"] == ["vip", "late"]
    assert (await client.post(f"{floor.path}/tags", json={"add": [""]}, headers=admin)).status_code == 422
    refused = await client.post(f"{floor.path}/tags", json={"add": ["x"]}, headers=floor.bob.headers)
    assert refused.status_code == 403


async def test_canned_answers_are_the_accounts_own_rendered_for_this_interaction(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    other = await make_account(api, admin, fakes, "meta")
    mine = f"/api/whatsapp/accounts/{floor.account['id']}/answers"
    for name, value in (
        ("Greeting", "Hello {{contact.mobile}}, {{agent.username}} here"),
        ("Hours", "9 to 5"),
    ):
        assert (
            await client.post(mine, json={"name": name, "value": value}, headers=admin)
        ).status_code == 201
    theirs = f"/api/whatsapp/accounts/{other['id']}/answers"
    assert (
        await client.post(theirs, json={"name": "Secret", "value": "x"}, headers=admin)
    ).status_code == 201

    contact_id = floor.interaction["contact"]["id"]
    renamed = await client.patch(
        f"/api/cm/lists/{floor.account['list_id']}/contacts/{contact_id}",
        json={"first_name": "Rossi & Figli"},
        headers=admin,
    )
    assert renamed.status_code == 200, renamed.text
    await client.post(mine, json={"name": "Name", "value": "Dear {{contact.first_name}}"}, headers=admin)
    answers = (await client.get(f"{floor.path}/answers", headers=floor.ann.headers)).json()["rows"]
    assert [(a["name"], a["text"]) for a in answers] == [
        ("Greeting", f"Hello {CONTACT}, ann here"),
        ("Hours", "9 to 5"),
        ("Name", "Dear Rossi & Figli"),  # plain text, not HTML-escaped
    ]
    found = (
        await client.get(f"{floor.path}/answers", params={"search": "9 TO"}, headers=floor.ann.headers)
    ).json()["rows"]
    assert [a["name"] for a in found] == ["Hours"]
    assert (await client.get(f"{floor.path}/answers", params={"search": "%"}, headers=admin)).json()[
        "rows"
    ] == []


async def enable_video(client, admin, floor) -> None:
    video = {
        "enabled": True,
        "api_key": "vidaoo-api-key",
        "topic": "Support call",
        "note": "from WA",
        "metadata": {"team": "b"},
    }
    response = await client.patch(
        f"/api/whatsapp/accounts/{floor.account['id']}", json={"video": video}, headers=admin
    )
    assert response.status_code == 200, response.text


async def test_a_video_call_gives_the_agent_a_link_and_sends_the_customer_theirs(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    disabled = await client.post(f"{floor.path}/video-call", headers=floor.ann.headers)
    assert (disabled.status_code, disabled.json()["error"]["code"]) == (409, "video_disabled")
    await enable_video(client, admin, floor)

    response = await client.post(f"{floor.path}/video-call", headers=floor.ann.headers)
    assert response.status_code == 201, response.text
    call = response.json()
    assert call["join_url"].endswith("?role=host")
    (meeting,) = fakes.of("vidaoo.meeting")
    assert meeting.headers["authorization"] == "Bearer vidaoo-api-key"
    assert meeting.body == {"topic": "Support call", "note": "from WA", "metadata": {"team": "b"}}
    await settled(client, floor, call["message"]["id"])
    (sent,) = fakes.of("twilio.send")
    assert call["customer_url"] in sent.body["Body"]


@pytest.mark.parametrize(
    ("script", "status", "reason"),
    [
        ({"fail": (503, {"message": "Vidaoo is under maintenance"}, {})}, 502, "Vidaoo is under maintenance"),
        ({"hang": 3.0}, 504, "did not answer in time"),
    ],
)
async def test_when_vidaoo_fails_the_agent_is_told_why_and_nothing_is_sent(
    api, client, admin, fakes, worker, temporal_env, settings, script, status, reason
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    await enable_video(client, admin, floor)
    if "fail" in script:
        fakes.fail_next["vidaoo.meeting"].append(script["fail"])
    else:
        fakes.hang_next["vidaoo.meeting"] = script["hang"]
    response = await client.post(f"{floor.path}/video-call", headers=floor.ann.headers)
    assert response.status_code == status
    assert reason in response.json()["error"]["message"]
    assert outbound_count(settings) == 0


async def test_the_assistant_suggests_a_reply_from_the_transcript_and_answers(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    disabled = await client.post(f"{floor.path}/assistant", json={}, headers=floor.ann.headers)
    assert (disabled.status_code, disabled.json()["error"]["code"]) == (409, "assistant_disabled")
    await enable_assistant(client, admin, fakes, floor)
    answers = f"/api/whatsapp/accounts/{floor.account['id']}/answers"
    await client.post(answers, json={"name": "Refunds", "value": "Refunds take 5 days"}, headers=admin)
    await client.post(f"{floor.path}/notes", json={"text": "internal only"}, headers=floor.ann.headers)

    response = await client.post(
        f"{floor.path}/assistant", json={"question": "What do I say?"}, headers=floor.ann.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"suggestion": "Suggested reply to: What do I say?"}
    (request,) = fakes.of("llm.chat")
    assert request.headers["authorization"] == f"Bearer {fakes.llm_key}"
    messages = request.body["messages"]
    assert request.body["model"] == "helper-1"
    assert "Be brief." in messages[0]["content"] and "Refunds take 5 days" in messages[0]["content"]
    assert {"role": "user", "content": "hi"} in messages  # the customer's message
    assert "internal only" not in str(messages)
    assert outbound_count(settings) == 0  # a suggestion is never sent


@pytest.mark.parametrize(
    ("script", "status", "reason"),
    [
        (
            {"fail": (500, {"error": {"message": "The server had an error"}}, {})},
            502,
            "The server had an error",
        ),
        ({"hang": 3.0}, 504, "did not answer in time"),
    ],
)
async def test_assistant_failures_are_clear(
    api, client, admin, fakes, worker, temporal_env, script, status, reason
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    await enable_assistant(client, admin, fakes, floor)
    if "fail" in script:
        fakes.fail_next["llm.chat"].append(script["fail"])
    else:
        fakes.hang_next["llm.chat"] = script["hang"]
    response = await client.post(f"{floor.path}/assistant", json={}, headers=floor.ann.headers)
    assert response.status_code == status
    assert reason in response.json()["error"]["message"]
