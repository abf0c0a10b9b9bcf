"""Small test helpers: direct database reads and waiting for asynchronous effects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from settings import Settings
from workflows.interaction import InteractionSummary, InteractionWorkflow

T = TypeVar("T")


def db(settings: Settings) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(settings.libpq_url)


def count(settings: Settings, table: str) -> int:
    with db(settings) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 (test-owned table names)
    assert row is not None
    return int(row[0])


async def wait_for(predicate: Callable[[], Awaitable[T]], seconds: float = 10.0) -> T:
    """Poll `predicate` until it returns something truthy (work done by a worker in the background)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await predicate()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def result_of(client: Client, workflow_id: str) -> Any:
    """The workflow's result. The interaction row is stored before the relay starts its workflow,
    so a test that found the row waits for the workflow to exist first."""
    handle = client.get_workflow_handle(workflow_id)

    async def exists() -> bool:
        try:
            await handle.describe()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            return False
        return True

    await wait_for(exists)
    return await handle.result()


async def summary_of(client: Client, workflow_id: str) -> InteractionSummary | None:
    """The interaction workflow's summary, or None while it cannot answer queries yet (a query
    that arrives before its first workflow task completes is refused)."""
    try:
        return await client.get_workflow_handle(workflow_id).query(InteractionWorkflow.summary)
    except RPCError:
        return None


def scalar(settings: Settings, query: str, *params: Any) -> Any:
    """The one value a test's query returns."""
    with db(settings) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


async def ready_summary(client: Client, workflow_id: str) -> InteractionSummary:
    """The summary once the workflow answers queries."""
    summary = await wait_for(lambda: summary_of(client, workflow_id))
    assert summary is not None
    return summary


LOCAL_ACTIVITY_MARKER = "core_local_activity"  # the SDK's marker for a local activity's outcome


def completed_activities(history: WorkflowHistory) -> list[str]:
    """The activity types a history shows completed, in order: ordinary activities by their
    completed event, local ones by their marker (without a failure)."""
    scheduled: dict[int, str] = {}
    done = []
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.HasField("activity_task_completed_event_attributes"):
            done.append(scheduled[event.activity_task_completed_event_attributes.scheduled_event_id])
        elif event.HasField("marker_recorded_event_attributes"):
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == LOCAL_ACTIVITY_MARKER and not marker.HasField("failure"):
                data = json.loads(marker.details["data"].payloads[0].data)
                done.append(data["activity_type"])
    return done
