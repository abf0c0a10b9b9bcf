"""The Temporal worker: hosts Shareline's workflows and activities; SIGTERM drains it gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

import httpx
from temporalio.worker import Worker

from activities import build_activities
from models.db import create_engine, create_sessionmaker
from settings import Settings
from stack.migrate import connect_temporal
from workflows.interaction import InteractionWorkflow

log = logging.getLogger("shareline.worker")

WORKFLOWS = [InteractionWorkflow]


async def run(settings: Settings) -> None:
    client = await connect_temporal(settings)  # waits while Temporal is still starting
    engine = create_engine(settings.sqlalchemy_url)
    http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)  # one per process, shared by activities
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=WORKFLOWS,
            activities=build_activities(settings, create_sessionmaker(engine), http, client),
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
