"""An interaction worked from start to end, for the tests of what is read back from it (export,
transcript): queued, accepted, replied to, noted, tagged and closed with a level-3 disposition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.helpers import result_of, wait_for
from tests.support.floor import Agent, accept, first_message_to_queue, go_online, make_floor, offered

# What the agent writes: a formula for spreadsheets and markup for the HTML transcript.
REPLY = '=HYPERLINK("https://evil.example","<b>click</b>")'
NOTE = "Customer is a VIP: call back tomorrow"
TAGS = ["-x", "vip"]


@dataclass
class Worked:
    account: dict[str, Any]
    queue: dict[str, Any]
    ann: Agent  # accepted, replied, closed
    bob: Agent  # another agent of the account
    interaction: dict[str, Any]  # as the API shows it once closed
    path: str
    reply: dict[str, Any]  # the reply as sent
    dispositions: list[dict[str, Any]]  # levels 1, 2, 3; closed with the last


async def worked(api, client, admin, fakes, temporal_env) -> Worked:
    floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    base = f"/api/whatsapp/accounts/{floor.account['id']}/dispositions"
    dispositions = [await api.create(admin, base, {"name": "Sales"})]
    for level, name in ((2, "Sold"), (3, "Upsell")):
        body = {"name": name, "level": level, "parent_id": dispositions[-1]["id"]}
        dispositions.append(await api.create(admin, base, body))
    await go_online(client, ann)
    interaction = await first_message_to_queue(client, admin, floor)
    await offered(temporal_env, interaction, {ann.id})
    assert (await accept(client, interaction, ann)).status_code == 200
    path = f"/api/whatsapp/interactions/{interaction['id']}"

    response = await client.post(f"{path}/messages", json={"text": REPLY}, headers=ann.headers)
    assert response.status_code == 202, response.text
    reply_id = response.json()["id"]

    async def sent():
        rows = (await client.get(f"{path}/messages", headers=ann.headers)).json()["rows"]
        return next((row for row in rows if row["id"] == reply_id and row["status"] == "sent"), None)

    reply = await wait_for(sent)
    assert (await client.post(f"{path}/notes", json={"text": NOTE}, headers=ann.headers)).status_code == 201
    assert (await client.post(f"{path}/tags", json={"add": TAGS}, headers=ann.headers)).status_code == 200
    closing = {"disposition_id": dispositions[-1]["id"]}
    assert (await client.post(f"{path}/close", json=closing, headers=ann.headers)).status_code == 200
    await result_of(temporal_env.client, interaction["workflow_id"])
    shown = (await client.get(path, headers=admin)).json()
    assert shown["status"] == "closed"
    return Worked(floor.account, floor.queue, ann, bob, shown, path, reply, dispositions)
