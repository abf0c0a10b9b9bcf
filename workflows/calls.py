"""How the interaction workflow calls its routing activities: one timeout and one retry policy for
all of them, and the timeline event they all record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.plan_facts import PlanActivities, RecordEvent

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

QUICK = timedelta(seconds=30)
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
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=QUICK, retry_policy=ROUTING_RETRY
    )


async def record(
    interaction_id: int, kind: str, data: dict[str, object], actor_id: int | None = None
) -> None:
    """An event on the interaction's timeline."""
    await routing(PlanActivities.record_event, RecordEvent(interaction_id, kind, dict(data), actor_id))
