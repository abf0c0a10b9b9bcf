"""A long-lived interaction continues-as-new carrying its state, and keeps working afterwards.

The workflow continues-as-new when the server suggests it (`is_continue_as_new_suggested()`, set by
the server on a workflow task once the history is long: 4,096 events or 4 MB by default). The
time-skipping test server sets it at no length a test reaches, so `ServerSuggestion` stands in for
the server here; everything else is the real API, worker and workflow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from tests.fakes.providers import LoopbackServer
from tests.helpers import summary_of, wait_for
from tests.support.events import EventStream
from tests.support.floor import accept, go_online, inbound, make_floor, offered, set_plan, the_interaction
from workflows.interaction import IDLE_CHECK, InteractionInput, InteractionSummary, InteractionWorkflow
from workflows.signals import MessageArrived


class ServerSuggestion:
    """The server's continue-as-new suggestion, for one run from a given history length on.

    Like the real server's, the answer depends only on the run and its history at the workflow
    task, so a replay of the run sees the same answers. (Patching a constant of the workflow module
    would not reach the workflow: the sandbox imports its own copy of that module; `temporalio` is
    passed through, so its `Info` class is the one the workflow sees.)
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.run_id: str | None = None
        self.longer_than = 0

        def is_continue_as_new_suggested(info: workflow.Info) -> bool:
            return info.run_id == self.run_id and info.get_current_history_length() > self.longer_than

        monkeypatch.setattr(workflow.Info, "is_continue_as_new_suggested", is_continue_as_new_suggested)

    def suggest_to(self, run_id: str, longer_than: int) -> None:
        self.run_id, self.longer_than = run_id, longer_than


async def inbound_ids(client, admin, interaction, expected: int) -> list[int]:
    """The ids of the interaction's inbound messages once there are `expected` of them, else none."""
    path = f"/api/whatsapp/interactions/{interaction['id']}/messages"
    rows = (await client.get(path, headers=admin)).json()["rows"]
    ids = [row["id"] for row in rows if row["direction"] == "in"]
    return ids if len(ids) == expected else []


def notified(events: EventStream, expected: int) -> Callable[[], Awaitable[list[list[int]]]]:
    """The message ids of each `message` event the agent got, once there are `expected` of them."""

    async def check() -> list[list[int]]:
        found = [data["message_ids"] for name, data in events.events if name == "message"]
        return found if len(found) >= expected else []

    return check


async def waiting_idle(handle: WorkflowHandle[Any, Any]) -> int:
    """The length of the run's history once the run waits for the next message (its idle timer is
    the last event), else 0."""
    events = (await handle.fetch_history()).events
    return len(events) if events[-1].event_type == EventType.EVENT_TYPE_TIMER_STARTED else 0


async def carried_on(client: Client, workflow_id: str, first_run: str) -> InteractionInput:
    """Wait for the run after `first_run`; return the input `first_run` continued-as-new with."""

    async def new_run() -> bool:
        return (await client.get_workflow_handle(workflow_id).describe()).run_id != first_run

    await wait_for(new_run)
    history = await client.get_workflow_handle(workflow_id, run_id=first_run).fetch_history()
    ended = history.events[-1]
    assert ended.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    payloads = ended.workflow_execution_continued_as_new_event_attributes.input.payloads
    (carried,) = await client.data_converter.decode(payloads, [InteractionInput])
    assert isinstance(carried, InteractionInput)
    return carried


async def summary(client: Client, workflow_id: str) -> InteractionSummary:
    found = await wait_for(lambda: summary_of(client, workflow_id))
    assert found is not None
    return found


async def test_a_long_interaction_continues_as_new_with_its_state(
    api, client, admin, fakes, worker, temporal_env, app, monkeypatch
):
    server = ServerSuggestion(monkeypatch)
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    await go_online(client, ann)
    await set_plan(client, admin, floor, [
        {"application": "autoreply", "params": {"text": "An agent will be with you shortly", "times": "one"}},
        {"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 60}},
    ])  # fmt: skip
    await app.state.services.events.listening.wait()
    token = ann.headers["Authorization"].removeprefix("Bearer ")
    async with (
        LoopbackServer(app) as base_url,
        EventStream(base_url, token) as ann_events,  # ann is present: new messages are notified to her
    ):
        await inbound(client, floor, "SM1")
        interaction = await the_interaction(client, admin)
        await offered(temporal_env, interaction, {ann.id})
        assert (await accept(client, interaction, ann)).status_code == 200
        await inbound(client, floor, "SM2", "one more thing")
        first, second = await wait_for(lambda: inbound_ids(client, admin, interaction, 2))
        assert await wait_for(notified(ann_events, 1)) == [[second]]

        # The server suggests continuing-as-new; the idle wait ending (a quiet hour) is the next chance.
        workflow_id = interaction["workflow_id"]
        handle = temporal_env.client.get_workflow_handle(workflow_id)
        first_run = (await handle.describe()).run_id
        assert first_run is not None
        server.suggest_to(first_run, await wait_for(lambda: waiting_idle(handle)))
        await temporal_env.sleep(IDLE_CHECK + timedelta(seconds=1))
        carried = await carried_on(temporal_env.client, workflow_id, first_run)
        assert carried.state is not None
        state = carried.state
        assert (state.owner_id, state.seen_message_ids, state.messages_handled) == (
            ann.id,
            [first, second],
            2,
        )
        assert state.autoreplied_steps == [1]
        attributes = {pair.key.name: pair.value for pair in (await handle.describe()).typed_search_attributes}
        assert (attributes["ShareAgent"], attributes["ShareStatus"]) == (str(ann.id), "open")
        now = await summary(temporal_env.client, workflow_id)
        assert (now.owner_id, now.messages_handled) == (ann.id, 2)

        # The new run still drops a message it saw before, and still brings new ones to the owner.
        await handle.signal(InteractionWorkflow.message_received, MessageArrived(first))  # a retried webhook
        await inbound(client, floor, "SM3", "are you still there?")
        third = (await wait_for(lambda: inbound_ids(client, admin, interaction, 3)))[-1]
        assert await wait_for(notified(ann_events, 2)) == [[second], [third]]
        now = await summary(temporal_env.client, workflow_id)
        assert (now.owner_id, now.messages_handled) == (ann.id, 3)
    assert len(fakes.of("twilio.send")) == 1  # the autoreply, once
