"""Agent events for the API process: one LISTEN connection fans NOTIFYs out to event streams.

Writers (activities, other API processes) NOTIFY on `models.events.CHANNEL` inside their
transactions. Each API process LISTENs once and hands every notification to the streams its
agents hold open, so an agent connected to any process gets its offers. If the listening
connection drops it is re-opened, and every open stream is sent `resync`: what was notified in
the gap is lost, so clients read their state again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

import psycopg

from models.events import CHANNEL

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
STREAM_BUFFER = 100
RESYNC = "resync"


class NotListening(Exception):
    """The hub has no LISTEN connection: notifications are not reaching the streams."""


class AgentEventHub:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._streams: dict[int, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="agent-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self, agent_id: int) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(STREAM_BUFFER)
        self._streams[agent_id].add(queue)
        return queue

    def unsubscribe(self, agent_id: int, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._streams[agent_id].discard(queue)
        if not self._streams[agent_id]:
            del self._streams[agent_id]

    def deliver(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            agent_id = int(message["agent_id"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed agent event")
            return
        item = {"event": message.get("event", "message"), "data": message.get("data", {})}
        for queue in self._streams.get(agent_id, ()):
            _put(queue, item)

    def ensure_listening(self) -> None:
        if not self.listening.is_set():
            raise NotListening

    def _resync_all(self) -> None:
        item = {"event": RESYNC, "data": {"reason": "events may have been missed"}}
        for queues in self._streams.values():
            for queue in queues:
                _put(queue, item)

    async def _listen(self) -> None:
        listened_before = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if listened_before:  # listening again: tell the streams about the gap
                        self._resync_all()
                    listened_before = True
                    async for notify in conn.notifies():
                        self.deliver(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: listen again shortly
                self.listening.clear()
                log.warning("agent event listener lost its connection (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(RECONNECT_SECONDS)


def _put(queue: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
    if queue.full():  # a stalled client: drop its oldest event rather than block everyone
        queue.get_nowait()
    queue.put_nowait(item)
