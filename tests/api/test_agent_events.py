"""Agents' Server-Sent Events over real HTTP: offers rendered from the account's template, the
rescind when another agent takes it, and delivery by any API process (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from api.app import create_app
from tests.fakes.providers import LoopbackServer
from tests.helpers import db, wait_for
from tests.workflows.test_routing import (
    accept,
    first_message_to_queue,
    go_online,
    inbound,
    make_floor,
    offered,
    set_plan,
    the_interaction,
)


class EventStream:
    """An agent's open event stream, collecting events as they arrive."""

    def __init__(self, base_url: str, token: str) -> None:
        self.url = f"{base_url}/api/agents/me/events?access_token={token}"
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as http,
            http.stream("GET", self.url) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            name = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name:
                    self.events.append((name, json.loads(line.removeprefix("data: "))))

    async def __aenter__(self) -> EventStream:
        self.task = asyncio.create_task(self._read())
        await wait_for(self._ready)
        return self

    async def _ready(self) -> bool:
        return any(name == "ready" for name, _ in self.events)

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def next(self, name: str) -> dict[str, Any]:
        async def found() -> dict[str, Any]:
            return next((data for event, data in self.events if event == name), {})

        return await wait_for(found)


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
    assert (await client.get("/api/agents/me/events?access_token=forged")).status_code == 401


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
