"""`make run`'s supervisor: each part of the embedded stack that is SIGKILLed comes back on the same
data and ports; a part that keeps dying stops the whole stack; stopping takes seconds, even with
an agent's event stream open."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest

from stack.postgres import process_alive
from stack.processes import StackFailed
from tests.faults.harness import (
    RetryingProvider,
    RunningStack,
    admin_api,
    new_sid,
    reached_workflows,
    report,
    stored,
    twilio_account,
    until,
)
from tests.helpers import db

pytestmark = pytest.mark.slow

PARTS = ("worker", "api", "temporal", "postgres")


async def whole(running: RunningStack, http: httpx.AsyncClient) -> None:
    """Every part answers: the API, PostgreSQL (directly and behind the API), and Temporal."""

    async def healthy() -> bool:
        assert (await http.get("/healthz")).status_code == 200
        with db(running.stack.settings) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone() is not None
        _, admin = await admin_api(http)  # a query through the API's pool
        assert (await http.get("/api/users", headers=admin)).status_code == 200
        client = await running.temporal()
        assert await client.service_client.check_health()
        return True

    await until(healthy, 30, "API, PostgreSQL and Temporal answer")


async def test_each_killed_part_comes_back_and_the_stack_stops_without_a_kill(tmp_path, capsys):
    with RunningStack(tmp_path / "stack") as running:
        stack = running.stack
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
            await whole(running, http)
            api, admin = await admin_api(http)
            account = await twilio_account(api, admin, "SUP", plan="none")
            provider = RetryingProvider(http, account)
            client = await running.temporal()
            downtimes = {}
            for number, name in enumerate(PARTS, start=1):
                pid = stack.pid_of(name)
                assert pid is not None
                downtimes[name] = await running.kill_and_wait_back(name)
                assert stack.pid_of(name) not in (None, pid)
                await whole(running, http)
                # and the whole path works: a message is stored and reaches its workflow
                delivery = await provider.deliver(new_sid(), "3930000001", f"after {name}")
                assert delivery.acknowledged_at is not None

                async def routed(expected: int = number) -> bool:
                    found = stored(stack.settings, account["id"])
                    reached = await reached_workflows(client, account["id"])
                    return len(found.signalled) == expected and sum(reached.handled.values()) == expected

                await until(routed, 60, f"message {number} routed after {name} came back")
            report(f"downtime after SIGKILL (s): { {name: round(s, 1) for name, s in downtimes.items()} }")
            assert [r.part for r in stack.restarts] == list(PARTS)
            assert running.supervising

            # An agent's event stream held open: it used to keep uvicorn from stopping for 15 s.
            _, agent = await api.user(admin, "listener")
            token = agent["Authorization"].removeprefix("Bearer ")
            opened = asyncio.Event()

            async def listen() -> None:
                async with http.stream(
                    "GET", "/api/agents/me/events", headers={"Authorization": f"Bearer {token}"}, timeout=None
                ) as response:
                    async for _ in response.aiter_lines():
                        opened.set()

            listener = asyncio.create_task(listen())
            await asyncio.wait_for(opened.wait(), 10)
            pids = [stack.pid_of(name) for name in PARTS]
            stopped_in = await asyncio.to_thread(running.stop)
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await listener
    report(f"stopped in {stopped_in:.1f} s with an event stream open")
    assert "did not stop" not in capsys.readouterr().out  # the API used to be killed, a stream open
    assert not [pid for pid in pids if pid is not None and process_alive(pid)]


async def test_a_part_that_keeps_dying_stops_the_whole_stack(tmp_path):
    with RunningStack(tmp_path / "stack", restart_limit=2) as running:
        stack = running.stack
        for _ in range(2):
            await running.kill_and_wait_back("worker")
        pids = [stack.pid_of(name) for name in PARTS]
        began = time.monotonic()
        stack.kill("worker")
        await until(lambda: not running.supervising, 30, "the supervisor gave up")
        report(f"gave up and stopped in {time.monotonic() - began:.1f} s: {running.failure}")
        assert isinstance(running.failure, StackFailed)
        assert str(running.failure).startswith("worker was killed by SIGKILL after 2 restarts")
        assert not [pid for pid in pids if pid is not None and process_alive(pid)]
