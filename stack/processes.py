"""The embedded stack as processes: PostgreSQL, the Temporal dev server, the API and the worker.

Used by `make run` (stack.run) and `make bench` (stack.bench). Children get their own session
(Ctrl-C reaches only the supervisor, which stops them in order) and die with the supervisor.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from settings import Settings
from stack.migrate import migrate
from stack.postgres import EmbeddedPostgres

BIN = Path(sys.executable).parent
PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 15


def _die_with_parent() -> None:
    os.setsid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_for_port(host: str, port: int, timeout: float, child: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            raise RuntimeError(f"process {child.args!r} exited with {child.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class EmbeddedStack:
    settings: Settings
    temporal_ui: bool = True
    quiet: bool = False
    env: dict[str, str] = field(default_factory=dict)
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    postgres: EmbeddedPostgres | None = None

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.resolve()

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def embedded_temporal(self) -> bool:
        return "SHARELINE_TEMPORAL_ADDRESS" not in os.environ

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        output = subprocess.DEVNULL if self.quiet else None
        # preexec_fn is safe here: the supervisor starts no threads before it spawns children.
        child = subprocess.Popen(
            argv,
            env=self.env,
            stdout=output,
            stderr=output,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        self.children.append((name, child))
        return child

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "SHARELINE_DATA_DIR": str(self.data_dir)}
        if self.settings.database_url is None:
            self.postgres = EmbeddedPostgres(self.data_dir / "pg")
            self.env["SHARELINE_DATABASE_URL"] = self.postgres.ensure_database("shareline")
        if self.embedded_temporal:
            host, port = "127.0.0.1", self.settings.temporal_port
            ui = ["--ui-port", str(self.settings.temporal_ui_port)] if self.temporal_ui else ["--headless"]
            temporal = self._spawn(
                "temporal",
                [
                    str(BIN / "temporal"), "server", "start-dev",
                    "--db-filename", str(self.data_dir / "temporal.db"),
                    "--ip", host, "--port", str(port), *ui,
                    "--namespace", self.settings.temporal_namespace,
                    "--log-level", "warn", "--ui-disable-news-fetch",
                ],
            )  # fmt: skip
            wait_for_port(host, port, 60, temporal)
            self.env["SHARELINE_TEMPORAL_ADDRESS"] = f"{host}:{port}"
        self.settings = self.settings.model_copy(
            update={
                "database_url": self.env["SHARELINE_DATABASE_URL"],
                "temporal_address": self.env.get(
                    "SHARELINE_TEMPORAL_ADDRESS", self.settings.temporal_address
                ),
            }
        )
        asyncio.run(migrate(self.settings))
        api = self._spawn(
            "api",
            [
                str(BIN / "uvicorn"), "--factory", "api.app:create_app", "--host", self.settings.api_host,
                "--port", str(self.settings.api_port), "--workers", str(self.settings.api_workers),
                "--log-level", "warning", "--no-access-log",
            ],
        )  # fmt: skip
        self._spawn("worker", [str(BIN / "python"), "worker.py"])
        wait_for_port(self.settings.api_host, self.settings.api_port, 30, api)

    def dead_child(self) -> tuple[str, int] | None:
        for name, child in self.children:
            if child.poll() is not None:
                return name, child.returncode
        return None

    def stop(self) -> None:
        """Worker and API first, Temporal after them, PostgreSQL last."""
        for name, child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
            try:
                child.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it")
                child.kill()
                child.wait()
        self.children.clear()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
