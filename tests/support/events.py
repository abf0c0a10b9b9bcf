"""An event stream as a test reads it (opened with a ticket, as EventSource does): an agent's own
(`/api/agents/me/events`) or a spy's (`/api/whatsapp/interactions/{id}/events`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx

from models.events import CHANNEL
from settings import Settings
from tests.helpers import db, wait_for


class EventStream:
    """An open event stream, collecting events as they arrive."""

    def __init__(self, base_url: str, token: str, path: str = "/api/agents/me/events") -> None:
        self.base_url, self.token, self.path = base_url, token, path
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(5, read=None)) as http:
            await self._stream(http)

    async def _stream(self, http: httpx.AsyncClient) -> None:
        """Opened the way a browser's EventSource opens it: with a ticket, no header."""
        auth = {"Authorization": f"Bearer {self.token}"}
        ticket = (await http.post("/api/agents/me/events/ticket", headers=auth)).json()["ticket"]
        async with http.stream("GET", self.path, params={"ticket": ticket}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            name = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name:
                    self.events.append((name, json.loads(line.removeprefix("data: "))))

    async def __aenter__(self) -> EventStream:
        self.task = asyncio.create_task(self._read())
        await wait_for(self._ready)
        return self

    async def _ready(self) -> bool:
        return any(name == "ready" for name, _ in self.events)

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def next(self, name: str) -> dict[str, Any]:
        async def found() -> dict[str, Any]:
            return next((data for event, data in self.events if event == name), {})

        return await wait_for(found)


async def listener_pid(settings: Settings) -> int | None:
    """The hub's LISTEN connection (the worker's inbound relay LISTENs too, on its own channel)."""
    with db(settings) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE query = %s AND datname = current_database()",
            (f"LISTEN {CHANNEL}",),
        ).fetchone()
    return row[0] if row else None
