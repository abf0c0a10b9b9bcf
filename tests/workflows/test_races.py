"""Races and sick dependencies that used to lose or wedge an interaction: two accepts against one
agent's capacity, a transfer racing the absent-owner check, an activity that keeps failing, and a
slow provider in front of routing (media download, autoreply send)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from activities.offers import Agents, FindAgents, OfferActivities
from activities.ownership import OwnerCheck, OwnershipActivities, OwnerStatus
from tests.conftest import running_worker
from tests.helpers import db, summary_of, wait_for
from tests.support.floor import (
    accept,
    first_message_to_queue,
    go_online,
    inbound,
    make_floor,
    offer_rows,
    offered,
    owned_by_ann,
    set_plan,
    the_interaction,
)
from tests.webhooks import post_twilio, twilio_message
from tests.workflows.test_replay import keep_history


async def test_an_agent_at_capacity_cannot_accept_a_second_offer_and_it_passes_on(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    await client.patch(f"/api/users/{ann.id}", json={"whatsapp_capacity": 1}, headers=admin)
    await go_online(client, ann, bob)
    first = await first_message_to_queue(client, admin, floor)
    await inbound(client, floor, "SM2", mobile="393330000002")
    second = await the_interaction(client, admin, mobile="393330000002")
    await offered(temporal_env, first, {ann.id, bob.id})
    await offered(temporal_env, second, {ann.id, bob.id})  # beepall rang ann for both

    assert (await accept(client, first, ann)).status_code == 200
    refused = await accept(client, second, ann)
    assert refused.status_code == 409, refused.text
    await offered(temporal_env, second, {bob.id})  # the offer passed on
    assert (
        "assigned",
        next(status for agent, _, status in await offer_rows(settings, second["id"]) if agent == ann.id),
    ) == ("assigned", "rejected")
    assert (await accept(client, second, bob)).status_code == 200
    shown = (await client.get(f"/api/whatsapp/interactions/{second['id']}", headers=admin)).json()
    assert shown["owner_id"] == bob.id
    await keep_history(temporal_env.client, second["workflow_id"], "accept_refused_at_capacity")


async def test_a_transfer_while_the_owner_is_rechecked_is_refused_and_nothing_wedges(
    api, client, admin, fakes, temporal_env, settings, app
):
    real = OwnershipActivities(app.state.services.sessionmaker, temporal_env.client)
    checking, proceed = asyncio.Event(), asyncio.Event()

    @activity.defn(name="owner_status")
    async def owner_status(request: OwnerCheck) -> OwnerStatus:
        checking.set()
        await proceed.wait()
        return await real.owner_status(request)

    async with running_worker(settings, temporal_env, swap=[owner_status]):
        floor, interaction = await owned_by_ann(
            api, client, admin, fakes, temporal_env, {"agent_enabled": True, "agent_timeout": 30}
        )
        ann, bob = floor.agents["ann"], floor.agents["bob"]
        await inbound(client, floor, "SM2", "still there?")  # ann has no event stream: absent
        await asyncio.wait_for(checking.wait(), 10)
        path = f"/api/whatsapp/interactions/{interaction['id']}/transfer"
        # Asked while the check runs (a local activity: the workflow takes the update once it ends).
        transfer = asyncio.create_task(client.post(path, json={"agent_id": bob.id}, headers=admin))
        await asyncio.sleep(0.5)
        proceed.set()
        response = await transfer
        assert response.status_code == 409, response.text
        await offered(temporal_env, interaction, {ann.id})  # the absent owner's wait goes on
        assert (await accept(client, interaction, ann)).status_code == 200
        await inbound(client, floor, "SM3", "and now?")  # the workflow still answers and routes
        await wait_for(lambda: _handled(temporal_env, interaction["workflow_id"], 3), seconds=15)
        await offered(temporal_env, interaction, {ann.id})


async def _handled(temporal_env, workflow_id, count):
    summary = await summary_of(temporal_env.client, workflow_id)
    return summary if summary is not None and summary.messages_handled == count else None


async def test_an_activity_that_keeps_failing_is_said_and_routing_is_tried_again(
    api, client, admin, fakes, temporal_env, settings, app
):
    real = OfferActivities(app.state.services.sessionmaker)
    attempts = 0

    @activity.defn(name="find_agents")
    async def find_agents(request: FindAgents) -> Agents:
        nonlocal attempts
        attempts += 1
        if attempts <= 15:  # one retry policy's worth: then the database is back
            raise ApplicationError("the database is away")
        return await real.find_agents(request)

    async with running_worker(settings, temporal_env, swap=[find_agents]):
        floor = await make_floor(api, client, admin, fakes, names=("ann",))
        ann = floor.agents["ann"]
        await go_online(client, ann)
        interaction = await first_message_to_queue(client, admin, floor, queue_seconds=3600)

        async def said():
            await temporal_env.sleep(timedelta(minutes=1))  # the retry policy's back-off, skipped
            with db(settings) as conn:
                return conn.execute(
                    "SELECT data->>'reason' FROM interaction_events WHERE interaction_id = %s"
                    " AND kind = 'routing_error'",
                    (interaction["id"],),
                ).fetchall()

        assert "the database is away" in (await wait_for(said, seconds=30))[0][0]
        assert attempts == 15  # bounded: the policy gave up, the workflow did not
        description = await temporal_env.client.get_workflow_handle(interaction["workflow_id"]).describe()
        assert description.status is WorkflowExecutionStatus.RUNNING
        await temporal_env.sleep(timedelta(minutes=2))  # routing is tried again, and now it works
        await offered(temporal_env, interaction, {ann.id})
        assert (await accept(client, interaction, ann)).status_code == 200


async def test_a_slow_media_download_does_not_hold_up_the_offer(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await go_online(client, ann)
    await set_plan(client, admin, floor, [
        {"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 600}},
    ])  # fmt: skip
    fakes.hang_next["twilio.media"] = 30
    url = f"{fakes.base_url}/twilio/media/ME1"
    params = twilio_message(
        "MM1", "", NumMedia="1", MessageType="image", MediaUrl0=url, MediaContentType0="image/png"
    )
    assert (await post_twilio(client, floor.account, params)).status_code == 200
    interaction = await the_interaction(client, admin)
    await offered(temporal_env, interaction, {ann.id})
    with db(settings) as conn:
        assert conn.execute("SELECT media->>'status' FROM messages").fetchall() == [("pending",)]


async def test_a_slow_autoreply_does_not_hold_up_the_offer(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await go_online(client, ann)
    await set_plan(client, admin, floor, [
        {"application": "autoreply", "params": {"text": "We will be right with you", "times": "always"}},
        {"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 600}},
    ])  # fmt: skip
    fakes.hang_next["twilio.send"] = 30
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    await offered(temporal_env, interaction, {ann.id})
    with db(settings) as conn:
        assert conn.execute("SELECT status FROM messages WHERE direction = 'out'").fetchall() == [("queued",)]
