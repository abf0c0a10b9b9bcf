"""Saved interaction histories replay on the current workflow code: a change that would break
interactions already running fails here (put it behind `workflow.patched`, see STYLE.md).

To record new histories (after a versioned change), run the routing tests with
SHARELINE_RECORD_HISTORIES=1; they write tests/workflows/histories/<name>.json. Histories recorded
by older code before a `workflow.patched` change (`*_before_*.json`) are never re-recorded: they
are what proves the patch keeps old runs replaying.
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from workflows.interaction import InteractionWorkflow

HISTORIES = Path(__file__).parent / "histories"


async def keep_history(client: Client, workflow_id: str, name: str) -> None:
    """Record the workflow's history as a replay fixture when asked to (see the module doc)."""
    if os.environ.get("SHARELINE_RECORD_HISTORIES") != "1":
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())


async def test_saved_histories_replay_on_the_current_code():
    files = sorted(HISTORIES.glob("*.json"))
    assert len(files) >= 4, "the recorded histories are missing"
    replayer = Replayer(workflows=[InteractionWorkflow])
    for path in files:
        result = await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()))
        assert result.replay_failure is None, path.name
