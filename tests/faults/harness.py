"""The fault tests' harness: a supervised embedded stack on free ports in a temporary data dir, a
Twilio that retries every webhook until it is acknowledged, and the counts that say whether each
acknowledged message was stored once and reached its workflow once.

Everything goes over real HTTP to the stack's API, as a provider and an admin would.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from settings import Settings
from stack.processes import EmbeddedStack, free_port
from tests.conftest import Api
from tests.helpers import db
from tests.webhooks import TWILIO_TOKEN, twilio_message, twilio_signature
from workflows.interaction import InteractionWorkflow

ADMIN_PASSWORD = "faults-admin-password"


class RunningStack:
    """An EmbeddedStack that one thread starts, supervises and stops. One thread, because a child
    dies with the thread that spawned it (PR_SET_PDEATHSIG), and restarts spawn children."""

    def __init__(self, data_dir: Path, **options: Any) -> None:
        api_port = free_port()
        settings = Settings(
            data_dir=data_dir,
            api_port=api_port,
            temporal_port=free_port(),
            admin_password=ADMIN_PASSWORD,
            public_url=f"http://127.0.0.1:{api_port}",  # receive URLs the provider can call
        )
        self.stack = EmbeddedStack(settings, temporal_ui=False, quiet=True, **options)
        self.failure: BaseException | None = None  # what ended supervision, if not a stop
        self.stop_seconds: float | None = None
        self._up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def _run(self) -> None:
        try:
            self.stack.start()
            self._up.set()
            self.stack.supervise()
        except BaseException as error:
            self.failure = error
        finally:
            began = time.monotonic()
            self.stack.stop()
            self.stop_seconds = time.monotonic() - began
            self._up.set()

    def __enter__(self) -> RunningStack:
        self._thread.start()
        assert self._up.wait(180), "the stack did not start in 180 s"
        if self.failure is not None:
            raise self.failure
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    @property
    def supervising(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> float:
        """Stop the stack the way Ctrl-C does; return how long the stop took (seconds)."""
        self.stack.request_stop()
        self._thread.join(120)
        assert not self._thread.is_alive(), "the stack did not stop in 120 s"
        assert self.stop_seconds is not None
        return self.stop_seconds

    def restarted(self, name: str) -> int:
        """How many times the supervisor brought `name` back."""
        return sum(1 for r in self.stack.restarts if r.part == name and r.back_at is not None)

    async def wait_back(self, name: str, restarted_before: int, seconds: float = 60) -> float:
        """Wait until the supervisor has brought `name` back once more: how long it was down."""
        await until(lambda: self.restarted(name) > restarted_before, seconds, f"{name} restarted")
        restart = [r for r in self.stack.restarts if r.part == name and r.back_at is not None][-1]
        assert restart.back_at is not None
        return restart.back_at - restart.died_at

    async def kill_and_wait_back(self, name: str, seconds: float = 60) -> float:
        """SIGKILL part `name` and wait until it runs again: how long it was down."""
        before = self.restarted(name)
        self.stack.kill(name)
        return await self.wait_back(name, before, seconds)

    async def temporal(self) -> Client:
        return await Client.connect(self.stack.settings.temporal_address)


def report(line: str) -> None:
    """Figures for the record (shown with `pytest -s` or `-rP`)."""
    print(line)  # noqa: T201


async def until(predicate: Callable[[], Awaitable[Any] | Any], seconds: float, what: str) -> Any:
    """Poll `predicate`, sync or async (an error counts as not yet), until it returns something
    truthy."""
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            last = result
        except Exception as error:
            last = error
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {seconds:.0f} s: {what} (last: {last!r})")


# The floor: an account, an agent and a plan, made by the admin over HTTP ---------------------------


async def admin_api(http: httpx.AsyncClient) -> tuple[Api, dict[str, str]]:
    api = Api(http)
    return api, await api.login("admin", ADMIN_PASSWORD)


async def twilio_account(api: Api, admin: dict[str, str], key: str, plan: str) -> dict[str, Any]:
    """A Twilio account `key` with one agent (offline) in its account and queue, and a plan:
    `queue-then-close` (the queue step's 3 s timer, then close) or `none` (messages are only
    counted by their workflow)."""
    contacts = await api.create(admin, "/api/cm/lists", {"name": f"Faults {key}"})
    account = await api.create(
        admin,
        "/api/whatsapp/accounts",
        {
            "name": f"Faults {key}",
            "key": key,
            "list_id": contacts["id"],
            "type": "twilio",
            "phone": "14155238886",
            "credentials": {"account_sid": "AC0123456789", "auth_token": TWILIO_TOKEN},
        },
    )
    agent_id, _ = await api.user(admin, f"agent-{key.lower()}")
    queue = await api.create(admin, "/api/whatsapp/queues", {"name": f"Q {key}", "strategy": "beepall"})
    for path in (
        f"/api/whatsapp/accounts/{account['id']}/agents",
        f"/api/whatsapp/queues/{queue['id']}/agents",
    ):
        response = await api.http.post(path, json={"ids": [agent_id]}, headers=admin)
        assert response.is_success, response.text
    if plan == "queue-then-close":
        steps = [
            {"application": "queue", "params": {"queue_id": queue["id"], "timeout": 3}},
            {"application": "close", "params": {}},
        ]
        response = await api.http.put(
            f"/api/whatsapp/accounts/{account['id']}/actions", json=steps, headers=admin
        )
        assert response.is_success, response.text
    return account


# The provider -------------------------------------------------------------------------------------


@dataclass
class Delivery:
    sid: str
    mobile: str
    attempts: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # "503", "ConnectError", ...
    acknowledged_at: float | None = None  # time.monotonic()


class RetryingProvider:
    """Twilio delivering inbound messages to one account: each webhook is signed with the account's
    auth token and posted to its receive URL, again and again (same MessageSid) until a 2xx."""

    def __init__(self, http: httpx.AsyncClient, account: dict[str, Any], give_up_after: float = 240) -> None:
        self.http, self.account, self.give_up_after = http, account, give_up_after
        self.deliveries: list[Delivery] = []

    async def deliver(self, sid: str, mobile: str, body: str = "hello") -> Delivery:
        delivery = Delivery(sid, mobile)
        self.deliveries.append(delivery)
        params = twilio_message(sid, body, mobile=mobile)
        url = self.account["receive_url"]
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, params),
        }
        deadline, pause = time.monotonic() + self.give_up_after, 0.2
        while True:
            delivery.attempts += 1
            try:
                response = await self.http.post(url, content=urlencode(params), headers=headers)
                if response.is_success:
                    delivery.acknowledged_at = time.monotonic()
                    return delivery
                delivery.failures[str(response.status_code)] += 1
            except httpx.TransportError as error:  # refused while the API restarts, or cut mid-answer
                delivery.failures[type(error).__name__] += 1
            if time.monotonic() > deadline:
                return delivery
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


def new_sid() -> str:
    return f"SM{uuid.uuid4().hex}"


# What the stack made of it ------------------------------------------------------------------------


@dataclass
class Stored:
    rows: Counter[str]  # provider message id -> rows
    signalled: set[str]
    by_interaction: Counter[int]  # interaction id -> inbound messages stored
    closed: set[int]  # interactions closed


def stored(settings: Settings, account_id: int) -> Stored:
    with db(settings) as conn:
        messages = conn.execute(
            "SELECT m.provider_message_id, m.signalled_at IS NOT NULL, m.interaction_id, i.status"
            " FROM messages m JOIN interactions i ON i.id = m.interaction_id WHERE m.account_id = %s AND m.direction = 'in'",
            (account_id,),
        ).fetchall()
    result = Stored(Counter(), set(), Counter(), set())
    for sid, signalled, interaction_id, status in messages:
        result.rows[sid] += 1
        if signalled:
            result.signalled.add(sid)
        result.by_interaction[interaction_id] += 1
        if status == "closed":
            result.closed.add(interaction_id)
    return result


@dataclass
class Reached:
    """Per interaction, the messages its workflow took, summed over every run of its workflow id
    (a message that reached a workflow twice counts twice): handled, or waiting behind the plan
    (messages that arrive while a queue step waits are taken but not yet handled)."""

    handled: Counter[int] = field(default_factory=Counter)
    pending: Counter[int] = field(default_factory=Counter)

    def took(self, interaction_id: int) -> int:
        return self.handled[interaction_id] + self.pending[interaction_id]


async def reached_workflows(client: Client, account_id: int) -> Reached:
    runs = [
        (execution.id, execution.run_id)
        async for execution in client.list_workflows(f"WorkflowId STARTS_WITH 'wa-{account_id}-'")
    ]
    reached = Reached()
    gate = asyncio.Semaphore(8)  # a closed run's query replays its history on the worker

    async def ask(workflow_id: str, run_id: str | None) -> None:
        async with gate:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            try:
                summary = await handle.query(InteractionWorkflow.summary)
            except RPCError:  # no workflow task completed yet: it has taken nothing so far
                return
        interaction_id = int(workflow_id.rsplit("-", 1)[1])
        reached.handled[interaction_id] += summary.messages_handled
        reached.pending[interaction_id] += summary.messages_pending

    await asyncio.gather(*(ask(workflow_id, run_id) for workflow_id, run_id in runs))
    return reached
