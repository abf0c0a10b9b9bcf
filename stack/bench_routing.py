"""P3 and P4 of `make bench`: offers read from an agent's event stream, and the raw Temporal
limit beside them.

P3 times first messages from new contacts one at a time, from posting the webhook to the agent's
stream delivering its `offer` event (a beepall queue of one online agent is the account's plan).
P4 routes many at once (ROUTED_CONCURRENCY in flight, until each has its offer) beside the raw
limit on the same Temporal server: workflows of one activity that does nothing (stack.trivial),
on a worker in this process, run closed loop at the same concurrency (`raw_rate`) and open loop at
fixed rates (`raw_open_loop`, for the chart beside the webhooks' open-loop runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from stack.bench_calls import call, envelope, signed, text_message
from stack.bench_load import Offered, open_loop
from stack.trivial import TrivialWorkflow, nothing

AGENT_PASSWORD = "bench-agent-password"  # noqa: S105 (a throwaway stack of its own)
ROUTED_CONCURRENCY = 50
OFFER_WAIT_SECONDS = 30
RAW_WARM_UP = 20


async def agent_behind_a_queue(http: httpx.AsyncClient, admin: dict[str, str], account_id: int) -> str:
    """An online agent, the only member of the account and of a beepall queue that is the account's
    whole plan: its access token. Pending offers do not count against capacity (owned interactions
    do), so the default capacity takes every offer."""
    agent = await call(
        http, "POST", "/api/users", admin, {"username": "bench-agent", "password": AGENT_PASSWORD}
    )
    queue = await call(http, "POST", "/api/whatsapp/queues", admin, {"name": "Bench", "strategy": "beepall"})
    await call(http, "POST", f"/api/whatsapp/accounts/{account_id}/agents", admin, {"ids": [agent["id"]]})
    await call(http, "POST", f"/api/whatsapp/queues/{queue['id']}/agents", admin, {"ids": [agent["id"]]})
    # Longer than the whole measurement: no offer expires (and is rescinded) while it runs.
    plan = [{"application": "queue", "params": {"queue_id": queue["id"], "timeout": 3600}}]
    await call(http, "PUT", f"/api/whatsapp/accounts/{account_id}/actions", admin, plan)
    login = {"username": "bench-agent", "password": AGENT_PASSWORD}
    token: str = (await call(http, "POST", "/api/auth/login", {}, login))["access_token"]
    await call(
        http, "PUT", "/api/agents/me/status", {"Authorization": f"Bearer {token}"}, {"status": "online"}
    )
    return token


async def _watch_offers(
    http: httpx.AsyncClient,
    token: str,
    ready: asyncio.Future[None],
    arrivals: dict[str, asyncio.Future[float]],
) -> None:
    """Read the agent's event stream: resolve `ready` on its first event, and each contact's future
    in `arrivals` with the perf_counter() at which its `offer` event was read."""
    async with http.stream(
        "GET",
        "/api/agents/me/events",
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(10, read=None),
    ) as response:
        response.raise_for_status()
        name = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                read_at = time.perf_counter()
                if not ready.done():
                    ready.set_result(None)
                if name == "offer":
                    mobile = json.loads(line.removeprefix("data: "))["contact"]["mobile"]
                    arrival = arrivals.get(mobile)
                    if arrival is not None and not arrival.done():
                        arrival.set_result(read_at)


async def _within_wait(awaited: asyncio.Future[Any], watcher: asyncio.Task[None], what: str) -> None:
    """Wait up to OFFER_WAIT_SECONDS for `awaited`; if the event stream ends first, fail with its error."""
    await asyncio.wait({awaited, watcher}, timeout=OFFER_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
    if awaited.done():
        return
    if watcher.done():
        watcher.result()
        raise RuntimeError(f"the agent's event stream ended before {what}")
    raise RuntimeError(f"no {what} within {OFFER_WAIT_SECONDS} s")


@contextlib.asynccontextmanager
async def _watching_offers(
    http: httpx.AsyncClient, path: str, token: str
) -> AsyncIterator[Callable[[str, str], Awaitable[float]]]:
    """The agent's event stream, open: yields `offered(mobile, message_id)`, which posts that new
    contact's first message and returns the perf_counter() at which its `offer` event was read."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    arrivals: dict[str, asyncio.Future[float]] = {}
    watcher = asyncio.create_task(_watch_offers(http, token, ready, arrivals))

    async def offered(mobile: str, message_id: str) -> float:
        arrival: asyncio.Future[float] = loop.create_future()
        arrivals[mobile] = arrival
        raw, headers = signed(envelope(text_message(mobile, message_id, f"Contact {mobile}", "hello")))
        response = await http.post(path, content=raw, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"the webhook from {mobile} failed: HTTP {response.status_code}")
        await _within_wait(arrival, watcher, f"offer for {mobile}")
        return arrival.result()

    try:
        await _within_wait(ready, watcher, "its first event")
        yield offered
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def offer_latencies(http: httpx.AsyncClient, path: str, token: str, count: int) -> list[float]:
    """`count` first messages from new contacts, posted one at a time so that each is timed alone,
    not behind a queue of others: for each, the milliseconds from posting its webhook to reading
    its `offer` event on the agent's stream."""
    latencies = []
    async with _watching_offers(http, path, token) as offered:
        for i in range(count):
            started = time.perf_counter()
            latencies.append((await offered(f"1666{i:07d}", f"wamid.offer.{i}") - started) * 1000)
    return latencies


async def routed_rate(http: httpx.AsyncClient, path: str, token: str, count: int) -> float:
    """`count` first messages from new contacts, ROUTED_CONCURRENCY webhooks in flight: interactions
    routed a second, from the first post to the last contact's `offer` read on the agent's stream."""
    slots = asyncio.Semaphore(ROUTED_CONCURRENCY)
    async with _watching_offers(http, path, token) as offered:

        async def one(i: int) -> float:
            async with slots:
                return await offered(f"1777{i:07d}", f"wamid.routed.{i}")

        started = time.perf_counter()
        arrivals = await asyncio.gather(*(one(i) for i in range(count)))
    return count / (max(arrivals) - started)


@contextlib.asynccontextmanager
async def trivial_worker(client: Client) -> AsyncIterator[str]:
    """A worker for the trivial workflow in this process, on a task queue of its own: yields it."""
    queue = f"bench-trivial-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[TrivialWorkflow], activities=[nothing]):
        yield queue


async def raw_rate(client: Client, queue: str, count: int) -> float:
    """`count` trivial workflows, ROUTED_CONCURRENCY at a time (after RAW_WARM_UP to warm up):
    completed a second."""
    slots = asyncio.Semaphore(ROUTED_CONCURRENCY)

    async def one(name: str) -> None:
        async with slots:
            await client.execute_workflow(TrivialWorkflow.run, id=f"{queue}-{name}", task_queue=queue)

    await asyncio.gather(*(one(f"warm-{i}") for i in range(RAW_WARM_UP)))
    started = time.perf_counter()
    await asyncio.gather(*(one(f"closed-{i}") for i in range(count)))
    return count / (time.perf_counter() - started)


async def raw_open_loop(client: Client, queue: str, rate: float, seconds: float) -> Offered:
    """Trivial workflows started open loop at `rate` a second for `seconds`, each timed from its
    due time to its result (the client's CPU seconds include this process's worker)."""

    async def one(i: int) -> None:
        await client.execute_workflow(TrivialWorkflow.run, id=f"{queue}-{rate:g}-{i}", task_queue=queue)

    return await open_loop(rate, int(rate * seconds), one)
