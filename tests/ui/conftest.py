"""Browser tests of the agent desk: Debian's chromium driven by Playwright, against the real app
(served on loopback in the test's event loop), a real worker, PostgreSQL and Temporal."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():  # noqa: ASYNC240 (one stat, before anything runs)
        message = "the desk's browser tests need Debian's chromium: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def desk_url(app: FastAPI) -> AsyncIterator[str]:
    """The test's app on a loopback port; open event streams are cut 1 s into the shutdown."""
    await app.state.services.events.listening.wait()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                       timeout_graceful_shutdown=1)
    )  # fmt: skip
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    await task


@pytest.fixture
async def new_page(browser: Any, desk_url: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Open a page in a browser context of its own (an agent's own browser); all are closed at
    the end, failed test or not, before the server stops."""
    contexts = []

    async def opened(width: int = 1280, height: int = 720) -> Any:
        context = await browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return await context.new_page()

    yield opened
    for context in contexts:
        await context.close()
