"""A conversation an agent owns, on an account of any provider type, and what tests wait for in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.helpers import wait_for
from tests.support.floor import Agent, go_online, offered, the_interaction
from tests.webhooks import INBOUND, make_account

CONTACT = "393331234567"


@dataclass
class Owned:
    account: dict[str, Any]
    interaction: dict[str, Any]
    ann: Agent  # the owner
    bob: Agent  # another agent of the account
    path: str


async def owned(api, client, admin, fakes, temporal_env, provider: str = "twilio") -> Owned:
    """An account of `provider`; the contact writes and ann accepts the interaction."""
    account = await make_account(api, admin, fakes, provider)
    agents = [Agent(*(await api.user(admin, name))) for name in ("ann", "bob")]
    ann, bob = agents
    ids = [agent.id for agent in agents]
    await client.post(f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": ids}, headers=admin)
    plan = [{"application": "agent", "params": {"agent_id": ann.id, "timeout": 60}}]
    assert (
        await client.put(f"/api/whatsapp/accounts/{account['id']}/actions", json=plan, headers=admin)
    ).status_code == 200
    await go_online(client, ann)
    post, body = INBOUND[provider]
    assert (await post(client, account, body())).status_code == 200
    interaction = await the_interaction(client, admin, mobile=CONTACT)
    await offered(temporal_env, interaction, {ann.id})
    path = f"/api/whatsapp/interactions/{interaction['id']}"
    assert (await client.post(f"{path}/accept", headers=ann.headers)).status_code == 200
    return Owned(account, interaction, ann, bob, path)


async def settled(client, floor: Owned, message_id: int, status: str = "sent") -> dict[str, Any]:
    """The message once its status is `status` (the workflow sends in the background)."""

    async def found():
        rows = (await client.get(f"{floor.path}/messages", headers=floor.ann.headers)).json()["rows"]
        message = next(row for row in rows if row["id"] == message_id)
        return message if message["status"] == status else None

    return await wait_for(found)


async def enable_assistant(client, admin, fakes, floor) -> None:
    assistant = {
        "enabled": True,
        "base_url": f"{fakes.base_url}/llm/v1",
        "model": "helper-1",
        "api_key": fakes.llm_key,
        "instructions": "Be brief.",
    }
    response = await client.patch(
        f"/api/whatsapp/accounts/{floor.account['id']}", json={"assistant": assistant}, headers=admin
    )
    assert response.status_code == 200, response.text
