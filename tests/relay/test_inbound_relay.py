"""The inbound relay: stored messages reach their workflows exactly once, whoever stored them and
whatever Temporal was doing then; a message never revives a closed interaction."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateStage

from activities.ownership import CloseInteraction, OwnershipActivities
from relay import inbound as inbound_relay
from relay.inbound import InboundRelay
from tests.conftest import running_worker
from tests.helpers import db, ready_summary, result_of, scalar, summary_of, wait_for
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
from tests.workflows.test_replay import keep_history
from workflows import ids
from workflows.interaction import CloseRequest, InteractionWorkflow
from workflows.signals import MessageArrived


def late_message(settings, interaction_id: int, sid: str, signalled: bool) -> int:
    """A message stored in `interaction_id` as a webhook racing its close would store it."""
    message_id = scalar(
        settings,
        "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload,"
        " provider_message_id, status, signalled_at, attempts)"
        " SELECT account_id, id, 'in', 'text', 'one more thing', '{}', %s, 'received',"
        " CASE WHEN %s THEN now() END, 0 FROM interactions WHERE id = %s RETURNING id",
        sid,
        signalled,
        interaction_id,
    )
    with db(settings) as conn:
        conn.execute("SELECT pg_notify('shareline_inbound', '')")
    return int(message_id)


def home_of(settings, message_id: int) -> int:
    return int(scalar(settings, "SELECT interaction_id FROM messages WHERE id = %s", message_id))


def status_of(settings, interaction_id: int) -> str:
    return str(scalar(settings, "SELECT status FROM interactions WHERE id = %s", interaction_id))


async def test_several_relays_hand_each_message_over_once(
    api, client, admin, fakes, settings, app, temporal_env, monkeypatch
):
    monkeypatch.setattr(inbound_relay, "BATCH", 4)  # many small batches, taken side by side
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    await asyncio.gather(
        *(inbound(client, floor, f"SM{n}", mobile=f"39333000{n % 10:04d}") for n in range(30))
    )
    sessions = app.state.services.sessionmaker
    relays = [InboundRelay(settings, sessions, temporal_env.client) for _ in range(3)]
    handed = await asyncio.gather(*(relay.drain() for relay in relays))
    assert sum(handed) == 30
    with db(settings) as conn:
        assert conn.execute("SELECT count(*) FROM messages WHERE signalled_at IS NULL").fetchone() == (0,)
        interactions = conn.execute("SELECT account_id, contact_id, id FROM interactions").fetchall()
    assert len(interactions) == 10
    for row in interactions:
        description = await temporal_env.client.get_workflow_handle(
            ids.interaction_workflow_id(*row)
        ).describe()
        assert description.status is WorkflowExecutionStatus.RUNNING


async def test_a_message_stored_in_a_closed_interaction_opens_the_next_one(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    await set_plan(client, admin, floor, [{"application": "close", "params": {}}])
    await inbound(client, floor, "SM1")
    first = await the_interaction(client, admin)
    assert (await result_of(temporal_env.client, first["workflow_id"]))["messages_handled"] == 1
    handle = temporal_env.client.get_workflow_handle(first["workflow_id"])
    run_id = (await handle.describe()).run_id

    moved = late_message(settings, first["id"], "SM2", signalled=False)
    await wait_for(lambda: asyncio.sleep(0, home_of(settings, moved) != first["id"]))
    second = home_of(settings, moved)
    assert status_of(settings, first["id"]) == "closed"
    description = await handle.describe()  # the closed interaction's workflow was not started again
    assert (description.status, description.run_id) == (WorkflowExecutionStatus.COMPLETED, run_id)
    workflow_id = ids.interaction_workflow_id(floor.account["id"], first["contact"]["id"], second)
    assert (await result_of(temporal_env.client, workflow_id))["messages_handled"] == 1


async def test_a_message_reaching_a_closing_workflow_goes_to_the_next_interaction(
    api, client, admin, fakes, temporal_env, settings, app
):
    real = OwnershipActivities(app.state.services.sessionmaker, temporal_env.client)
    closing, proceed = asyncio.Event(), asyncio.Event()

    @activity.defn(name="close_interaction")
    async def close_interaction(request: CloseInteraction) -> None:
        closing.set()
        await proceed.wait()
        await real.close_interaction(request)

    async with running_worker(settings, temporal_env, swap=[close_interaction]):
        floor = await make_floor(api, client, admin, fakes, names=("ann",))
        ann = floor.agents["ann"]
        await go_online(client, ann)
        interaction = await first_message_to_queue(client, admin, floor)
        await offered(temporal_env, interaction, {ann.id})
        assert (await accept(client, interaction, ann)).status_code == 200
        handle = temporal_env.client.get_workflow_handle(interaction["workflow_id"])
        await handle.start_update(
            InteractionWorkflow.close,
            CloseRequest(ann.id, staff=True),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await asyncio.wait_for(closing.wait(), 10)
        # The relay signalled this message just as the close began: the workflow absorbs it after.
        late = late_message(settings, interaction["id"], "SM2", signalled=True)
        await handle.signal(ids.MESSAGE_RECEIVED, MessageArrived(late))
        proceed.set()
        assert (await handle.result())["messages_handled"] == 1
        await keep_history(temporal_env.client, interaction["workflow_id"], "message_while_closing_moved_on")
        await wait_for(lambda: asyncio.sleep(0, home_of(settings, late) != interaction["id"]))
        second = home_of(settings, late)
        workflow_id = ids.interaction_workflow_id(floor.account["id"], interaction["contact"]["id"], second)
        summary = await ready_summary(temporal_env.client, workflow_id)
        assert summary.messages_handled == 1
        assert status_of(settings, interaction["id"]) == "closed"


async def test_an_interaction_whose_workflow_was_ended_by_an_operator_is_closed_and_its_message_moves_on(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    interaction = await first_message_to_queue(client, admin, floor)
    handle = temporal_env.client.get_workflow_handle(interaction["workflow_id"])
    await wait_for(lambda: summary_of(temporal_env.client, interaction["workflow_id"]))
    await handle.terminate("operator")
    late = late_message(settings, interaction["id"], "SM2", signalled=False)
    await wait_for(lambda: asyncio.sleep(0, home_of(settings, late) != interaction["id"]))
    assert status_of(settings, interaction["id"]) == "closed"
    workflow_id = ids.interaction_workflow_id(
        floor.account["id"], interaction["contact"]["id"], home_of(settings, late)
    )
    summary = await ready_summary(temporal_env.client, workflow_id)
    assert summary.messages_handled == 1
