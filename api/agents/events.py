"""Events for the API process: one LISTEN connection fans NOTIFYs out to event streams.

Writers (activities, other API processes) NOTIFY on `models.events.CHANNEL` inside their
transactions. Each API process LISTENs once and hands every notification to the streams held
open on it: one naming an `agent_id` to that agent's streams (`GET /api/agents/me/events`), one
naming only an `interaction_id` (the database's spy triggers send those) to the streams spying on
that interaction (`GET /api/whatsapp/interactions/{id}/events`); every notification, and one
saying only `floor` (an agent's status or capacity changed), also sets the watchers' events (the
supervisors' live view reads again). One saying `account` (an account changed or went, migration
0016) goes to the account caches (api.webhooks.accounts). So a stream on any process gets its
events. If the listening connection drops it is re-opened, `epoch` counts the connections, and
every open stream is sent `resync`: what was notified in the gap is lost, so clients read their
state again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psycopg

from models.events import CHANNEL

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
STREAM_BUFFER = 100
RESYNC = "resync"

# Whose events a stream receives: ("agent_id", 7) an agent's, ("interaction_id", 12) a spy's.
Topic = tuple[str, int]


def agent_topic(agent_id: int) -> Topic:
    return ("agent_id", agent_id)


def interaction_topic(interaction_id: int) -> Topic:
    return ("interaction_id", interaction_id)


class NotListening(Exception):
    """The hub has no LISTEN connection: notifications are not reaching the streams."""


class AgentEventHub:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._streams: dict[Topic, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._watchers: set[asyncio.Event] = set()
        self._account_listeners: list[Callable[[int], None]] = []
        self.listening = asyncio.Event()
        self.epoch = 0  # LISTEN connections so far: what was heard under an older one may be stale

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="agent-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self, topic: Topic) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(STREAM_BUFFER)
        self._streams[topic].add(queue)
        return queue

    def unsubscribe(self, topic: Topic, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._streams[topic].discard(queue)
        if not self._streams[topic]:
            del self._streams[topic]

    def watch(self) -> asyncio.Event:
        """An event set by every notification, whoever it is for, and by a reconnect: something
        changed (the live view reads again)."""
        changed = asyncio.Event()
        self._watchers.add(changed)
        return changed

    def unwatch(self, changed: asyncio.Event) -> None:
        self._watchers.discard(changed)

    def on_account_change(self, forget: Callable[[int], None]) -> None:
        """Call `forget` with the id of every account notified as changed or deleted."""
        self._account_listeners.append(forget)

    def deliver(self, payload: str) -> None:
        for changed in self._watchers:
            changed.set()
        try:
            message = json.loads(payload)
            if "floor" in message:  # only the watchers care (set above)
                return
            if "account" in message:
                for forget in self._account_listeners:
                    forget(int(message["account"]))
                return
            topic = (
                agent_topic(int(message["agent_id"]))
                if "agent_id" in message
                else interaction_topic(int(message["interaction_id"]))
            )
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed event")
            return
        item = {"event": message.get("event", "message"), "data": message.get("data", {})}
        for queue in self._streams.get(topic, ()):
            put_dropping_oldest(queue, item)

    def ensure_listening(self) -> None:
        if not self.listening.is_set():
            raise NotListening

    def _resync_all(self) -> None:
        for changed in self._watchers:
            changed.set()
        item = {"event": RESYNC, "data": {"reason": "events may have been missed"}}
        for queues in self._streams.values():
            for queue in queues:
                put_dropping_oldest(queue, item)

    async def _listen(self) -> None:
        listened_before = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.epoch += 1
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


def put_dropping_oldest(queue: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
    if queue.full():  # a stalled client: drop its oldest event rather than block everyone
        queue.get_nowait()
    queue.put_nowait(item)
