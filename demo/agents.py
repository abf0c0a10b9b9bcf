"""Simulated agents: API clients that work like a person at the desk, at a person's pace.

Each signs in, goes online and keeps its event stream open (that is how Shareline knows it is
there); an offer is accepted after a few seconds, the customer is greeted, every new message is
answered after "typing" for a while, and the conversation is closed with a disposition once the
customer has been quiet or after a few turns. `pace` scales every wait (tests run at 0.05).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from demo.seed import login
from demo.simulator import PERSON_MOBILES

log = logging.getLogger("shareline.demo.agents")

MAX_TURNS = 4
REPLIES = (
    "Let me check that for you.",
    "I see. Could you give me your order number, please?",
    "Thanks! I have found it: everything looks fine on our side.",
    "Is there anything else I can help you with?",
)


@dataclass
class SimulatedAgent:
    base_url: str
    username: str
    password: str
    answers: dict[int, list[str]]  # account id → canned answer texts
    dispositions: dict[int, list[int]]  # account id → disposition ids
    pace: float = 1.0
    # Offers from these mobiles (the person's phone on /demo/phone) are left a while to the person.
    leave_to_person: frozenset[str] = frozenset(PERSON_MOBILES.values())
    rng: random.Random = field(default_factory=random.Random)
    accepted: list[int] = field(default_factory=list)  # interaction ids, for tests and the log
    closed: list[int] = field(default_factory=list)
    full_name: str = ""
    _headers: dict[str, str] = field(default_factory=dict)
    _working: set[int] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def _wait(self, low: float, high: float) -> None:
        await asyncio.sleep(self.pace * self.rng.uniform(low, high))

    async def run(self) -> None:
        """Work until cancelled; a lost stream or API (restarted by the supervisor) is reconnected."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(10, read=None)) as http:
            backoff = 0.5
            try:
                while True:
                    try:
                        await self._shift(http)
                        backoff = 0.5
                    except (httpx.HTTPError, RuntimeError) as error:
                        log.info("%s: %s; reconnecting", self.username, error)
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 8.0)
            finally:
                for task in list(self._tasks):
                    task.cancel()

    async def _shift(self, http: httpx.AsyncClient) -> None:
        headers = await login(http, self.username, self.password)
        if headers is None:
            raise RuntimeError("cannot sign in")
        self._headers = headers
        me = (await http.get("/api/agents/me", headers=headers)).json()
        self.full_name = me["full_name"]
        status = await http.put("/api/agents/me/status", json={"status": "online"}, headers=headers)
        if status.status_code != 200:
            raise RuntimeError(f"cannot go online: {status.text}")
        await self._resume_open(http)
        ticket = (await http.post("/api/agents/me/events/ticket", headers=headers)).json()["ticket"]
        async with http.stream("GET", "/api/agents/me/events", params={"ticket": ticket}) as response:
            if response.status_code != 200:
                raise RuntimeError(f"event stream answered {response.status_code}")
            name = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "offer":
                    self._start(self._take_offer(http, json.loads(line.removeprefix("data: "))))
                elif line.startswith("data: ") and name == "resync":
                    await self._resume_open(http)
        raise RuntimeError("the event stream ended")

    def _start(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("%s dropped a conversation: %s", self.username, error)

    async def _resume_open(self, http: httpx.AsyncClient) -> None:
        """Carry on with conversations this agent owns (after a reconnect or a restart)."""
        me = (await http.get("/api/agents/me", headers=self._headers)).json()
        listed = await http.get(
            "/api/whatsapp/interactions",
            params={"agent_id": me["id"], "status": "open"},
            headers=self._headers,
        )
        for row in listed.json().get("rows", []):
            if row["owner_id"] == me["id"] and row["id"] not in self._working:
                self._start(self._converse(http, row["id"], row["account_id"], greeted=True))

    async def _take_offer(self, http: httpx.AsyncClient, offer: dict[str, Any]) -> None:
        interaction_id = int(offer["interaction_id"])
        if interaction_id in self._working:
            return
        if offer.get("contact", {}).get("mobile") in self.leave_to_person:
            await self._wait(10, 14)  # the person's own customer: give them the first go in the desk
        await self._wait(2, 5)  # reading the offer card
        accepted = await http.post(
            f"/api/whatsapp/interactions/{interaction_id}/accept", headers=self._headers
        )
        if accepted.status_code != 200:
            return  # someone was quicker, or it expired
        self.accepted.append(interaction_id)
        interaction = (
            await http.get(f"/api/whatsapp/interactions/{interaction_id}", headers=self._headers)
        ).json()
        log.info("%s accepted interaction %s", self.username, interaction_id)
        await self._converse(http, interaction_id, int(interaction["account_id"]), greeted=False)

    async def _converse(
        self, http: httpx.AsyncClient, interaction_id: int, account_id: int, greeted: bool
    ) -> None:
        self._working.add(interaction_id)
        try:
            seen = {m["id"] for m in await self._messages(http, interaction_id) if m["direction"] == "in"}
            if not greeted:
                await self._wait(3, 7)
                await self._reply(http, interaction_id, f"Hello, this is {self.full_name or self.username}. "
                                  "How can I help you today?")  # fmt: skip
            turns, quiet_since = 0, asyncio.get_running_loop().time()
            while turns < MAX_TURNS:
                await self._wait(2, 3)
                messages = await self._messages(http, interaction_id)
                new = [m for m in messages if m["direction"] == "in" and m["id"] not in seen]
                if new:
                    seen.update(m["id"] for m in new)
                    await self._wait(4, 9)  # typing
                    await self._reply(http, interaction_id, self._answer(account_id, turns))
                    turns += 1
                    quiet_since = asyncio.get_running_loop().time()
                elif asyncio.get_running_loop().time() - quiet_since > 45 * self.pace:
                    break
            await self._wait(2, 5)
            dispositions = self.dispositions.get(account_id)
            closed = await http.post(
                f"/api/whatsapp/interactions/{interaction_id}/close",
                json={"disposition_id": self.rng.choice(dispositions) if dispositions else None},
                headers=self._headers,
            )
            if closed.status_code == 200:
                self.closed.append(interaction_id)
                log.info("%s closed interaction %s", self.username, interaction_id)
        finally:
            self._working.discard(interaction_id)

    def _answer(self, account_id: int, turn: int) -> str:
        canned = self.answers.get(account_id) or []
        if canned and self.rng.random() < 0.4:
            return self.rng.choice(canned)
        return REPLIES[min(turn, len(REPLIES) - 1)]

    async def _messages(self, http: httpx.AsyncClient, interaction_id: int) -> list[dict[str, Any]]:
        response = await http.get(
            f"/api/whatsapp/interactions/{interaction_id}/messages",
            params={"limit": 1000},
            headers=self._headers,
        )
        if response.status_code != 200:
            raise RuntimeError(f"messages of {interaction_id}: {response.status_code}")
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows

    async def _reply(self, http: httpx.AsyncClient, interaction_id: int, text: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            await http.post(
                f"/api/whatsapp/interactions/{interaction_id}/messages",
                json={"text": text},
                headers=self._headers,
            )
