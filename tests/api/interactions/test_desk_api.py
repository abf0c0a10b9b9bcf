"""The API additions the agent desk relies on: `window_closes_at` on the interaction, the
owner's transfer targets, `message_status` on the owner's stream, the timeline, and the pages'
headers."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.fakes.providers import LoopbackServer
from tests.helpers import wait_for
from tests.support.events import EventStream
from tests.support.floor import accept, first_message_to_queue, go_online, make_floor
from tests.webhooks import post_twilio


async def owned_by_ann(api, client, admin, fakes):
    floor = await make_floor(api, client, admin, fakes)
    ann = floor.agents["ann"]
    await go_online(client, ann)
    interaction = await first_message_to_queue(client, admin, floor)
    await wait_for(lambda: _accepted(client, interaction, ann))
    return floor, ann, interaction


async def _accepted(client, interaction, agent):
    return (await accept(client, interaction, agent)).status_code == 200


async def test_the_window_closes_24_hours_after_the_customers_last_message(api, client, admin, fakes, worker):
    _, ann, interaction = await owned_by_ann(api, client, admin, fakes)
    shown = (await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=ann.headers)).json()
    last = datetime.fromisoformat(shown["last_inbound_at"])
    assert datetime.fromisoformat(shown["window_closes_at"]) == last + timedelta(hours=24)
    rows = (await client.get("/api/whatsapp/interactions", headers=ann.headers)).json()["rows"]
    assert rows[0]["window_closes_at"] == shown["window_closes_at"]


async def test_transfer_targets_follow_the_accounts_transfer_settings(api, client, admin, fakes, worker):
    floor, ann, interaction = await owned_by_ann(api, client, admin, fakes)
    bob = floor.agents["bob"]
    await go_online(client, bob)
    path = f"/api/whatsapp/interactions/{interaction['id']}/transfer-targets"
    account_path = f"/api/whatsapp/accounts/{floor.account['id']}"

    await client.patch(
        account_path, json={"transfer": {"agent_enabled": True, "queue_enabled": True}}, headers=admin
    )
    targets = (await client.get(path, headers=ann.headers)).json()
    agents = {agent["username"]: agent for agent in targets["agents"]}
    assert set(agents) == {"bob", "cat"}  # the owner is not a target
    assert (agents["bob"]["status"], agents["bob"]["present"]) == ("online", False)  # no stream open
    assert agents["cat"]["status"] == "offline"
    assert [queue["id"] for queue in targets["queues"]] == [floor.queue["id"]]
    staff = (await client.get(path, headers=admin)).json()
    assert {agent["username"] for agent in staff["agents"]} == {"bob", "cat"}

    await client.patch(
        account_path, json={"transfer": {"agent_enabled": False, "queue_enabled": True}}, headers=admin
    )
    assert (await client.get(path, headers=ann.headers)).json()["agents"] == []
    await client.patch(
        account_path, json={"transfer": {"agent_enabled": True, "queue_enabled": False}}, headers=admin
    )
    assert (await client.get(path, headers=ann.headers)).json()["queues"] == []

    assert (await client.get(path, headers=bob.headers)).status_code == 403  # not bob's interaction


async def test_the_owner_hears_each_status_change_of_its_messages(api, client, admin, fakes, worker, app):
    floor, ann, interaction = await owned_by_ann(api, client, admin, fakes)
    await app.state.services.events.listening.wait()
    token = ann.headers["Authorization"].removeprefix("Bearer ")
    async with LoopbackServer(app) as base_url, EventStream(base_url, token) as events:
        reply = await client.post(
            f"/api/whatsapp/interactions/{interaction['id']}/messages",
            json={"text": "hi"},
            headers=ann.headers,
        )
        message_id = reply.json()["id"]

        def statuses():
            return [data for name, data in events.events if name == "message_status"]

        async def reached(status: str):
            return next((data for data in statuses() if data["status"] == status), None)

        sent = await wait_for(lambda: reached("sent"))
        assert sent == {"interaction_id": interaction["id"], "message_id": message_id, "status": "sent"}
        sid = (
            await client.get(f"/api/whatsapp/interactions/{interaction['id']}/messages", headers=ann.headers)
        ).json()["rows"][-1]["provider_message_id"]
        await post_twilio(client, floor.account, {"MessageSid": sid, "MessageStatus": "delivered"})
        assert (await wait_for(lambda: reached("delivered")))["message_id"] == message_id
        await post_twilio(
            client, floor.account, {"MessageSid": sid, "MessageStatus": "sent"}
        )  # backwards: nothing
        await post_twilio(client, floor.account, {"MessageSid": sid, "MessageStatus": "read"})
        await wait_for(lambda: reached("read"))
        assert [data["status"] for data in statuses()] == ["sent", "delivered", "read"]

        fakes.fail_next["twilio.send"].append(
            (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, {})
        )
        failing = await client.post(
            f"/api/whatsapp/interactions/{interaction['id']}/messages",
            json={"text": "again"},
            headers=ann.headers,
        )
        failed = await wait_for(lambda: reached("failed"))
        assert failed["message_id"] == failing.json()["id"]
        assert failed["error_code"] == "21211"
        assert "Invalid" in failed["error_text"]


async def test_the_timeline_lists_what_happened_with_who_did_it(api, client, admin, fakes, worker):
    floor, ann, interaction = await owned_by_ann(api, client, admin, fakes)
    await client.patch(f"/api/users/{ann.id}", json={"full_name": "Ann Agent"}, headers=admin)
    path = f"/api/whatsapp/interactions/{interaction['id']}"
    await client.post(f"{path}/tags", json={"add": ["vip"]}, headers=ann.headers)
    await client.post(f"{path}/notes", json={"text": "in a hurry"}, headers=ann.headers)

    timeline = (await client.get(f"{path}/timeline", headers=ann.headers)).json()
    kinds = [row["kind"] for row in timeline["rows"]]
    assert kinds[-3:] == ["accepted", "tags", "note"]
    assert timeline["count"] == len(kinds)
    accepted, tagged, _ = timeline["rows"][-3:]
    assert (accepted["actor_id"], accepted["actor_name"]) == (ann.id, "Ann Agent")
    assert tagged["data"] == {"add": ["vip"], "remove": []}
    assert datetime.fromisoformat(accepted["at"]) <= datetime.fromisoformat(tagged["at"])

    page = (await client.get(f"{path}/timeline?limit=1&offset={len(kinds) - 2}", headers=ann.headers)).json()
    assert (page["count"], [row["kind"] for row in page["rows"]]) == (len(kinds), ["tags"])
    # Who may read the messages may read the timeline: any agent of the account, staff; nobody else.
    assert (await client.get(f"{path}/timeline", headers=floor.agents["bob"].headers)).status_code == 200
    assert (await client.get(f"{path}/timeline", headers=admin)).json()["count"] == len(kinds)
    _, outsider = await api.user(admin, "dan")
    response = await client.get(f"{path}/timeline", headers=outsider)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert (await client.get(f"{path}/timeline")).status_code == 401


async def test_the_desk_is_served_with_a_same_origin_policy(client):
    response = await client.get("/desk/")
    assert response.status_code == 200
    assert "<title>Shareline desk</title>" in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "http" not in policy
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    script = await client.get("/desk/desk.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert (
        await client.get("/desk/desk.js", headers={"If-None-Match": script.headers["etag"]})
    ).status_code == 304
    redirect = await client.get("/desk")
    assert redirect.status_code in (307, 308) and redirect.headers["location"].endswith("/desk/")
    assert (await client.get("/desk/nothing.js")).status_code == 404
