"""How the interaction workflow calls its routing activities: one timeout and one retry policy for
all of them, and the timeline event they all record.

Routing activities are short PostgreSQL transactions, idempotent under retry, so they run as
local activities: in the worker that runs the workflow task, recorded as one marker each in the
history, with no round trip through the server's task queue per step. A new interaction's plan,
queue lookup, queue entry, agent search and offers are then one workflow task, not six. Sends and
media downloads (slow, at another company's machine) stay ordinary activities.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.plan_facts import PlanActivities, RecordEvent

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

QUICK = timedelta(seconds=30)
# Patch id (workflow.patched): runs started before it keep their ordinary routing activities.
LOCAL_ROUTING = "routing-activities-run-local"
# A local activity's retries wait on workflow timers, not in the worker: a workflow task held open
# by a retry's back-off would keep updates (accept, close, transfer) waiting meanwhile.
LOCAL_RETRY_THRESHOLD = timedelta(seconds=1)
# Routing's own activities (PostgreSQL): retried for about five minutes, then the failure is said
# (the interaction's `_routing_failed`) and routing is tried again later, instead of retrying
# forever unseen. Writes that must happen whatever the wait (closing, moving late messages on,
# recording a failure) keep Temporal's unbounded default: they are idempotent, and a pending
# attempt shows in the UI.
ROUTING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=15,
)


async def routing(activity: Callable[[Any, ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    """Run a routing activity (a method of an activities class) with QUICK and ROUTING_RETRY."""
    if workflow.patched(LOCAL_ROUTING):
        try:
            return await workflow.execute_local_activity_method(
                activity,
                arg,
                start_to_close_timeout=QUICK,
                retry_policy=ROUTING_RETRY,
                local_retry_threshold=LOCAL_RETRY_THRESHOLD,
            )
        except ApplicationError as failure:
            # A local activity's own failure arrives unwrapped (a timeout or cancel is wrapped):
            # wrapped here, the workflow handles it as any activity's, not failing the whole run.
            raise ActivityError(
                "local activity failed",
                scheduled_event_id=0,
                started_event_id=0,
                identity="",
                activity_type=activity.__name__,
                activity_id="",
                retry_state=None,
            ) from failure
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=QUICK, retry_policy=ROUTING_RETRY
    )


async def record(
    interaction_id: int, kind: str, data: dict[str, object], actor_id: int | None = None
) -> None:
    """An event on the interaction's timeline."""
    await routing(PlanActivities.record_event, RecordEvent(interaction_id, kind, dict(data), actor_id))
