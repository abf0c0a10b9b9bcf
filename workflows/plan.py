"""The account's action plan, run by an interaction workflow while nobody owns the interaction.

From the top, step after step, until someone owns the interaction, it closes or the plan ends:
`agent` and `queue` offer it for the step's timeout, `autoreply` answers the contact, `tag`
labels the interaction, `gotoif` and `gotop` jump to a step number, `noop` marks the timeline,
`close` closes. A step with an interval is skipped outside it. A plan that runs
MAX_STEPS_WITHOUT_WAIT steps without an `agent` or `queue` step is looping: it is stopped with a
`plan_error`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.background import Background, record_send_failure, send_message
from workflows.calls import record, routing
from workflows.offering import Offering

with workflow.unsafe.imports_passed_through():
    from activities.messages import MessageActivities, QueueMessage
    from activities.plan_facts import (
        AddTags,
        ConditionCheck,
        FirstInteraction,
        IntervalCheck,
        Plan,
        PlanActivities,
    )
    from activities.queue_waits import AgentWait, LeaveQueue, QueueEntry, QueueLookup, QueueWaitActivities
    from domain.plan import (
        AgentParams,
        AutoreplyParams,
        CloseParams,
        GotoifParams,
        GotopParams,
        NoopParams,
        PlanStep,
        QueueParams,
        TagParams,
        step_params,
    )
    from models import Application, OfferKind, Strategy

if TYPE_CHECKING:
    from workflows.interaction import InteractionState

# A plan that runs this many steps without waiting for anyone is looping: it is stopped.
MAX_STEPS_WITHOUT_WAIT = 100
WAITING_STEPS = frozenset({Application.agent, Application.queue})  # they reset that count
# Patch ids (workflow.patched): each names a change to the commands the workflow emits.
AGENT_STEP_WAITS = "agent-step-registers-its-wait"
AUTOREPLY_FAILURE_RECORDED = "autoreply-failure-marks-the-message-failed"
AUTOREPLY_THROUGH_OUTBOX = "autoreplies-sent-through-the-outbox"


class ActionPlan:
    def __init__(
        self,
        interaction_id: int,
        state: InteractionState,
        offering: Offering,
        background: Background,
        close: Callable[[int | None], Awaitable[None]],
    ) -> None:
        self._interaction_id = interaction_id
        self._state = state
        self._offering = offering
        self._background = background
        self._close = close  # the workflow's own close, for the `close` step

    async def run(self, plan: Plan) -> None:
        steps = plan.steps
        self._state.rejected_by = []
        index, steps_since_wait = 0, 0
        while index < len(steps) and self._state.owner_id is None and not self._state.closed:
            step = steps[index]
            index += 1
            steps_since_wait += 1
            if steps_since_wait > MAX_STEPS_WITHOUT_WAIT:
                reason = f"the plan loops: {MAX_STEPS_WITHOUT_WAIT} steps ran without a wait"
                await self._record("plan_error", {"step": step.step, "reason": reason})
                return
            if step.interval_id is not None and not await self._in_interval(step.interval_id):
                skipped = {
                    "step": step.step,
                    "application": step.application,
                    "reason": "outside its interval",
                }
                await self._record("step_skipped", skipped)
                continue
            jump = await self._run_step(step)
            if step.application in WAITING_STEPS:
                steps_since_wait = 0
            if jump is not None:
                index = jump - 1

    async def queue_step(self, queue_id: int, wait: timedelta, kind: OfferKind) -> None:
        """Wait in the queue: beepall rings everyone eligible until `wait` ends; the other
        strategies offer one agent at a time for the queue's timeout, in their order. Also how
        the owner's queue and a transfer's target queue are offered."""
        queue = await routing(QueueWaitActivities.queue_info, QueueLookup(queue_id))
        if queue is None:
            await self._record("plan_error", {"reason": f"queue {queue_id} no longer exists"})
            return
        deadline = workflow.now() + wait
        entry = QueueEntry(self._interaction_id, queue_id, workflow.info().workflow_id)
        await routing(QueueWaitActivities.enter_queue, entry)
        if queue.strategy == Strategy.beepall:
            await self._offering.ring_all_until(deadline, kind=kind, queue_id=queue_id)
        else:
            per_agent = timedelta(seconds=queue.timeout)
            strategy = Strategy(queue.strategy)
            await self._offering.one_at_a_time_for(
                per_agent, deadline, kind=kind, queue_id=queue_id, strategy=strategy
            )
        if self._state.owner_id is None:
            await self._stop_waiting()

    async def _run_step(self, step: PlanStep) -> int | None:
        """Run one step; return the step number to jump to, if it jumps."""
        match step_params(step):
            case AgentParams(agent_id=agent_id, timeout=timeout):
                await self._agent_step(agent_id, timedelta(seconds=timeout))
            case QueueParams(queue_id=queue_id, timeout=timeout):
                await self.queue_step(queue_id, timedelta(seconds=timeout), OfferKind.queue)
            case AutoreplyParams() as autoreply:
                await self._autoreply(step.step, autoreply)
            case CloseParams(disposition_id=disposition_id):
                await self._close(disposition_id)
            case GotoifParams(condition=condition, true_step=true_step, false_step=false_step):
                check = ConditionCheck(
                    self._interaction_id,
                    condition.model_dump(mode="json", exclude_none=True),
                    workflow.now(),
                )
                holds = await routing(PlanActivities.condition_holds, check)
                return true_step if holds else false_step
            case GotopParams(step=target):
                return target
            case NoopParams(value=value):
                await self._record("noop", {"step": step.step, "value": value})
            case TagParams(tags=tags):
                await routing(PlanActivities.add_tags, AddTags(self._interaction_id, tags))
            case _:  # a step kind this code does not know (load_plan only returns Application's)
                reason = f"unknown step {step.application!r}"
                await self._record("plan_error", {"step": step.step, "reason": reason})
        return None

    async def _agent_step(self, agent_id: int, wait: timedelta) -> None:
        """Offer to one agent while eligible; an agent who is not yet is woken into it by dispatch."""
        deadline = workflow.now() + wait
        registered = workflow.patched(AGENT_STEP_WAITS)
        if registered:
            wait_for = AgentWait(self._interaction_id, agent_id, workflow.info().workflow_id)
            await routing(QueueWaitActivities.wait_for_agent, wait_for)
        await self._offering.ring_all_until(deadline, kind=OfferKind.plan_agent, agent_ids=[agent_id])
        if registered and self._state.owner_id is None:
            await self._stop_waiting()

    async def _stop_waiting(self) -> None:
        await routing(QueueWaitActivities.leave_queue, LeaveQueue(self._interaction_id))

    async def _autoreply(self, number: int, autoreply: AutoreplyParams) -> None:
        """`times`: "one" autoreply per interaction, "first" only in the contact's first
        interaction on the account, "always" on every run of the plan."""
        times = autoreply.times
        if times == "one" and number in self._state.autoreplied_steps:
            return
        if times == "first":
            first = await routing(PlanActivities.is_first_interaction, FirstInteraction(self._interaction_id))
            if not first:
                return
        self._state.autoreplied_steps.append(number)
        queued = QueueMessage(self._interaction_id, autoreply.text, "autoreply")
        message_id = await routing(MessageActivities.queue_message, queued)
        if workflow.patched(AUTOREPLY_THROUGH_OUTBOX):  # sent in order, beside routing
            self._state.outbox.append(message_id)
            self._background.start_sender()
            return
        try:
            await send_message(message_id)
        except ActivityError as error:  # the failure is on the message; routing goes on
            if workflow.patched(AUTOREPLY_FAILURE_RECORDED):
                await record_send_failure(message_id, error)
            await self._record("autoreply_failed", {"step": number, "reason": str(error.cause or error)})

    async def _in_interval(self, interval_id: int) -> bool:
        return await routing(PlanActivities.inside_interval, IntervalCheck(interval_id, workflow.now()))

    async def _record(self, kind: str, data: dict[str, object]) -> None:
        await record(self._interaction_id, kind, data)
