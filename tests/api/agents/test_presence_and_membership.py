"""What an agent may not leave behind: a mandatory disposition it owes (no status change until it
disposes), and open interactions it owns (neither leaving the account nor being deleted strands them).
"""

from __future__ import annotations

from typing import Any

from tests.helpers import db
from tests.support.floor import (
    Agent,
    Floor,
    accept,
    first_message_to_queue,
    go_online,
    inbound,
    make_floor,
    offered,
    the_interaction,
)


async def owned_interaction(client, admin, temporal_env, floor: Floor, agent: Agent) -> dict[str, Any]:
    interaction = await first_message_to_queue(client, admin, floor)
    await offered(temporal_env, interaction, {agent.id})
    assert (await accept(client, interaction, agent)).status_code == 200
    return interaction


async def close(client, temporal_env, interaction: dict[str, Any], agent: Agent) -> None:
    path = f"/api/whatsapp/interactions/{interaction['id']}/close"
    assert (await client.post(path, json={}, headers=agent.headers)).status_code == 200
    await temporal_env.client.get_workflow_handle(interaction["workflow_id"]).result()


async def set_status(client, agent: Agent, status: str, **extra: Any):
    return await client.put("/api/agents/me/status", json={"status": status, **extra}, headers=agent.headers)


async def test_no_status_change_while_a_mandatory_disposition_is_owed(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    pause = await api.create(admin, "/api/pauses", {"name": "Wrap-up"})
    lunch = await api.create(admin, "/api/pauses", {"name": "Lunch"})
    base = f"/api/whatsapp/accounts/{floor.account['id']}"
    sold = await api.create(admin, f"{base}/dispositions", {"name": "Sold"})
    await client.patch(
        base, json={"mandatory_disposition": True, "disposition_pause_id": pause["id"]}, headers=admin
    )
    await go_online(client, ann)
    interaction = await owned_interaction(client, admin, temporal_env, floor, ann)
    await close(client, temporal_env, interaction, ann)

    for attempt in (
        {"status": "online"},
        {"status": "offline"},
        {"status": "paused", "pause_id": lunch["id"]},
    ):
        response = await set_status(client, ann, **attempt)
        assert response.status_code == 409, attempt
        error = response.json()["error"]
        assert error["code"] == "disposition_required"
        assert str(interaction["id"]) in error["message"]
        assert error["details"] == {"interaction_ids": [interaction["id"]]}
    me = (await client.get("/api/agents/me", headers=ann.headers)).json()
    assert (me["status"], me["pause_id"]) == ("paused", pause["id"])
    assert me["owed_dispositions"] == [interaction["id"]]

    path = f"/api/whatsapp/interactions/{interaction['id']}/dispose"
    response = await client.post(path, json={"disposition_id": sold["id"]}, headers=ann.headers)
    assert response.json()["agent_status"] == "online"
    assert (await client.get("/api/agents/me", headers=ann.headers)).json()["owed_dispositions"] == []
    assert (await set_status(client, ann, "offline")).status_code == 200
    assert (await set_status(client, ann, "online")).status_code == 200


async def test_an_agent_owning_open_interactions_stays_in_the_account(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await go_online(client, ann)
    interaction = await owned_interaction(client, admin, temporal_env, floor, ann)
    membership = f"/api/whatsapp/accounts/{floor.account['id']}/agents"

    response = await client.delete(f"{membership}/{ann.id}", headers=admin)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "owns_open_interactions"
    assert error["details"] == {"interaction_ids": [interaction["id"]]}
    assert str(interaction["id"]) in error["message"]
    members = (await client.get(membership, headers=admin)).json()["rows"]
    assert [member["id"] for member in members] == [ann.id]
    # A queue's membership strands nothing: the agent may leave the queue.
    queue_membership = f"/api/whatsapp/queues/{floor.queue['id']}/agents/{ann.id}"
    assert (await client.delete(queue_membership, headers=admin)).status_code == 204

    await close(client, temporal_env, interaction, ann)
    assert (await client.delete(f"{membership}/{ann.id}", headers=admin)).status_code == 204
    assert (await client.get(membership, headers=admin)).json()["rows"] == []


async def test_a_user_owning_open_interactions_is_not_deleted(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await go_online(client, ann)
    interaction = await owned_interaction(client, admin, temporal_env, floor, ann)

    response = await client.delete(f"/api/users/{ann.id}", headers=admin)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "owns_open_interactions"
    assert error["details"] == {"interaction_ids": [interaction["id"]]}
    assert str(interaction["id"]) in error["message"]
    assert (await client.get(f"/api/users/{ann.id}", headers=admin)).status_code == 200

    await close(client, temporal_env, interaction, ann)  # only closed interactions: the user may go
    assert (await client.delete(f"/api/users/{ann.id}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/users/{ann.id}", headers=admin)).status_code == 404
    with db(settings) as conn:
        row = conn.execute("SELECT owner_id FROM interactions WHERE id = %s", (interaction["id"],)).fetchone()
    assert row == (None,)


async def test_the_pause_lasts_until_every_owed_disposition_is_given(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    pause = await api.create(admin, "/api/pauses", {"name": "Wrap-up"})
    base = f"/api/whatsapp/accounts/{floor.account['id']}"
    sold = await api.create(admin, f"{base}/dispositions", {"name": "Sold"})
    await client.patch(
        base, json={"mandatory_disposition": True, "disposition_pause_id": pause["id"]}, headers=admin
    )
    await go_online(client, ann)
    first = await owned_interaction(client, admin, temporal_env, floor, ann)
    await inbound(client, floor, "SM2", mobile="393330000002")
    second = await the_interaction(client, admin, mobile="393330000002")
    await offered(temporal_env, second, {ann.id})
    assert (await accept(client, second, ann)).status_code == 200
    await close(client, temporal_env, first, ann)
    await close(client, temporal_env, second, ann)

    def dispose(interaction):
        path = f"/api/whatsapp/interactions/{interaction['id']}/dispose"
        return client.post(path, json={"disposition_id": sold["id"]}, headers=ann.headers)

    assert (await dispose(first)).json()["agent_status"] is None  # the second is still owed
    me = (await client.get("/api/agents/me", headers=ann.headers)).json()
    assert (me["status"], me["pause_id"]) == ("paused", pause["id"])
    assert (await dispose(second)).json()["agent_status"] == "online"
