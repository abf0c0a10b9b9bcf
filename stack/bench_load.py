"""The open-loop load of `make bench`: requests sent on a fixed schedule, answered or not.

Request i is due at t0 + i / rate. The scheduler sleeps until the next request is due, then
starts every request whose time has come (a late wake-up sends the overdue ones at once, so
timer granularity never lowers the offered rate); it never waits for an answer before sending
the next one. Each request's latency runs from its *due* time, not from when it left, so a slow
client or a backlog shows in the figures instead of thinning the load; how late each one left
(`lateness`) is recorded too, and says whether the client kept its schedule.

HTTP load runs in a process of its own (`offer`, through a spawn-started process pool) on
uvloop, with a client written for it: pre-encoded HTTP/1.1 requests on keep-alive connections,
a new connection whenever none is idle, responses read by Content-Length. Against a server that
answers at once, on this 2-core machine, 5,000 requests at 1,000/s: this client sent 995/s,
lateness p99 2 ms, 1.2 CPU seconds (0.24 ms a request); httpx (one AsyncClient, no connection
limit) sent only 805/s, fell 4 s behind and spent 15 CPU seconds, the core the measured server
needs. Each `Offered` reports its client's CPU seconds and lateness, so every run shows it.

There is no concurrency cap below MAX_IN_FLIGHT, a safety valve: a request due while that many
are unanswered is counted as an error, unsent (the latency goals broke long before), and one
unanswered after REQUEST_TIMEOUT_SECONDS is abandoned as an error.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import uvloop

START_DELAY_SECONDS = 0.2  # between scheduling and the first due time: the pool of tasks is set up
MAX_IN_FLIGHT = 2000
REQUEST_TIMEOUT_SECONDS = 10.0
# uvicorn closes a keep-alive connection idle for 5 s; an idle connection older than this is
# closed by the client instead of being reused into a race with the server's close.
IDLE_REUSE_SECONDS = 2.0


@dataclass
class Offered:
    """One open-loop run: what was offered, what came back, and how well the client kept time."""

    rate: float
    count: int
    latencies_ms: list[float | None] = field(default_factory=list)  # from the due time; None: failed
    lateness_ms: list[float] = field(default_factory=list)  # how late each request left
    errors: Counter[str] = field(default_factory=Counter)
    last_sent: float = 0.0  # seconds after t0
    last_answer: float = 0.0  # seconds after t0
    client_cpu_seconds: float = 0.0

    @property
    def answered(self) -> list[int]:
        """The requests that succeeded, by index."""
        return [i for i, latency in enumerate(self.latencies_ms) if latency is not None]

    def summary(self) -> dict[str, Any]:
        """The figures the bench prints and keeps: rates, latency percentiles, errors, lateness."""
        answered = [latency for latency in self.latencies_ms if latency is not None]
        return {
            "offered_per_s": self.rate,
            "requests": self.count,
            "sent_per_s": self.count / self.last_sent if self.last_sent else None,
            "answered": len(answered),
            "answered_per_s": len(answered) / self.last_answer if self.last_answer else 0.0,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            **{f"p{p}_ms": percentile(answered, p) for p in (50, 95, 99)},
            "max_ms": max(answered, default=None),
            "lateness_p99_ms": percentile(self.lateness_ms, 99),
            "lateness_max_ms": max(self.lateness_ms, default=None),
            "client_cpu_seconds": self.client_cpu_seconds,
        }


def percentile(samples: list[float], p: int) -> float | None:
    """The p-th percentile (interpolated between the closest ranks); None without two samples."""
    if len(samples) < 2:
        return samples[0] if samples else None
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


async def open_loop(rate: float, count: int, send: Callable[[int], Awaitable[None]]) -> Offered:
    """Call `send(i)` for i in range(count), each at its due time t0 + i / rate; a call that
    raises (or outlives REQUEST_TIMEOUT_SECONDS) is counted under its error's name."""
    clock = time.perf_counter  # uvloop's loop.time() counts whole milliseconds
    result = Offered(rate, count, [None] * count, [0.0] * count)
    in_flight = 0
    t0 = clock() + START_DELAY_SECONDS

    async def one(i: int, due: float) -> None:
        nonlocal in_flight
        started = clock()
        result.lateness_ms[i] = (started - due) * 1000
        result.last_sent = max(result.last_sent, started - t0)
        if in_flight >= MAX_IN_FLIGHT:
            result.errors[f"unsent: {MAX_IN_FLIGHT} in flight"] += 1
            return
        in_flight += 1
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                await send(i)
        except Exception as error:  # every failure is a figure here, none stops the run
            result.errors[type(error).__name__ if str(error) == "" else str(error)[:80]] += 1
        else:
            answered = clock()
            result.latencies_ms[i] = (answered - due) * 1000
            result.last_answer = max(result.last_answer, answered - t0)
        finally:
            in_flight -= 1

    tasks = []
    cpu = time.process_time()
    i = 0
    while i < count:
        now = clock()
        while i < count and t0 + i / rate <= now:
            tasks.append(asyncio.create_task(one(i, t0 + i / rate)))
            i += 1
        if i < count:
            await asyncio.sleep(t0 + i / rate - clock())
    await asyncio.gather(*tasks)
    result.client_cpu_seconds = time.process_time() - cpu
    return result


class HttpError(Exception):
    """An answer other than 2xx: its message is the status code, so errors group by status."""


class Connections:
    """Keep-alive HTTP/1.1 connections to one server: an idle one is reused, else one is opened."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer, since = self._idle.pop()  # the most recently used first
            if time.monotonic() - since < IDLE_REUSE_SECONDS:
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self._host, self._port)

    async def send(self, request: bytes) -> None:
        """Send one encoded request and read its answer; raise HttpError unless it is 2xx."""
        reader, writer = await self._connection()
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.lower().split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
        except BaseException:  # a broken or abandoned (timed-out) exchange: the connection goes
            writer.close()
            raise
        if b"connection: close" in head.lower():
            writer.close()
        else:
            self._idle.append((reader, writer, time.monotonic()))
        status = int(head[9:12])
        if not 200 <= status < 300:
            raise HttpError(f"HTTP {status}")

    def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


def http_request(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """One POST, encoded as HTTP/1.1 bytes for `Load.requests`."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Load:
    """What `offer` sends: `requests` (encoded by http_request) to host:port at `rate` a second."""

    host: str
    port: int
    rate: float
    requests: list[bytes]


async def _offer(load: Load) -> Offered:
    connections = Connections(load.host, load.port)
    try:
        return await open_loop(load.rate, len(load.requests), lambda i: connections.send(load.requests[i]))
    finally:
        connections.close()


class _NullServer(asyncio.Protocol):
    """Answers every HTTP/1.1 request at once with `200 {}`: the load generator's calibration."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport, self._buffer = cast(asyncio.WriteTransport, transport), b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self._buffer[:end].lower().split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            self._transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")


async def _serve_null(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_NullServer, host, port)
    await server.serve_forever()


def serve_null(host: str, port: int) -> None:
    """Serve _NullServer on host:port until killed (a process of its own, for the calibration)."""
    uvloop.run(_serve_null(host, port))


def offer(load: Load) -> Offered:
    """Offer `load` open loop on a uvloop event loop of its own (the generator process's entry)."""
    return uvloop.run(_offer(load))
