"""The raw limit `make bench` compares Shareline with: a workflow that runs one activity that does
nothing, on the same Temporal server (kept apart from the bench so the workflow sandbox imports
only temporalio)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def nothing() -> None:
    """The activity: a round trip through the server and back, no work."""


@workflow.defn
class TrivialWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(nothing, start_to_close_timeout=timedelta(seconds=30))
