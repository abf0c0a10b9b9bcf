"""The Temporal worker: hosts Shareline's workflows and activities, and the inbound relay that hands
stored messages to their workflows. SIGTERM drains it gracefully: polling stops, and activities
already running get GRACEFUL_SHUTDOWN to finish before they are cancelled (and retried elsewhere)."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

import httpx
import prometheus_client
from temporalio.worker import Worker

from activities import build_activities
from domain import metrics
from models.db import create_engine, create_sessionmaker
from relay.inbound import InboundRelay
from settings import Settings
from stack.migrate import connect_temporal
from workflows.interaction import InteractionWorkflow

log = logging.getLogger("shareline.worker")

WORKFLOWS = [InteractionWorkflow]
# Longer than any provider call takes inside its activity (activities.messages.SEND_DEADLINE), so
# a deploy never cuts a send in flight; shorter than compose's stop_grace_period (30 s), so the
# worker exits before it is killed. Longer activities (a large media download) are cancelled and
# retried by another worker: they are idempotent.
GRACEFUL_SHUTDOWN = timedelta(seconds=25)


async def run(settings: Settings) -> None:
    client = await connect_temporal(settings)  # waits while Temporal is still starting
    engine = create_engine(settings.sqlalchemy_url)
    http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)  # one per process, shared by activities
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sessions = create_sessionmaker(engine)
    relay = InboundRelay(settings, sessions, client)
    if settings.worker_metrics_port is not None:
        prometheus_client.start_http_server(settings.worker_metrics_port, registry=metrics.REGISTRY)
        log.info("worker metrics on port %s", settings.worker_metrics_port)
    try:
        async with (
            Worker(
                client,
                task_queue=settings.temporal_task_queue,
                workflows=WORKFLOWS,
                activities=build_activities(settings, sessions, http, client),
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            ),
            relay.running(),
        ):
            log.info("worker polling task queue %s", settings.temporal_task_queue)
            await stop.wait()
            log.info("worker draining")
    finally:
        await http.aclose()
        await engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run(Settings()))
