"""`make demo`: the embedded stack of `make run` plus a simulated provider, seeded and busy.

The simulator (demo/simulator.py) listens on loopback first, so the stack is started pointing at
it: the Twilio, Meta and Sinch API bases, the media allow-list and SHARELINE_DEMO_SIMULATOR_URL
(demo mode: /demo/phone). Then the contact center is seeded through the public API, simulated
agents go online and simulated customers write in. Data lives in .shareline-demo/ unless
SHARELINE_DATA_DIR says otherwise. Knobs: SHARELINE_DEMO_RATE (customer messages a minute,
default 3; 0 for none), SHARELINE_DEMO_AGENTS (0 to 3, default 3). Ctrl-C stops it all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import uvicorn

from demo.agents import SimulatedAgent
from demo.customers import SimulatedCustomers
from demo.seed import SIMULATED_AGENTS, seed
from demo.simulator import Simulator
from settings import Settings
from stack.processes import EmbeddedStack, StackFailed, StopRequested

T = TypeVar("T")
DEFAULT_DATA_DIR = ".shareline-demo"


class Background:
    """An event loop in a thread of its own for the simulator, the agents and the customers, while
    the main thread supervises the stack (EmbeddedStack is synchronous)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="demo", daemon=True)
        self.thread.start()
        self.running: list[Future[Any]] = []

    def run(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        self.running.append(asyncio.run_coroutine_threadsafe(work, self.loop))

    def stop(self) -> None:
        for future in self.running:
            future.cancel()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def serve(simulator: Simulator, port: int) -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(simulator.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    asyncio.get_running_loop().create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    simulator.base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    return server


async def shut(server: uvicorn.Server, simulator: Simulator) -> None:
    await simulator.aclose()
    server.should_exit = True
    await asyncio.sleep(0.2)


def kept_secret(data_dir: Path, name: str) -> str:
    """A password generated on the first demo and kept in the data dir, so a second start signs in."""
    path = data_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def demo_environment(simulator_url: str, data_dir: Path) -> dict[str, str]:
    """What the stack's processes must be told to talk to the simulator."""
    allowed = [h for h in os.environ.get("SHARELINE_MEDIA_ALLOWED_HOSTS", "").split(",") if h.strip()]
    return {
        "SHARELINE_DATA_DIR": str(data_dir),
        "SHARELINE_DEMO_SIMULATOR_URL": simulator_url,
        "SHARELINE_TWILIO_API_BASE": f"{simulator_url}/twilio",
        "SHARELINE_META_GRAPH_BASE": f"{simulator_url}/graph",
        "SHARELINE_SINCH_AUTH_BASE": f"{simulator_url}/sinch-auth",
        "SHARELINE_MEDIA_ALLOWED_HOSTS": ",".join([*allowed, urlsplit(simulator_url).netloc]),
        "SHARELINE_ADMIN_PASSWORD": os.environ.get("SHARELINE_ADMIN_PASSWORD")
        or kept_secret(data_dir, "demo-admin-password"),
    }


async def start_floor(
    background: Background, api_url: str, admin_password: str, simulator: Simulator, person_password: str
) -> tuple[tuple[str, str], list[str]]:
    rate = float(os.environ.get("SHARELINE_DEMO_RATE", "3"))
    agents = max(0, min(int(os.environ.get("SHARELINE_DEMO_AGENTS", str(len(SIMULATED_AGENTS)))), 3))
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        seeded = await seed(http, admin_password, simulator, api_url, person_password, agents=agents)
    for username, password in seeded.agents:
        agent = SimulatedAgent(api_url, username, password, seeded.answers, seeded.dispositions)
        background.spawn(agent.run())
    background.spawn(SimulatedCustomers(simulator, rate).run())
    return seeded.person, [name for name, _ in seeded.agents]


def say(line: str) -> None:
    print(line, flush=True)  # noqa: T201 (the demo's console)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="demo: %(message)s")
    logging.getLogger("shareline.demo").setLevel(logging.INFO)
    data_dir = Path(os.environ.get("SHARELINE_DATA_DIR") or DEFAULT_DATA_DIR).resolve()
    started = time.monotonic()
    background = Background()
    simulator = Simulator()
    server = background.run(serve(simulator, int(os.environ.get("SHARELINE_DEMO_SIMULATOR_PORT", "0"))))
    os.environ.update(demo_environment(simulator.base_url, data_dir))
    settings = Settings()
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    os.environ.setdefault("SHARELINE_PUBLIC_URL", api_url)
    stack = EmbeddedStack(Settings())

    def request_stop(signum: int, _: FrameType | None) -> None:
        stack.request_stop()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        assert settings.admin_password is not None
        person, agent_names = background.run(
            start_floor(
                background,
                api_url,
                settings.admin_password.get_secret_value(),
                simulator,
                kept_secret(data_dir, "demo-person-password"),
            ),
            timeout=120,
        )
        say(f"Shareline demo is up in {time.monotonic() - started:.1f}s (data in {data_dir})")
        say(f"  Agent desk:      {api_url}/desk/")
        say(f"  Sign in as:      {person[0]} / {person[1]}")
        say(f"  Customer phone:  {api_url}/demo/phone")
        say(f"  Console:         {api_url}/console/  (admin / {settings.admin_password.get_secret_value()})")
        if stack.embedded_temporal:
            say(f"  Temporal UI:     http://127.0.0.1:{settings.temporal_ui_port}")
        say(f"  Simulated provider (Twilio, Sinch, Meta, Kaleyra): {simulator.base_url}")
        say(
            f"  Simulated agents: {', '.join(agent_names) or 'none'}; customers write"
            f" ~{os.environ.get('SHARELINE_DEMO_RATE', '3')} messages/min (SHARELINE_DEMO_RATE)"
        )
        say("Ctrl-C stops everything.")
        stack.supervise()
        return 0
    except StopRequested:
        return 0
    except StackFailed as failed:
        say(f"supervisor: {failed}")
        return 1
    finally:
        say("Stopping the demo...")
        try:
            background.run(shut(server, simulator), timeout=5)
        finally:
            background.stop()
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
