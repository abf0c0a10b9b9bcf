"""An agent who becomes able to serve a waiting interaction is offered it at once.

Each test waits with no clock advanced (a wait that relied on a timer would not finish): the
offer comes from dispatch waking the workflow, not from the step's timeout.
"""

from __future__ import annotations

from tests.helpers import db, wait_for
from tests.support.floor import accept, go_online, inbound, make_floor, offered, set_plan, the_interaction


def waits(settings, *expected: tuple[int, int | None, int | None]):
    """A check that the dispatch table holds exactly `expected` (interaction, queue, agent) rows."""

    async def check():
        with db(settings) as conn:
            rows = conn.execute(
                "SELECT interaction_id, queue_id, agent_id FROM queue_waits ORDER BY interaction_id"
            ).fetchall()
        return rows == list(expected)

    return check


async def test_an_agent_step_rings_its_agent_as_soon_as_they_come_online(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await set_plan(
        client, admin, floor, [{"application": "agent", "params": {"agent_id": ann.id, "timeout": 600}}]
    )
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    await wait_for(waits(settings, (interaction["id"], None, ann.id)))
    await offered(temporal_env, interaction, set())  # ann is offline

    await go_online(client, ann)
    await offered(temporal_env, interaction, {ann.id})
    assert (await accept(client, interaction, ann)).status_code == 200
    await wait_for(waits(settings))


async def test_raising_an_agents_capacity_offers_what_waits(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await client.patch(f"/api/users/{ann.id}", json={"whatsapp_capacity": 1}, headers=admin)
    await set_plan(
        client,
        admin,
        floor,
        [{"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 600}}],
    )
    await go_online(client, ann)
    await inbound(client, floor, "SM1", mobile="393330000001")
    first = await the_interaction(client, admin, mobile="393330000001")
    await offered(temporal_env, first, {ann.id})
    assert (await accept(client, first, ann)).status_code == 200
    await inbound(client, floor, "SM2", mobile="393330000002")
    second = await the_interaction(client, admin, mobile="393330000002")
    await wait_for(waits(settings, (second["id"], floor.queue["id"], None)))
    await offered(temporal_env, second, set())  # ann is full

    response = await client.patch(f"/api/users/{ann.id}", json={"whatsapp_capacity": 2}, headers=admin)
    assert response.status_code == 200
    await offered(temporal_env, second, {ann.id})


async def test_a_new_queue_member_is_offered_what_waits_in_that_queue(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    empty = await api.create(admin, "/api/whatsapp/queues", {"name": "Nobody yet", "strategy": "beepall"})
    await set_plan(
        client, admin, floor, [{"application": "queue", "params": {"queue_id": empty["id"], "timeout": 600}}]
    )
    await go_online(client, ann)
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    await wait_for(waits(settings, (interaction["id"], empty["id"], None)))
    await offered(temporal_env, interaction, set())  # ann serves the account, not that queue

    response = await client.post(
        f"/api/whatsapp/queues/{empty['id']}/agents", json={"ids": [ann.id]}, headers=admin
    )
    assert response.status_code == 200
    await offered(temporal_env, interaction, {ann.id})
