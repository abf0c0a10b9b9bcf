"""The action plan's rules on the real workflow with stubbed activities: no database, no API.

Each stub has the name of the activity it stands in for and records what the workflow asked of
it, so a test reads as the rule: jumps and loops (`gotoif`, `gotop`), the 100-step guard, an
unknown step, autoreply `times`, and who a transfer's timeline event names.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.messages import QueueMessage, SendMessage, SendOutcome
from activities.offers import (
    Agents,
    Assign,
    Assignment,
    FindAgents,
    MakeOffers,
    OfferRef,
    Offers,
    ResolveOffers,
)
from activities.ownership import CloseInteraction, ReturnToOwner
from activities.plan_facts import AddTags, ConditionCheck, FirstInteraction, LoadPlan, Plan, RecordEvent
from activities.queue_waits import AgentWait, LeaveQueue
from domain.plan import PlanStep
from models import DeliveryStatus
from tests.helpers import summary_of, wait_for
from workflows import ids
from workflows.interaction import (
    CloseRequest,
    InteractionInput,
    InteractionResult,
    InteractionWorkflow,
    OfferAnswer,
    TransferRequest,
)
from workflows.plan import MAX_STEPS_WITHOUT_WAIT
from workflows.signals import MessageArrived

INTERACTION, ACCOUNT, CONTACT = 11, 22, 33


class Stubs:
    """The activities a plan calls, answering from a script and recording every call."""

    def __init__(self, steps: list[PlanStep], *, holds: Sequence[bool] = (), first: bool = True) -> None:
        self.steps = steps
        self.holds = list(holds)  # what each condition_holds answers, in turn
        self.first = first
        self.events: list[RecordEvent] = []
        self.tags: list[list[str]] = []
        self.autoreplies: list[str] = []
        self.offered: list[MakeOffers] = []
        self.recorded = asyncio.Condition()

    async def wait_for_event(self, kind: str, count: int = 1) -> list[RecordEvent]:
        """The `kind` events once the workflow has recorded `count` of them."""
        async with self.recorded:
            await asyncio.wait_for(self.recorded.wait_for(lambda: len(self.of(kind)) >= count), 30)
        return self.of(kind)

    def of(self, kind: str) -> list[RecordEvent]:
        return [event for event in self.events if event.kind == kind]

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name="load_plan")
        async def load_plan(request: LoadPlan) -> Plan:
            return Plan(self.steps)

        @activity.defn(name="record_event")
        async def record_event(request: RecordEvent) -> None:
            async with self.recorded:
                self.events.append(request)
                self.recorded.notify_all()

        @activity.defn(name="condition_holds")
        async def condition_holds(request: ConditionCheck) -> bool:
            return self.holds.pop(0)

        @activity.defn(name="add_tags")
        async def add_tags(request: AddTags) -> None:
            self.tags.append(request.tags)

        @activity.defn(name="is_first_interaction")
        async def is_first_interaction(request: FirstInteraction) -> bool:
            return self.first

        @activity.defn(name="queue_message")
        async def queue_message(request: QueueMessage) -> int:
            self.autoreplies.append(request.text)
            return len(self.autoreplies)

        @activity.defn(name="send_message")
        async def send_message(request: SendMessage) -> SendOutcome:
            return SendOutcome(DeliveryStatus.sent, f"wamid.{request.message_id}")

        @activity.defn(name="close_interaction")
        async def close_interaction(request: CloseInteraction) -> None:
            return None

        @activity.defn(name="wait_for_agent")
        async def wait_for_agent(request: AgentWait) -> None:
            return None

        @activity.defn(name="leave_queue")
        async def leave_queue(request: LeaveQueue) -> None:
            return None

        @activity.defn(name="find_agents")
        async def find_agents(request: FindAgents) -> Agents:
            return Agents([agent for agent in request.agent_ids or [] if agent not in request.exclude])

        @activity.defn(name="make_offers")
        async def make_offers(request: MakeOffers) -> Offers:
            self.offered.append(request)
            number = len(self.offered)
            return Offers([OfferRef(number * 100 + a, a, request.expires_at) for a in request.agent_ids])

        @activity.defn(name="resolve_offers")
        async def resolve_offers(request: ResolveOffers) -> None:
            return None

        @activity.defn(name="assign")
        async def assign(request: Assign) -> Assignment:
            return Assignment(True)

        @activity.defn(name="return_to_owner")
        async def return_to_owner(request: ReturnToOwner) -> None:
            return None

        return [
            load_plan,
            record_event,
            condition_holds,
            add_tags,
            is_first_interaction,
            queue_message,
            send_message,
            close_interaction,
            wait_for_agent,
            leave_queue,
            find_agents,
            make_offers,
            resolve_offers,
            assign,
            return_to_owner,
        ]


def step(number: int, application: str, **params: Any) -> PlanStep:
    return PlanStep(number, application, params)


class Interaction:
    """One interaction workflow on a worker of its own, with the stubs for activities."""

    def __init__(self, env: WorkflowEnvironment, stubs: Stubs) -> None:
        self.env, self.stubs = env, stubs
        self.task_queue = f"plan-rules-{uuid.uuid4()}"
        self.workflow_id = f"wa-plan-rules-{uuid.uuid4()}"
        self.handle: WorkflowHandle[Any, Any] | None = None
        self.messages = 0

    async def message(self) -> None:
        """A customer's message, as the inbound relay hands it over (signal-with-start)."""
        self.messages += 1
        self.handle = await self.env.client.start_workflow(
            InteractionWorkflow.run,
            InteractionInput(INTERACTION, ACCOUNT, CONTACT),
            id=self.workflow_id,
            task_queue=self.task_queue,
            start_signal=ids.MESSAGE_RECEIVED,
            start_signal_args=[MessageArrived(self.messages)],
            search_attributes=ids.search_attributes("acme", "+393330000000", "open_pending"),
        )

    async def close(self) -> InteractionResult:
        """Closed by staff, whatever the plan does now; the workflow's result."""
        assert self.handle is not None
        await self.handle.execute_update(InteractionWorkflow.close, CloseRequest(actor_id=1, staff=True))
        result: InteractionResult = await self.handle.result()
        return result

    def worker(self) -> Worker:
        return Worker(
            self.env.client,
            task_queue=self.task_queue,
            workflows=[InteractionWorkflow],
            activities=self.stubs.activities(),
        )


async def test_a_plan_that_loops_without_waiting_is_stopped_after_100_steps(temporal_env):
    stubs = Stubs([step(1, "noop", value="round"), step(2, "gotop", step=1)])
    interaction = Interaction(temporal_env, stubs)
    async with interaction.worker():
        await interaction.message()
        [error] = await stubs.wait_for_event("plan_error")
        await interaction.close()
    assert error.data == {
        "step": 1,
        "reason": f"the plan loops: {MAX_STEPS_WITHOUT_WAIT} steps ran without a wait",
    }
    assert len(stubs.of("noop")) == MAX_STEPS_WITHOUT_WAIT // 2  # every other step was the jump back


@pytest.mark.parametrize(("holds", "tags"), [(True, [["yes"]]), (False, [])])
async def test_gotoif_jumps_to_its_true_or_its_false_step(temporal_env, holds, tags):
    stubs = Stubs(
        [
            step(1, "gotoif", condition={"interval_id": 5}, true_step=3, false_step=4),
            step(2, "noop", value="never reached"),
            step(3, "tag", tags=["yes"]),
            step(4, "close"),
        ],
        holds=[holds],
    )
    interaction = Interaction(temporal_env, stubs)
    async with interaction.worker():
        await interaction.message()
        assert interaction.handle is not None
        assert (await interaction.handle.result()).messages_handled == 1  # the close step ended it
    assert stubs.tags == tags
    assert stubs.of("noop") == []


async def test_a_gotoif_loop_runs_until_its_condition_turns_false(temporal_env):
    stubs = Stubs(
        [
            step(1, "tag", tags=["round"]),
            step(2, "gotoif", condition={"interval_id": 5}, true_step=1, false_step=3),
            step(3, "close"),
        ],
        holds=[True, True, False],
    )
    interaction = Interaction(temporal_env, stubs)
    async with interaction.worker():
        await interaction.message()
        assert interaction.handle is not None
        await interaction.handle.result()
    assert stubs.tags == [["round"]] * 3
    assert stubs.holds == []  # asked exactly three times


async def test_an_unknown_step_is_a_plan_error_and_the_plan_goes_on(temporal_env):
    stubs = Stubs([step(1, "teleport", to="mars"), step(2, "noop", value="after")])
    interaction = Interaction(temporal_env, stubs)
    async with interaction.worker():
        await interaction.message()
        [after] = await stubs.wait_for_event("noop")
        await interaction.close()
    assert [event.data for event in stubs.of("plan_error")] == [
        {"step": 1, "reason": "unknown step 'teleport'"}
    ]
    assert after.data == {"step": 2, "value": "after"}


@pytest.mark.parametrize(
    ("times", "first", "sent"),
    [("one", True, 1), ("always", True, 2), ("first", False, 0), ("first", True, 2)],
)
async def test_autoreply_times(temporal_env, times, first, sent):
    """Two messages, each running the plan: "one" autoreplies once per interaction, "always" every
    time, "first" every time only in the contact's first interaction on the account."""
    stubs = Stubs([step(1, "autoreply", text="Thanks!", times=times), step(2, "noop")], first=first)
    interaction = Interaction(temporal_env, stubs)
    async with interaction.worker():
        for run in (1, 2):
            await interaction.message()
            await stubs.wait_for_event("noop", count=run)  # this message's plan has run
        await interaction.close()
    assert stubs.autoreplies == ["Thanks!"] * sent


async def test_a_staff_transfer_names_its_actor_in_the_timeline(temporal_env):
    """A supervisor (99) transfers agent 7's interaction to agent 8: the `transfer` event is the
    supervisor's, not the owner's (the actor was lost before)."""
    stubs = Stubs([step(1, "agent", agent_id=7, timeout=3600)])
    interaction = Interaction(temporal_env, stubs)
    async with interaction.worker():
        await interaction.message()
        handle = interaction.handle
        assert handle is not None
        await wait_for(lambda: _offered_to(temporal_env, interaction.workflow_id, [7]))
        await handle.execute_update(InteractionWorkflow.accept, OfferAnswer(agent_id=7))
        request = TransferRequest(actor_id=99, agent_id=8, timeout=3600, staff=True)
        await handle.execute_update(InteractionWorkflow.transfer, request)
        [transfer] = await stubs.wait_for_event("transfer")
        await wait_for(lambda: _offered_to(temporal_env, interaction.workflow_id, [8]))
        await interaction.close()
    assert transfer.actor_id == 99
    assert transfer.data == {"from": 7, "agent_id": 8, "queue_id": None}
    assert [offer.kind for offer in stubs.offered] == ["plan_agent", "transfer_agent"]


async def _offered_to(env: WorkflowEnvironment, workflow_id: str, agents: list[int]) -> bool:
    summary = await summary_of(env.client, workflow_id)
    return summary is not None and summary.offered_to == agents
