"""P5 of `make bench`: many interactions open and waiting, the memory they cost, and how
punctually their timers fire.

A Meta account whose plan is one `queue` step, on a beepall queue with no agent at all: every
first message from a new contact opens an interaction whose workflow enters the queue, finds
nobody and waits for the step's timeout on a durable timer (workflows.offering's
`_wait_for_answer`); when it fires, the interaction leaves the queue and stays open, waiting on
its idle-check timer. The timeout is chosen short enough that the queue timers fire while the
measurement runs, many of them while later messages are still being routed.

RSS is VmRSS summed over each part's process tree (stack.bench_procs; for PostgreSQL that
counts the shared buffers once for every backend that touched them), sampled every second: the
peak, and the last sample once every interaction is open and the sampled timers have fired.
Timer skew is read from the workflows' histories: TimerFired's event time minus (TimerStarted's
event time + its start_to_fire_timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import psycopg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from stack.bench_calls import blast, call, envelope, meta_account, relay_drained, signed, text_message
from stack.bench_load import percentile
from stack.bench_procs import PARTS, rss_mb
from stack.processes import EmbeddedStack
from workflows import ids

RSS_EVERY_SECONDS = 1.0
HISTORY_POLL_SECONDS = 5.0
HISTORY_CONCURRENCY = 10
RELAY_LIMIT_SECONDS = 900.0  # every message of the account handed to its workflow, at most
TIMER_LIMIT_SECONDS = 600.0  # after the last timer's due time, for the sample's timers to fire


@contextlib.asynccontextmanager
async def _rss_sampled(stack: EmbeddedStack) -> AsyncIterator[dict[str, float]]:
    """Sample every part's RSS each RSS_EVERY_SECONDS while the block runs: yields the peaks so far."""
    peaks = dict.fromkeys(PARTS, 0.0)

    async def sample() -> None:
        while True:
            for part, mb in rss_mb(stack).items():
                peaks[part] = max(peaks[part], mb)
            await asyncio.sleep(RSS_EVERY_SECONDS)

    task = asyncio.create_task(sample())
    try:
        yield peaks
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _timer_skews(client: Client, workflow_ids: list[str], limit_seconds: float) -> list[float]:
    """Milliseconds each fired timer of these workflows came after its due time; waits (up to
    `limit_seconds`) until every workflow has at least one fired timer."""
    gate = asyncio.Semaphore(HISTORY_CONCURRENCY)
    skews: list[float] = []
    pending = set(workflow_ids)

    async def read(workflow_id: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        started = {}
        fired = []
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
                started[event.event_id] = event.event_time.ToDatetime() + timeout
            elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                fired.append(event)
        if fired:
            pending.discard(workflow_id)
            for event in fired:
                due = started[event.timer_fired_event_attributes.started_event_id]
                skews.append((event.event_time.ToDatetime() - due) / timedelta(milliseconds=1))

    deadline = time.monotonic() + limit_seconds
    while pending and time.monotonic() < deadline:
        await asyncio.gather(*(read(workflow_id) for workflow_id in sorted(pending)))
        if pending:
            await asyncio.sleep(HISTORY_POLL_SECONDS)
    if pending:
        raise RuntimeError(
            f"{len(pending)} sampled workflows have no fired timer after {limit_seconds:.0f} s"
        )
    return skews


async def waiting_interactions(
    stack: EmbeddedStack,
    http: httpx.AsyncClient,
    admin: dict[str, str],
    list_id: int,
    client: Client,
    count: int,
    queue_timeout: int,
    sample: int,
) -> dict[str, Any]:
    """Open `count` interactions waiting in a queue nobody serves (the queue step `queue_timeout`
    seconds long); return RSS per part (MB, peak and at the end), the timer skew of `sample` of
    them and how many interaction workflows the server holds open."""
    account_id, path = await meta_account(http, admin, list_id, "Bench waiting", "BWAIT", "15550003333")
    queue = await call(http, "POST", "/api/whatsapp/queues", admin, {"name": "Nobody", "strategy": "beepall"})
    plan = [{"application": "queue", "params": {"queue_id": queue["id"], "timeout": queue_timeout}}]
    await call(http, "PUT", f"/api/whatsapp/accounts/{account_id}/actions", admin, plan)
    bodies = [
        signed(envelope(text_message(f"1888{i:07d}", f"wamid.wait.{i}", f"Waiting {i}", "hello")))
        for i in range(count)
    ]
    before = rss_mb(stack)
    async with _rss_sampled(stack) as peaks:
        started = time.perf_counter()
        posted_per_s = await blast(http, path, bodies)
        relayed = await relay_drained(stack.settings.libpq_url, account_id, RELAY_LIMIT_SECONDS)
        if relayed is None:
            raise RuntimeError(f"the relay left messages unsignalled after {RELAY_LIMIT_SECONDS:.0f} s")
        drained_at = time.perf_counter()
        async with await psycopg.AsyncConnection.connect(stack.settings.libpq_url) as conn:
            cursor = await conn.execute(
                "SELECT id, contact_id FROM interactions WHERE account_id = %s ORDER BY id", (account_id,)
            )
            rows = await cursor.fetchall()
        every = max(1, len(rows) // sample)
        sampled = [
            ids.interaction_workflow_id(account_id, contact, interaction)
            for interaction, contact in rows[::every][:sample]
        ]
        # The last timers are due about queue_timeout after the relay handed over the last message.
        await asyncio.sleep(max(0.0, drained_at + queue_timeout - time.perf_counter()))
        skews = await _timer_skews(client, sampled, TIMER_LIMIT_SECONDS)
        open_workflows = await client.count_workflows(
            'WorkflowType = "InteractionWorkflow" AND ExecutionStatus = "Running"'
        )
        after = rss_mb(stack)
        elapsed = time.perf_counter() - started
    return {
        "interactions": len(rows),
        "queue_timeout_s": queue_timeout,
        "posted_per_s": posted_per_s,
        "relay_drained_after_posting_s": relayed,
        "seconds": elapsed,
        "open_interaction_workflows": open_workflows.count,
        "rss_mb_before": before,
        "rss_mb_peak": dict(peaks),
        "rss_mb_end": after,
        "timer_skew_ms": {
            "workflows": len(sampled),
            "timers": len(skews),
            "p50": percentile(skews, 50),
            "p99": percentile(skews, 99),
            "max": max(skews, default=None),
        },
    }
