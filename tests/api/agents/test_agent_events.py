"""Agents' Server-Sent Events over real HTTP: offers rendered from the account's template, the
rescind when another agent takes it, delivery by any API process (LISTEN/NOTIFY), presence kept
fresh on a busy stream, and `resync` after the listening connection comes back."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from api import sse
from api.agents import events as event_hub
from api.app import create_app
from tests.fakes.providers import LoopbackServer
from tests.helpers import db, wait_for
from tests.support.events import EventStream, listener_pid
from tests.support.floor import (
    accept,
    first_message_to_queue,
    go_online,
    inbound,
    make_floor,
    offered,
    set_plan,
    the_interaction,
)


@contextlib.asynccontextmanager
async def second_api_process(settings) -> AsyncIterator[str]:
    other = create_app(settings)
    async with other.router.lifespan_context(other), LoopbackServer(other) as base_url:
        await other.state.services.events.listening.wait()
        yield base_url


async def test_offers_reach_agents_on_any_api_process(
    api, client, admin, fakes, worker, temporal_env, settings, app
):
    floor = await make_floor(api, client, admin, fakes)
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    await client.patch(
        f"/api/whatsapp/accounts/{floor.account['id']}",
        json={
            "notification": {
                "template": "{{account.name}}: {{contact.mobile}} in {{queue.name}}",
                "shake": True,
            }
        },
        headers=admin,
    )
    await go_online(client, ann, bob)
    await set_plan(
        client,
        admin,
        floor,
        [{"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 60}}],
    )
    await app.state.services.events.listening.wait()
    async with LoopbackServer(app) as first, second_api_process(settings) as second:
        ann_token = ann.headers["Authorization"].removeprefix("Bearer ")
        bob_token = bob.headers["Authorization"].removeprefix("Bearer ")
        async with EventStream(first, ann_token) as ann_events, EventStream(second, bob_token) as bob_events:
            with db(settings) as conn:
                assert conn.execute("SELECT count(*) FROM agent_sessions").fetchone() == (2,)
            await inbound(client, floor, "SM1")
            interaction = await the_interaction(client, admin)
            offer = await ann_events.next("offer")
            assert offer["interaction_id"] == interaction["id"]
            assert offer["account_key"] == floor.account["key"]
            assert offer["contact"]["mobile"] == "393331234567"
            assert offer["queue"] == {"id": floor.queue["id"], "name": floor.queue["name"]}
            assert offer["notification"] == {
                "text": f"{floor.account['name']}: 393331234567 in {floor.queue['name']}",
                "sound": True,
                "shake": True,
            }
            assert offer["expires_at"]
            assert (await bob_events.next("offer"))["interaction_id"] == interaction["id"]

            assert (await accept(client, interaction, ann)).status_code == 200
            rescinded = await bob_events.next("offer_rescinded")
            assert (rescinded["interaction_id"], rescinded["reason"]) == (interaction["id"], "taken")
            updated = await ann_events.next("interaction_updated")
            assert updated["owner_id"] == ann.id
            assert not any(name == "offer_rescinded" for name, _ in ann_events.events)

    async def sessions_closed():
        with db(settings) as conn:
            return conn.execute("SELECT count(*) FROM agent_sessions").fetchone() == (0,)

    assert await wait_for(sessions_closed)


async def test_the_stream_needs_a_valid_token(client, admin):
    assert (await client.get("/api/agents/me/events")).status_code == 401
    assert (await client.get("/api/agents/me/events?ticket=forged")).status_code == 401


async def test_an_agent_opening_the_stream_late_gets_its_pending_offers(
    api, client, admin, fakes, worker, temporal_env, app
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await go_online(client, ann)
    interaction = await first_message_to_queue(client, admin, floor)
    await offered(temporal_env, interaction, {ann.id})
    token = ann.headers["Authorization"].removeprefix("Bearer ")
    async with LoopbackServer(app) as base_url, EventStream(base_url, token) as events:
        offer = await events.next("offer")
        assert offer["interaction_id"] == interaction["id"]
        expected = f"Account: {floor.account['name']} Queue: {floor.queue['name']} From: 393331234567"
        assert offer["notification"]["text"] == expected  # the default template


def seen_at(settings, agent_id: int) -> Any:
    with db(settings) as conn:
        row = conn.execute("SELECT seen_at FROM agent_sessions WHERE user_id = %s", (agent_id,)).fetchone()
    assert row is not None
    return row[0]


async def test_a_busy_stream_keeps_the_agent_present(api, admin, app, settings, monkeypatch):
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.5)
    ann_id, ann = await api.user(admin, "ann")
    token = ann["Authorization"].removeprefix("Bearer ")
    async with LoopbackServer(app) as base_url, EventStream(base_url, token) as stream:
        opened = seen_at(settings, ann_id)
        for n in range(20):  # an event every 0.1 s over four heartbeat intervals: never idle
            app.state.services.events.deliver(
                json.dumps({"agent_id": ann_id, "event": "message", "data": {"n": n}})
            )
            await asyncio.sleep(0.1)
        assert seen_at(settings, ann_id) > opened
        assert sum(name == "message" for name, _ in stream.events) == 20


async def test_streams_resync_after_the_listener_reconnects(
    api, client, admin, fakes, worker, temporal_env, app, settings, monkeypatch
):
    monkeypatch.setattr(event_hub, "RECONNECT_SECONDS", 3.0)  # long enough to see the gap
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await go_online(client, ann)
    interaction = await first_message_to_queue(client, admin, floor)
    await offered(temporal_env, interaction, {ann.id})
    hub = app.state.services.events
    await hub.listening.wait()
    token = ann.headers["Authorization"].removeprefix("Bearer ")
    async with LoopbackServer(app) as base_url, EventStream(base_url, token) as stream:
        await stream.next("offer")
        pid = await wait_for(lambda: listener_pid(settings))
        with db(settings) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))

        async def not_listening() -> bool:
            return not hub.listening.is_set()

        await wait_for(not_listening)
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["event_listener"] == "unavailable: NotListening"

        resync = await stream.next("resync")
        assert resync == {"reason": "events may have been missed"}
        names = [name for name, _ in stream.events]
        after = names.index("resync")

        async def offer_sent_again() -> bool:
            return "offer" in [name for name, _ in stream.events][after:]

        await wait_for(offer_sent_again)
        assert stream.events[-1][1]["interaction_id"] == interaction["id"]
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
