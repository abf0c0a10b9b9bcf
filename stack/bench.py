"""`make bench`: webhook ingestion throughput and offer latency on the embedded stack.

Starts a fresh embedded stack (PostgreSQL, Temporal dev server, API, worker) in .bench/stack,
creates a Meta account with an app secret and no action plan, then, `runs` times (three):
  - inbound: `messages` signed Meta webhooks, one text message each, from CONTACTS contacts (each
    stored, its interaction found or created, signal-with-start to its workflow), CONCURRENCY at once;
  - statuses: `statuses` signed `delivered` callbacks for stored outbound messages (one UPDATE each).
Then offer latency, on a second Meta account whose plan is one `queue` step (a beepall queue of one
online agent holding its event stream open): `offers` first messages from new contacts, one at a
time, each timed from posting the webhook to the agent's stream delivering its `offer` event.
Then routed interactions/s: `routed` first messages from new contacts, ROUTED_CONCURRENCY at a
time, from the first webhook to the last `offer` read, beside the raw limit on the same Temporal
server: `raw` workflows of one activity that does nothing (stack.trivial), ROUTED_CONCURRENCY at a
time, on a worker in this process. Prints each run, the medians, the latency median and p95 and
the routed rate as a share of the raw one; writes .bench/ingestion.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from temporalio.client import Client
from temporalio.worker import Worker

from settings import Settings
from stack.processes import EmbeddedStack, free_port
from stack.trivial import TrivialWorkflow, nothing

CONTACTS = 100
CONCURRENCY = 16
APP_SECRET = "bench-app-secret"  # noqa: S105 (a throwaway stack of its own)
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105
AGENT_PASSWORD = "bench-agent-password"  # noqa: S105
ROUTED_CONCURRENCY = 50


@dataclass(frozen=True)
class Sizes:
    """How much each part sends: `runs` ingestion runs of `messages` webhooks and `statuses`
    callbacks, `offers` timed offers, `routed` routed interactions and `raw` trivial workflows
    (`--quick`: QUICK, a look in about a minute)."""

    runs: int = 3
    messages: int = 600
    statuses: int = 1800
    offers: int = 200
    routed: int = 500
    raw: int = 500


FULL = Sizes()
QUICK = Sizes(runs=1, messages=200, statuses=600, offers=50, routed=150, raw=150)  # `--quick`: a look
OFFER_WAIT_SECONDS = 30
OUT = Path(".bench")


def _signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "w", "changes": [{"field": "messages", "value": value}]}],
    }


def _text_message(mobile: str, wamid: str, name: str, text: str) -> dict[str, Any]:
    """The `value` of a Meta webhook carrying one text message from `mobile`."""
    return {
        "contacts": [{"profile": {"name": name}, "wa_id": mobile}],
        "messages": [
            {"from": mobile, "id": wamid, "timestamp": "1732442400", "type": "text", "text": {"body": text}}
        ],
    }


async def _call(http: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], body: Any) -> Any:
    response = await http.request(method, url, json=body, headers=headers)
    if response.is_error:
        raise RuntimeError(f"{method} {url}: HTTP {response.status_code} {response.text}")
    return response.json()


async def _blast(http: httpx.AsyncClient, path: str, bodies: list[tuple[bytes, dict[str, str]]]) -> float:
    """Post every body, CONCURRENCY at a time; return requests per second."""
    gate = asyncio.Semaphore(CONCURRENCY)
    failures: list[int] = []

    async def post(raw: bytes, headers: dict[str, str]) -> None:
        async with gate:
            response = await http.post(path, content=raw, headers=headers)
            if response.status_code != 200:
                failures.append(response.status_code)

    started = time.perf_counter()
    await asyncio.gather(*(post(raw, headers) for raw, headers in bodies))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} webhooks failed, e.g. HTTP {failures[0]}")
    return len(bodies) / elapsed


async def _run(
    http: httpx.AsyncClient, path: str, account_id: int, dsn: str, sizes: Sizes
) -> tuple[float, float]:
    tag = uuid.uuid4().hex[:8]
    inbound = [
        _signed(
            _envelope(
                _text_message(
                    f"1555{tag[:4]}{i % CONTACTS:04d}",
                    f"wamid.{tag}.{i}",
                    f"Bench {i % CONTACTS}",
                    f"message {i}",
                )
            )
        )
        for i in range(sizes.messages)
    ]
    messages_per_second = await _blast(http, path, inbound)

    with psycopg.connect(dsn, autocommit=True) as conn:
        interaction_id = conn.execute("SELECT max(id) FROM interactions").fetchone()[0]  # type: ignore[index]
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload,"
                " provider_message_id, status)"
                " VALUES (%s, %s, 'out', 'text', 'reply', '{}', %s, 'sent')",
                [(account_id, interaction_id, f"wamid.out.{tag}.{i}") for i in range(sizes.statuses)],
            )
    statuses = [
        _signed(
            _envelope(
                {
                    "statuses": [
                        {
                            "id": f"wamid.out.{tag}.{i}",
                            "status": "delivered",
                            "timestamp": "1732442401",
                            "recipient_id": "1",
                        }
                    ]
                }
            )
        )
        for i in range(sizes.statuses)
    ]
    statuses_per_second = await _blast(http, path, statuses)
    return messages_per_second, statuses_per_second


async def _meta_account(
    http: httpx.AsyncClient, admin: dict[str, str], list_id: int, name: str, key: str, phone: str
) -> tuple[int, str]:
    """A Meta account whose webhooks are signed with APP_SECRET: its id and its receive URL's path."""
    account = await _call(
        http,
        "POST",
        "/api/whatsapp/accounts",
        admin,
        {
            "name": name,
            "key": key,
            "list_id": list_id,
            "type": "meta",
            "phone": phone,
            "credentials": {
                "account_sid": "w",
                "auth_token": "t",
                "app_id": "a",
                "phone_number_id": "1",
                "app_secret": APP_SECRET,
            },
        },
    )
    return account["id"], "/" + account["receive_url"].split("://", 1)[1].split("/", 1)[1]


async def _agent_behind_a_queue(http: httpx.AsyncClient, admin: dict[str, str], account_id: int) -> str:
    """An online agent, the only member of the account and of a beepall queue that is the account's
    whole plan: its access token. Pending offers do not count against capacity (owned interactions
    do), so the default capacity takes every offer."""
    agent = await _call(
        http, "POST", "/api/users", admin, {"username": "bench-agent", "password": AGENT_PASSWORD}
    )
    queue = await _call(http, "POST", "/api/whatsapp/queues", admin, {"name": "Bench", "strategy": "beepall"})
    await _call(http, "POST", f"/api/whatsapp/accounts/{account_id}/agents", admin, {"ids": [agent["id"]]})
    await _call(http, "POST", f"/api/whatsapp/queues/{queue['id']}/agents", admin, {"ids": [agent["id"]]})
    # Longer than the whole measurement: no offer expires (and is rescinded) while it runs.
    plan = [{"application": "queue", "params": {"queue_id": queue["id"], "timeout": 3600}}]
    await _call(http, "PUT", f"/api/whatsapp/accounts/{account_id}/actions", admin, plan)
    login = {"username": "bench-agent", "password": AGENT_PASSWORD}
    token: str = (await _call(http, "POST", "/api/auth/login", {}, login))["access_token"]
    await _call(
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
        raw, headers = _signed(_envelope(_text_message(mobile, message_id, f"Contact {mobile}", "hello")))
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


async def _offer_latencies(http: httpx.AsyncClient, path: str, token: str, count: int) -> list[float]:
    """`count` first messages from new contacts, posted one at a time so that each is timed alone,
    not behind a queue of others: for each, the milliseconds from posting its webhook to reading
    its `offer` event on the agent's stream."""
    latencies = []
    async with _watching_offers(http, path, token) as offered:
        for i in range(count):
            started = time.perf_counter()
            latencies.append((await offered(f"1666{i:07d}", f"wamid.offer.{i}") - started) * 1000)
    return latencies


async def _routed_rate(http: httpx.AsyncClient, path: str, token: str, count: int) -> float:
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


async def _raw_rate(address: str, namespace: str, count: int) -> float:
    """`count` one-activity workflows, ROUTED_CONCURRENCY at a time, on the stack's Temporal server
    (after 20 to warm up): completed a second."""
    client = await Client.connect(address, namespace=namespace)
    queue = f"bench-trivial-{uuid.uuid4().hex[:8]}"
    slots = asyncio.Semaphore(ROUTED_CONCURRENCY)

    async def one(i: int) -> None:
        async with slots:
            await client.execute_workflow(TrivialWorkflow.run, id=f"{queue}-{i}", task_queue=queue)

    async with Worker(client, task_queue=queue, workflows=[TrivialWorkflow], activities=[nothing]):
        await asyncio.gather(*(one(i) for i in range(20)))
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(20, 20 + count)))
        return count / (time.perf_counter() - started)


Measured = tuple[list[tuple[float, float]], list[float], tuple[float, float]]


async def _measure(stack: EmbeddedStack, sizes: Sizes) -> Measured:
    """The ingestion runs (messages/s, statuses/s each), the offer latencies (ms), then routed
    interactions/s and the raw workflows/s on the same server."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
        login = await _call(
            http, "POST", "/api/auth/login", {}, {"username": "admin", "password": ADMIN_PASSWORD}
        )
        admin = {"Authorization": f"Bearer {login['access_token']}"}
        contact_list = await _call(http, "POST", "/api/cm/lists", admin, {"name": "Bench"})
        account_id, path = await _meta_account(
            http, admin, contact_list["id"], "Bench", "BENCH", "15550001111"
        )
        dsn = stack.settings.libpq_url
        results = []
        for number in range(1, sizes.runs + 1):
            messages, statuses = await _run(http, path, account_id, dsn, sizes)
            print(f"run {number}: {messages:7.1f} inbound messages/s   {statuses:7.1f} status callbacks/s")
            results.append((messages, statuses))
        # A second account, so the ingestion runs above stay plan-free and comparable with earlier ones.
        account_id, path = await _meta_account(
            http, admin, contact_list["id"], "Bench offers", "BOFR", "15550002222"
        )
        token = await _agent_behind_a_queue(http, admin, account_id)
        latencies = await _offer_latencies(http, path, token, sizes.offers)
        routed = await _routed_rate(http, path, token, sizes.routed)
        address, namespace = stack.settings.temporal_address, stack.settings.temporal_namespace
        raw = await _raw_rate(address, namespace, sizes.raw)
        return results, latencies, (routed, raw)


def main() -> None:
    sizes = QUICK if "--quick" in sys.argv[1:] else FULL
    data_dir = OUT / "stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(
        data_dir=data_dir,
        api_port=free_port(),
        temporal_port=free_port(),
        admin_password=ADMIN_PASSWORD,
        public_url="http://127.0.0.1",
    )
    stack = EmbeddedStack(settings, temporal_ui=False, quiet=True)
    print(f"Starting the embedded stack in {data_dir} ...")
    try:
        stack.start()
        print(
            f"{sizes.messages} inbound webhooks ({CONTACTS} contacts) and {sizes.statuses} status callbacks"
            f" per run, {CONCURRENCY} concurrent; then {sizes.offers} offers, one at a time"
        )
        results, latencies, (routed, raw) = asyncio.run(_measure(stack, sizes))
    finally:
        stack.stop()
    messages = statistics.median(result[0] for result in results)
    statuses = statistics.median(result[1] for result in results)
    print(
        f"median of {sizes.runs}: {messages:.1f} inbound messages/s, {statuses:.1f} status callbacks/s "
        f"(statuses are {statuses / messages:.1f}x cheaper)"
    )
    latency = statistics.median(latencies)
    # The 19th of 20-quantiles, statistics' default 'exclusive' method: interpolated at rank 0.95 * (n + 1).
    p95 = statistics.quantiles(latencies, n=20)[18]
    print(
        f"offer latency (webhook posted to `offer` event read) over {sizes.offers} interactions:"
        f" median {latency:.1f} ms, p95 {p95:.1f} ms"
    )
    print(
        f"routed: {routed:.1f} interactions/s ({sizes.routed} new contacts, {ROUTED_CONCURRENCY} at a time,"
        f" to the last offer); raw Temporal, same server: {raw:.1f} one-activity workflows/s;"
        f" ratio {routed / raw:.2f}"
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "ingestion.json").write_text(
        json.dumps(
            {
                "runs": results,
                "median_messages_per_s": messages,
                "median_statuses_per_s": statuses,
                "offer_latency_ms": {
                    "interactions": sizes.offers,
                    "median": latency,
                    "p95": p95,
                    "samples": latencies,
                },
                "routed_per_s": routed,
                "raw_workflows_per_s": raw,
                "routed_to_raw": routed / raw,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
