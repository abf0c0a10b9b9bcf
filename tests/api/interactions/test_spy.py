"""Spy (`GET /api/whatsapp/interactions/{id}/events`) over real HTTP: a supervisor sees what happens
to one interaction as it commits (messages, statuses, offers, timeline), who may spy, and `resync`
after the hub's listening connection comes back."""

from __future__ import annotations

from typing import Any

from api.agents import events as event_hub
from tests.fakes.providers import LoopbackServer
from tests.helpers import db, wait_for
from tests.support.events import EventStream, listener_pid
from tests.support.floor import accept, go_online, inbound, make_floor, set_plan, the_interaction
from tests.webhooks import post_twilio


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def spy_path(interaction: dict[str, Any]) -> str:
    return f"/api/whatsapp/interactions/{interaction['id']}/events"


async def seen(stream: EventStream, name: str, **match: Any) -> int:
    """The index in the stream of the first `name` event whose data has `match`'s values."""

    async def found() -> list[int]:
        return [
            index
            for index, (event, data) in enumerate(stream.events)
            if event == name and all(data.get(key) == value for key, value in match.items())
        ][:1]

    return (await wait_for(found))[0]


async def test_a_supervisor_sees_the_interaction_as_it_happens(
    api, client, admin, fakes, worker, temporal_env, app
):
    floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    account_path = f"/api/whatsapp/accounts/{floor.account['id']}"
    transfer = {"transfer": {"agent_enabled": True, "agent_timeout": 600}}
    assert (await client.patch(account_path, json=transfer, headers=admin)).status_code == 200
    await set_plan(
        client, admin, floor, [{"application": "agent", "params": {"agent_id": ann.id, "timeout": 60}}]
    )
    await inbound(client, floor, "SM1", "first")  # ann is offline: the interaction waits for her
    interaction = await the_interaction(client, admin)
    path = f"/api/whatsapp/interactions/{interaction['id']}"
    _, sue = await api.user(admin, "sue", role="supervisor")
    await app.state.services.events.listening.wait()
    async with (
        LoopbackServer(app) as base_url,
        EventStream(base_url, token(sue), spy_path(interaction)) as spy,
        EventStream(base_url, token(ann.headers)) as ann_events,
    ):
        assert spy.events[0] == ("ready", {"interaction_id": interaction["id"]})
        await inbound(client, floor, "SM2", "second")
        inbound_at = await seen(spy, "message", text="second", direction="in")

        await go_online(client, ann, bob)
        offer_at = await seen(spy, "offer", agent_id=ann.id, status="pending")
        assert (await accept(client, interaction, ann)).status_code == 200
        accepted_at = await seen(spy, "timeline", kind="accepted", actor_id=ann.id)
        await seen(spy, "offer_resolved", agent_id=ann.id, status="accepted")
        await seen(spy, "interaction", owner_id=ann.id, status="open")

        reply = (await client.post(f"{path}/messages", json={"text": "Ciao"}, headers=ann.headers)).json()
        reply_at = await seen(spy, "message", id=reply["id"], direction="out", status="queued")
        await seen(spy, "message_status", message_id=reply["id"], status="sent")
        sid = (await client.get(f"{path}/messages", headers=admin)).json()["rows"][-1]["provider_message_id"]
        await post_twilio(client, floor.account, {"MessageSid": sid, "MessageStatus": "delivered"})
        delivered_at = await seen(spy, "message_status", message_id=reply["id"], status="delivered")

        note = (await client.post(f"{path}/notes", json={"text": "be kind"}, headers=sue)).json()
        note_at = await seen(spy, "message", id=note["id"], direction="internal", text="be kind")
        await seen(ann_events, "message", interaction_id=interaction["id"], message_ids=[note["id"]])

        moved = await client.post(f"{path}/transfer", json={"agent_id": bob.id}, headers=ann.headers)
        assert moved.status_code == 200, moved.text
        transfer_at = await seen(spy, "timeline", kind="transfer", actor_id=ann.id)
        await seen(spy, "offer", agent_id=bob.id, status="pending")
        assert (await accept(client, interaction, bob)).status_code == 200
        await seen(spy, "interaction", owner_id=bob.id)

        closed = await client.post(f"{path}/close", json={}, headers=bob.headers)
        assert closed.status_code == 200, closed.text
        close_at = await seen(spy, "timeline", kind="closed")
        await seen(spy, "interaction", status="closed")

        order = [inbound_at, offer_at, accepted_at, reply_at, delivered_at, note_at, transfer_at, close_at]
        assert order == sorted(order)
        assert all(data["interaction_id"] == interaction["id"] for name, data in spy.events)
        assert not any(name == "message" and data.get("text") == "first" for name, data in spy.events)


async def test_only_staff_may_spy_and_only_on_what_exists(api, client, admin, fakes, worker, temporal_env):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    _, stranger = await api.user(admin, "zed")  # an agent of no account
    assert (await client.get(spy_path(interaction), headers=stranger)).status_code == 404
    mine = await client.get(spy_path(interaction), headers=floor.agents["ann"].headers)
    assert mine.status_code == 403
    assert (await client.get(spy_path(interaction))).status_code == 401
    assert (await client.get(spy_path(interaction), params={"ticket": "forged"})).status_code == 401
    missing = await client.get("/api/whatsapp/interactions/999999/events", headers=admin)
    assert missing.status_code == 404


async def test_the_spy_resyncs_after_the_listener_reconnects_and_goes_on(
    api, client, admin, fakes, worker, temporal_env, app, settings, monkeypatch
):
    monkeypatch.setattr(event_hub, "RECONNECT_SECONDS", 3.0)  # long enough to see the gap
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    hub = app.state.services.events
    await hub.listening.wait()
    async with (
        LoopbackServer(app) as base_url,
        EventStream(base_url, token(admin), spy_path(interaction)) as spy,
    ):
        pid = await wait_for(lambda: listener_pid(settings))
        with db(settings) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert await seen(spy, "resync", reason="events may have been missed")
        await inbound(client, floor, "SM2", "after the gap")
        await seen(spy, "message", text="after the gap")


async def test_a_deleted_interaction_ends_its_spy_stream(
    api, client, admin, fakes, worker, temporal_env, app
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    await app.state.services.events.listening.wait()
    async with (
        LoopbackServer(app) as base_url,
        EventStream(base_url, token(admin), spy_path(interaction)) as spy,
    ):
        response = await client.delete(f"/api/whatsapp/interactions/{interaction['id']}", headers=admin)
        assert response.status_code == 204, response.text
        await seen(spy, "deleted", interaction_id=interaction["id"])
        assert spy.task is not None
        await wait_for(lambda: _done(spy))


async def _done(stream: EventStream) -> bool:
    assert stream.task is not None
    return stream.task.done()
