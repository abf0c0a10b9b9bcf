"""A staffed floor: an account, its agents and a queue, built through the API, and what tests do on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.helpers import db, summary_of, wait_for
from tests.webhooks import make_account, post_twilio, twilio_message


@dataclass
class Agent:
    id: int
    headers: dict[str, str]


@dataclass
class Floor:
    account: dict[str, Any]
    agents: dict[str, Agent]
    queue: dict[str, Any]


async def make_floor(
    api, client, admin, fakes, strategy="beepall", queue_timeout=10, names=("ann", "bob", "cat")
):
    account = await make_account(api, admin, fakes, "twilio")
    agents = {}
    for name in names:
        user_id, headers = await api.user(admin, name)
        agents[name] = Agent(user_id, headers)
    ids = [agent.id for agent in agents.values()]
    await client.post(f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": ids}, headers=admin)
    queue = await api.create(
        admin,
        "/api/whatsapp/queues",
        {"name": f"Q-{strategy}", "strategy": strategy, "timeout": queue_timeout},
    )
    await client.post(f"/api/whatsapp/queues/{queue['id']}/agents", json={"ids": ids}, headers=admin)
    return Floor(account, agents, queue)


async def go_online(client, *agents: Agent) -> None:
    for agent in agents:
        response = await client.put("/api/agents/me/status", json={"status": "online"}, headers=agent.headers)
        assert response.status_code == 200


async def set_plan(client, admin, floor: Floor, steps: list[dict[str, Any]]) -> None:
    response = await client.put(
        f"/api/whatsapp/accounts/{floor.account['id']}/actions", json=steps, headers=admin
    )
    assert response.status_code == 200, response.text


async def inbound(client, floor: Floor, sid: str, body: str = "hello", mobile: str = "393331234567") -> None:
    response = await post_twilio(client, floor.account, twilio_message(sid, body, mobile=mobile))
    assert response.status_code == 200


async def first_message_to_queue(client, admin, floor: Floor, queue_seconds: int = 60) -> dict[str, Any]:
    """A plan that is one queue step, and a first message from the contact: its interaction."""
    steps = [{"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": queue_seconds}}]
    await set_plan(client, admin, floor, steps)
    await inbound(client, floor, "SM1")
    return await the_interaction(client, admin)


async def the_interaction(client, admin, mobile: str = "393331234567") -> dict[str, Any]:
    async def found():
        rows = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"]
        return next((row for row in rows if row["contact"]["mobile"] == mobile), None)

    return await wait_for(found)


async def offered(temporal_env, interaction, expected: set[int]) -> None:
    """Wait until the workflow holds offers for exactly `expected` agents."""

    async def matches():
        summary = await summary_of(temporal_env.client, interaction["workflow_id"])
        return summary is not None and set(summary.offered_to) == expected

    await wait_for(matches)


async def accept(client, interaction, agent: Agent):
    return await client.post(f"/api/whatsapp/interactions/{interaction['id']}/accept", headers=agent.headers)


async def offer_rows(settings, interaction_id: int) -> list[tuple[int, str, str]]:
    with db(settings) as conn:
        return conn.execute(
            "SELECT agent_id, kind, status FROM offers WHERE interaction_id = %s ORDER BY id",
            (interaction_id,),
        ).fetchall()


async def owned_by_ann(api, client, admin, fakes, temporal_env, transfer):
    floor = await make_floor(api, client, admin, fakes)
    ann = floor.agents["ann"]
    await client.patch(
        f"/api/whatsapp/accounts/{floor.account['id']}", json={"transfer": transfer}, headers=admin
    )
    await go_online(client, ann)
    await set_plan(
        client, admin, floor, [{"application": "agent", "params": {"agent_id": ann.id, "timeout": 60}}]
    )
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    await offered(temporal_env, interaction, {ann.id})
    assert (await accept(client, interaction, ann)).status_code == 200
    return floor, interaction
