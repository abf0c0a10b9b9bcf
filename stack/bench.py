"""`make bench`: issue 10's goals measured on a fresh embedded stack, one part after another.

Starts the embedded stack (PostgreSQL, Temporal dev server, API, worker) in .bench/stack, then:
  - P3: the offer latency, webhook posted to the agent's SSE `offer` event, one interaction at a
    time on a quiet system (stack.bench_routing);
  - P4: routed interactions/s, ROUTED_CONCURRENCY new contacts in flight until each has its offer,
    as a share of the raw limit, a trivial one-activity workflow at the same concurrency;
  - P1: inbound webhooks open loop (stack.bench_load) at each of `inbound_rates` for
    `inbound_seconds`, text messages from CONTACTS contacts on a plan-free Meta account; after each
    rate, once the inbound relay has drained (at most RELAY_LIMIT_SECONDS), every acknowledged
    message is checked to be stored exactly once and handed to its workflow (`signalled_at`);
  - raw Temporal open loop: the trivial workflow started at the same rates, due time to result;
  - P2: status callbacks open loop at each of `status_rates` for `status_seconds`, `delivered`
    for outbound messages stored beforehand (checked applied afterwards);
  - P5: `waiting` interactions open and waiting in a queue nobody serves (stack.bench_waiting):
    RSS per part and timer skew.
Prints every goal with its figure and whether it holds, the per-rate tables and the load average
before and after; writes .bench/bench.json and draws docs/bench.svg (stack.bench_chart).
`--quick`: the same parts at QUICK's sizes, a look in a few minutes.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from temporalio.client import Client

from settings import Settings
from stack.bench_calls import call, delivered, envelope, meta_account, relay_drained, signed, text_message
from stack.bench_chart import Series, chart
from stack.bench_load import Load, Offered, http_request, offer, percentile, serve_null
from stack.bench_procs import quiet
from stack.bench_routing import (
    agent_behind_a_queue,
    offer_latencies,
    raw_open_loop,
    raw_rate,
    routed_rate,
    trivial_worker,
)
from stack.bench_waiting import waiting_interactions
from stack.processes import EmbeddedStack, free_port, wait_for_port

ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 (a throwaway stack of its own)
CONTACTS = 300
RELAY_LIMIT_SECONDS = 180.0
SETTLE_SECONDS = 3.0  # after each status rate, for requests the server still works on
QUIET_LIMIT_SECONDS = 120.0  # before each rate, for the stack to work off the previous one's backlog
CALIBRATION_RATE = 1000
# uvicorn closes a keep-alive connection idle for 5 s, httpx's default expiry: a request sent on
# one as it closes fails (httpx.ReadError). Expired sooner, an idle connection is never raced.
API_LIMITS = httpx.Limits(keepalive_expiry=2)
CALIBRATION_SECONDS = 5
INBOUND_GOAL_RATE = 80
STATUS_GOAL_RATE = 1000
OUT = Path(".bench")
CHART = Path("docs/bench.svg")


@dataclass(frozen=True)
class Sizes:
    """How much each part offers (`--quick`: QUICK, a look in a few minutes)."""

    inbound_rates: tuple[int, ...] = (20, 40, INBOUND_GOAL_RATE, 160)
    inbound_seconds: float = 60
    raw_seconds: float = 20
    status_rates: tuple[int, ...] = (100, 250, 500, STATUS_GOAL_RATE)
    status_seconds: float = 15
    offers: int = 200
    routed: int = 500
    raw: int = 500
    waiting: int = 10_000
    queue_timeout: int = 60  # seconds: the waiting interactions' queue timers fire during P5
    timer_sample: int = 300


FULL = Sizes()
QUICK = Sizes(
    inbound_seconds=10,
    raw_seconds=5,
    status_seconds=5,
    offers=30,
    routed=100,
    raw=100,
    waiting=1000,
    queue_timeout=20,
    timer_sample=100,
)


def _posts(stack: EmbeddedStack, path: str, values: list[dict[str, Any]]) -> list[bytes]:
    """Each webhook `value`, signed and encoded as a POST to `path` for the load generator."""
    host, port = stack.settings.api_host, stack.settings.api_port
    posts = []
    for value in values:
        body, headers = signed(envelope(value))
        posts.append(http_request(host, port, path, headers, body))
    return posts


class Parts:
    """The measured parts, sharing one API client, admin token, contact list, Temporal client,
    trivial worker and load-generator process."""

    def __init__(
        self,
        stack: EmbeddedStack,
        http: httpx.AsyncClient,
        admin: dict[str, str],
        list_id: int,
        temporal: Client,
        raw_queue: str,
        generator: ProcessPoolExecutor,
    ) -> None:
        self.stack, self.http, self.admin, self.list_id = stack, http, admin, list_id
        self.temporal, self.raw_queue, self.generator = temporal, raw_queue, generator
        self.dsn = stack.settings.libpq_url
        self.tag = uuid.uuid4().hex[:8]

    async def _offer(self, rate: float, requests: list[bytes]) -> Offered:
        """`requests` offered open loop at `rate` from the generator process."""
        host, port = self.stack.settings.api_host, self.stack.settings.api_port
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.generator, offer, Load(host, port, rate, requests))

    async def routing(self, sizes: Sizes) -> dict[str, Any]:
        """P3 and P4, on an account whose plan is a beepall queue of one online agent."""
        account_id, path = await meta_account(
            self.http, self.admin, self.list_id, "Bench offers", "BOFR", "15550002222"
        )
        token = await agent_behind_a_queue(self.http, self.admin, account_id)
        latencies = await offer_latencies(self.http, path, token, sizes.offers)
        routed = await routed_rate(self.http, path, token, sizes.routed)
        raw = await raw_rate(self.temporal, self.raw_queue, sizes.raw)
        return {
            "offer_latency_ms": {
                "interactions": sizes.offers,
                "p50": statistics.median(latencies),
                "p95": percentile(latencies, 95),
                "p99": percentile(latencies, 99),
            },
            "routed_per_s": routed,
            "raw_workflows_per_s": raw,
            "routed_to_raw": routed / raw,
        }

    async def inbound(self, account_id: int, path: str, rate: int, seconds: float) -> dict[str, Any]:
        """P1 at one rate, then the exactly-once check of what was acknowledged."""
        prefix = f"wamid.in.{self.tag}.{rate}."
        values = [
            text_message(f"1999{i % CONTACTS:07d}", f"{prefix}{i}", f"Bench {i % CONTACTS}", f"message {i}")
            for i in range(int(rate * seconds))
        ]
        offered = await self._offer(rate, _posts(self.stack, path, values))
        drained = await relay_drained(self.dsn, account_id, RELAY_LIMIT_SECONDS)
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
            cursor = await conn.execute(
                "SELECT provider_message_id, count(*), count(signalled_at) FROM messages"
                " WHERE account_id = %s AND provider_message_id LIKE %s GROUP BY 1",
                (account_id, prefix + "%"),
            )
            stored = {wamid: (copies, signalled) for wamid, copies, signalled in await cursor.fetchall()}
        acked = [f"{prefix}{i}" for i in offered.answered]
        return {
            **offered.summary(),
            "relay_drained_s": drained,
            "lost": sum(1 for wamid in acked if wamid not in stored),
            "duplicated": sum(copies - 1 for copies, _ in stored.values()),
            "not_relayed": sum(1 for copies, signalled in stored.values() if signalled < copies),
        }

    async def statuses(self, account_id: int, path: str, rate: int, seconds: float) -> dict[str, Any]:
        """P2 at one rate: `delivered` for outbound messages stored just before, then how many of
        the acknowledged ones moved to `delivered`."""
        prefix = f"wamid.out.{self.tag}.{rate}."
        wamids = [f"{prefix}{i}" for i in range(int(rate * seconds))]
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            cursor = await conn.execute(
                "SELECT max(id) FROM interactions WHERE account_id = %s", (account_id,)
            )
            interaction = await cursor.fetchone()
            async with conn.cursor() as insert:
                await insert.executemany(
                    "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload,"
                    " provider_message_id, status) VALUES (%s, %s, 'out', 'text', 'reply', '{}', %s, 'sent')",
                    [(account_id, interaction[0] if interaction else None, wamid) for wamid in wamids],
                )
            offered = await self._offer(rate, _posts(self.stack, path, [delivered(w) for w in wamids]))
            await asyncio.sleep(SETTLE_SECONDS)
            cursor = await conn.execute(
                "SELECT count(*) FROM messages WHERE account_id = %s AND provider_message_id = ANY(%s)"
                " AND status = 'delivered'",
                (account_id, [wamids[i] for i in offered.answered]),
            )
            applied = await cursor.fetchone()
        return {**offered.summary(), "applied": applied[0] if applied else 0}

    async def _quiet(self, next_part: str) -> float | None:
        """Wait for the stack to be quiet (stack.bench_procs.quiet), then say what comes next."""
        waited = await quiet(self.stack, QUIET_LIMIT_SECONDS)
        busy = "still busy after" if waited is None else "quiet after"
        print(
            f"{next_part} ({busy} {QUIET_LIMIT_SECONDS if waited is None else waited:.0f} s) ...", flush=True
        )
        return waited

    async def all(self, sizes: Sizes) -> dict[str, Any]:
        results: dict[str, Any] = {}
        await self._quiet("P3, P4: offer latency and routed interactions/s")
        results["routing"] = await self.routing(sizes)
        account_id, path = await meta_account(
            self.http, self.admin, self.list_id, "Bench", "BENCH", "15550001111"
        )
        results["inbound"] = []
        for rate in sizes.inbound_rates:
            waited = await self._quiet(f"P1: inbound webhooks at {rate}/s for {sizes.inbound_seconds:g} s")
            row = await self.inbound(account_id, path, rate, sizes.inbound_seconds)
            results["inbound"].append({**row, "waited_for_quiet_s": waited})
        results["raw_open_loop"] = []
        for rate in sizes.inbound_rates:
            waited = await self._quiet(
                f"raw Temporal: trivial workflows at {rate}/s for {sizes.raw_seconds:g} s"
            )
            raw = await raw_open_loop(self.temporal, self.raw_queue, rate, sizes.raw_seconds)
            results["raw_open_loop"].append({**raw.summary(), "waited_for_quiet_s": waited})
        results["statuses"] = []
        for rate in sizes.status_rates:
            waited = await self._quiet(f"P2: status callbacks at {rate}/s for {sizes.status_seconds:g} s")
            row = await self.statuses(account_id, path, rate, sizes.status_seconds)
            results["statuses"].append({**row, "waited_for_quiet_s": waited})
        await self._quiet(f"P5: {sizes.waiting:,} interactions waiting in a queue nobody serves")
        results["waiting"] = await waiting_interactions(
            self.stack,
            self.http,
            self.admin,
            self.list_id,
            self.temporal,
            sizes.waiting,
            sizes.queue_timeout,
            sizes.timer_sample,
        )
        return results


async def _measure(stack: EmbeddedStack, sizes: Sizes, generator: ProcessPoolExecutor) -> dict[str, Any]:
    settings = stack.settings
    temporal = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=API_LIMITS) as http,
        trivial_worker(temporal) as raw_queue,
    ):
        login = await call(
            http, "POST", "/api/auth/login", {}, {"username": "admin", "password": ADMIN_PASSWORD}
        )
        admin = {"Authorization": f"Bearer {login['access_token']}"}
        contact_list = await call(http, "POST", "/api/cm/lists", admin, {"name": "Bench"})
        parts = Parts(stack, http, admin, contact_list["id"], temporal, raw_queue, generator)
        return await parts.all(sizes)


def _calibrate(generator: ProcessPoolExecutor) -> dict[str, Any]:
    """The load generator alone: CALIBRATION_RATE requests/s for CALIBRATION_SECONDS against a
    server in another process that answers at once (stack.bench_load.serve_null)."""
    host, port = "127.0.0.1", free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve_null, args=(host, port), daemon=True)
    server.start()
    try:
        wait_for_port(host, port, 30)
        request = http_request(host, port, "/", {"Content-Type": "application/json"}, b"{}" * 200)
        load = Load(host, port, CALIBRATION_RATE, [request] * CALIBRATION_RATE * CALIBRATION_SECONDS)
        return generator.submit(offer, load).result().summary()
    finally:
        server.kill()
        server.join()


def _at(rows: list[dict[str, Any]], rate: int) -> dict[str, Any]:
    return next(row for row in rows if row["offered_per_s"] == rate)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _goals(results: dict[str, Any], sizes: Sizes) -> list[tuple[str, str, str, bool]]:
    """(what, figure, goal, holds) for every goal of issue 10, and for the load generator's own."""
    inbound = _at(results["inbound"], INBOUND_GOAL_RATE)
    status = _at(results["statuses"], STATUS_GOAL_RATE)
    offers = results["routing"]["offer_latency_ms"]
    ratio = results["routing"]["routed_to_raw"]
    waiting = results["waiting"]
    skew = waiting["timer_skew_ms"]
    worker_mb = max(waiting["rss_mb_peak"]["worker"], waiting["rss_mb_end"]["worker"])
    lost = sum(row["lost"] for row in results["inbound"])
    duplicated = sum(row["duplicated"] for row in results["inbound"])
    unrelayed = sum(row["not_relayed"] for row in results["inbound"])
    calibration = results["generator_calibration"]
    return [
        (
            f"P1 inbound {INBOUND_GOAL_RATE}/s for {sizes.inbound_seconds:g} s",
            f"{inbound['answered_per_s']:.1f}/s answered, p99 {_ms(inbound['p99_ms'])},"
            f" {inbound['errors']} errors",
            "p99 < 200 ms, no errors",
            inbound["p99_ms"] is not None and inbound["p99_ms"] < 200 and inbound["errors"] == 0,
        ),
        (
            "P1 exactly once (every rate)",
            f"{lost} lost, {duplicated} duplicated, {unrelayed} not relayed",
            "0 lost, 0 duplicated",
            lost == duplicated == unrelayed == 0,
        ),
        (
            f"P2 status callbacks {STATUS_GOAL_RATE}/s",
            f"{status['answered_per_s']:.0f}/s answered, p99 {_ms(status['p99_ms'])},"
            f" {status['errors']} errors",
            "p99 < 50 ms, no errors",
            status["p99_ms"] is not None and status["p99_ms"] < 50 and status["errors"] == 0,
        ),
        (
            "P3 webhook -> SSE offer, quiet",
            f"p50 {_ms(offers['p50'])}, p95 {_ms(offers['p95'])} ({offers['interactions']})",
            "p50 < 150 ms, p95 < 250 ms",
            offers["p50"] < 150 and offers["p95"] is not None and offers["p95"] < 250,
        ),
        (
            "P4 routed / raw Temporal",
            f"{results['routing']['routed_per_s']:.1f}/s / {results['routing']['raw_workflows_per_s']:.1f}/s"
            f" = {ratio:.2f}",
            ">= 0.8",
            ratio >= 0.8,
        ),
        (
            f"P5 worker RSS, {waiting['interactions']:,} waiting",
            f"{worker_mb:,.0f} MB (peak)",
            "< 1 GB at 10,000",
            worker_mb < 1024,
        ),
        (
            f"P5 timer skew ({skew['timers']} timers)",
            f"p50 {_ms(skew['p50'])}, p99 {_ms(skew['p99'])}, max {_ms(skew['max'])}",
            "within 1 s of due",
            skew["max"] is not None and skew["max"] < 1000,
        ),
        (
            f"load generator alone, {CALIBRATION_RATE}/s",
            f"sent {calibration['sent_per_s']:.0f}/s, lateness p99 {_ms(calibration['lateness_p99_ms'])},"
            f" {calibration['client_cpu_seconds']:.1f} CPU s",
            "sends >= 99%, lateness p99 < 10 ms",
            calibration["sent_per_s"] >= 0.99 * CALIBRATION_RATE and calibration["lateness_p99_ms"] < 10,
        ),
    ]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([lines[0], "  ".join("-" * width for width in widths), *lines[1:]])


def _rates_table(
    title: str, rows: list[dict[str, Any]], extra: dict[str, Callable[[dict[str, Any]], str]]
) -> str:
    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    header = ["offered/s", "sent/s", "answered/s", "p50", "p95", "p99", "max", "errors", "late p99",
              "client CPU s", *extra]  # fmt: skip
    body = [
        [
            f"{row['offered_per_s']:g}",
            number(row["sent_per_s"]),
            number(row["answered_per_s"]),
            _ms(row["p50_ms"]),
            _ms(row["p95_ms"]),
            _ms(row["p99_ms"]),
            _ms(row["max_ms"]),
            str(row["errors"]),
            _ms(row["lateness_p99_ms"]),
            f"{row['client_cpu_seconds']:.1f}",
            *(cell(row) for cell in extra.values()),
        ]
        for row in rows
    ]
    return f"{title}\n{_table([header, *body])}"


def _report(results: dict[str, Any], goals: list[tuple[str, str, str, bool]]) -> str:
    waiting = results["waiting"]
    rss = [["part", "before MB", "peak MB", "end MB"]] + [
        [part, f"{waiting['rss_mb_before'][part]:,.0f}", f"{mb:,.0f}", f"{waiting['rss_mb_end'][part]:,.0f}"]
        for part, mb in waiting["rss_mb_peak"].items()
    ]
    return "\n\n".join(
        [
            _table(
                [
                    ["what", "figure", "goal", "holds"],
                    *([*row[:3], "yes" if row[3] else "NO"] for row in goals),
                ]
            ),
            _rates_table(
                "P1 inbound webhooks, open loop (latency from the scheduled send)",
                results["inbound"],
                {
                    "lost/dup/unrelayed": lambda r: f"{r['lost']}/{r['duplicated']}/{r['not_relayed']}",
                    "relay drained": lambda r: (
                        "-" if r["relay_drained_s"] is None else f"{r['relay_drained_s']:.1f} s"
                    ),
                },
            ),
            _rates_table(
                "P2 status callbacks, open loop",
                results["statuses"],
                {"applied": lambda r: str(r["applied"])},
            ),
            _rates_table(
                "raw Temporal: trivial one-activity workflows, open loop (start to result;"
                " CPU includes this process's worker)",
                results["raw_open_loop"],
                {},
            ),
            f"P5: {waiting['interactions']:,} interactions posted at {waiting['posted_per_s']:.0f}/s,"
            f" relay drained {waiting['relay_drained_after_posting_s']:.0f} s after;"
            f" {waiting['open_interaction_workflows']:,} interaction workflows running at the end;"
            f" RSS per part (process tree)\n{_table(rss)}",
            _rates_table(
                "the load generator alone, against a server that answers at once",
                [results["generator_calibration"]],
                {},
            ),
            f"load average before {results['load_before']}, after {results['load_after']}",
        ]
    )


def _series(rows: list[dict[str, Any]]) -> list[tuple[float, float | None, float | None, bool]]:
    return [(row["offered_per_s"], row["p50_ms"], row["p99_ms"], row["errors"] > 0) for row in rows]


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
    load_before = os.getloadavg()
    stack = EmbeddedStack(settings, temporal_ui=False, quiet=True)
    print(f"The load generator alone: {CALIBRATION_RATE}/s for {CALIBRATION_SECONDS} s ...", flush=True)
    started = time.perf_counter()
    # The generator process is spawned, not forked: this process runs the Temporal client's threads.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as generator:
        calibration = _calibrate(generator)
        print(f"Starting the embedded stack in {data_dir} ...", flush=True)
        try:
            stack.start()
            results = asyncio.run(_measure(stack, sizes, generator))
        finally:
            stack.stop()
    results |= {
        "generator_calibration": calibration,
        "quick": sizes is QUICK,
        "sizes": asdict(sizes),
        "seconds": time.perf_counter() - started,
        "load_before": [round(load, 2) for load in load_before],
        "load_after": [round(load, 2) for load in os.getloadavg()],
    }
    goals = _goals(results, sizes)
    results["goals"] = [dict(zip(("what", "figure", "goal", "holds"), goal, strict=True)) for goal in goals]
    OUT.mkdir(exist_ok=True)
    (OUT / "bench.json").write_text(json.dumps(results, indent=2))
    print(_report(results, goals))
    series = [
        Series("Shareline inbound", "#1f6fb4", _series(results["inbound"])),
        Series("status callbacks", "#2a9d4a", _series(results["statuses"])),
        Series("raw Temporal", "#d0561c", _series(results["raw_open_loop"])),
    ]
    kind = "--quick" if sizes is QUICK else "full"
    CHART.write_text(
        chart(f"make bench ({kind}): latency vs offered rate, Shareline vs raw Temporal", series)
    )
    print(f"wrote {OUT / 'bench.json'} and {CHART}")


if __name__ == "__main__":
    main()
