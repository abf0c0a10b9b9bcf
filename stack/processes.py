"""The embedded stack as processes: PostgreSQL, the Temporal dev server, the API and the worker.

Used by `make run` (stack.run), `make bench` (stack.bench) and the fault tests (tests/faults).
`supervise()` restarts a part that dies, after a back-off, on the same data directory and ports;
the others keep running (they reconnect). A part that dies again after RESTART_LIMIT restarts
within RESTART_WINDOW_SECONDS stops the whole stack: `StackFailed` names it. The stack never runs
with a part missing unless a restart is under way, and every death and restart is printed.

Children get their own session (Ctrl-C reaches only the supervisor, which stops them in order)
and die with the supervisor (PR_SET_PDEATHSIG). PostgreSQL is not a child: `pg_ctl` detaches
it, so it is watched by the pid in its postmaster.pid.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from settings import Settings
from stack.migrate import migrate
from stack.postgres import EmbeddedPostgres

BIN = Path(sys.executable).parent
STOP_GRACE_SECONDS = 10
# The worker lets running activities finish (worker.GRACEFUL_SHUTDOWN) before it exits; it
# normally exits at once, since activities take milliseconds.
WORKER_STOP_GRACE_SECONDS = 30
# uvicorn waits for open responses before it stops, and an agent's event stream never ends by
# itself: after this long it cancels them (the desk's EventSource reconnects to the next API).
API_SHUTDOWN_SECONDS = 2
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 60.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
# Ready-waits: how long a (re)started part may take before it counts as failed.
TEMPORAL_READY_SECONDS = 60
API_READY_SECONDS = 30

# Runs in each child before its program (execv keeps the setting): SIGTERM when the supervisor
# goes, even by SIGKILL. Done here rather than in preexec_fn, which is unsafe once the supervisor
# has threads (the Temporal client's runtime, a test's event loop).
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit("the supervisor exited before this process started")
os.execv(sys.argv[2], sys.argv[2:])
"""


class StackFailed(RuntimeError):
    """A part of the stack keeps dying; the message names it."""


class StopRequested(Exception):
    """request_stop() came while a part was still getting ready."""


def wait_for_port(
    host: str,
    port: int,
    timeout: float,
    child: subprocess.Popen[bytes] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cancelled():
        if child is not None and child.poll() is not None:
            raise RuntimeError(f"process {child.args!r} exited with {child.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    if cancelled():
        raise StopRequested(f"stopped while waiting for {host}:{port}")
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


# The dev server's SQLite store in write-ahead-log mode: a commit appends to the log instead of
# rewriting pages under a rollback journal, and readers no longer block the writer. Durability is
# kept: `synchronous` stays FULL (the WAL is synced at every commit), so a workflow task, signal
# or timer Temporal acknowledged survives a crash of the server or of the machine.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=full")


def temporal_dev_command(db_file: Path, host: str, port: int) -> list[str]:
    """`temporal server start-dev` on `db_file`, as the embedded stack runs it."""
    pragmas = [arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)]
    return [str(BIN / "temporal"), "server", "start-dev", "--db-filename", str(db_file),
            "--ip", host, "--port", str(port), *pragmas]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _exit_cause(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


def _as_environment(settings: Settings) -> dict[str, str]:
    """The settings this stack was given, as the variables its children read them from."""
    env = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, tuple):  # media_allowed_hosts: read back as a comma-separated list
            value = ",".join(map(str, value))
        if value is not None:
            env[f"SHARELINE_{name.upper()}"] = str(value)
    return env


@dataclass
class Restart:
    """One death of a part, as the supervisor saw it, and when the part ran again."""

    part: str
    cause: str  # "was killed by SIGKILL", "exited with 1", "could not start (...)"
    died_at: float  # time.monotonic()
    back_at: float | None = None  # None while the restart is pending or if it failed


class _Child:
    """A part that is a child process, ready when it listens on `port` (if it has one)."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        quiet: bool,
        port: tuple[str, int] | None = None,
        ready_seconds: float = 0,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.argv, self.env, self.quiet = argv, env, quiet
        self.port, self.ready_seconds, self.stop_grace = port, ready_seconds, stop_grace
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, cancelled: Callable[[], bool]) -> None:
        output = subprocess.DEVNULL if self.quiet else None
        self.process = subprocess.Popen(
            [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *self.argv],
            env=self.env,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        if self.port is None:
            return
        try:
            wait_for_port(*self.port, self.ready_seconds, self.process, cancelled)
        except StopRequested:
            raise  # stop() terminates it with the rest
        except Exception:  # not ready in time: none of it may linger beside the next attempt
            self.process.kill()
            self.process.wait()
            raise

    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def death(self) -> str | None:
        if self.process is None or self.process.poll() is None:
            return None
        return _exit_cause(self.process.returncode)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait_stopped(self, name: str) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(self.stop_grace)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in {self.stop_grace}s; killing it")
            self.process.kill()
            self.process.wait()


class _Postgres:
    def __init__(self, server: EmbeddedPostgres) -> None:
        self.server = server
        self._last_pid = server.pid()

    def start(self, cancelled: Callable[[], bool]) -> None:
        self.server.start()
        self._last_pid = self.server.pid()

    def pid(self) -> int | None:
        return self.server.pid()

    def death(self) -> str | None:
        if self.server.pid() is not None:
            return None
        return f"is gone (postmaster pid {self._last_pid})"

    def terminate(self) -> None:
        """Stopped last, by `pg_ctl stop` in wait_stopped."""

    def wait_stopped(self, name: str) -> None:
        self.server.stop()


_Part = _Child | _Postgres
STOP_ORDER = (("worker", "api"), ("temporal",), ("postgres",))


@dataclass
class EmbeddedStack:
    settings: Settings
    temporal_ui: bool = True
    quiet: bool = False
    restart_limit: int = RESTART_LIMIT
    restart_window: float = RESTART_WINDOW_SECONDS
    env: dict[str, str] = field(default_factory=dict)
    parts: dict[str, _Part] = field(default_factory=dict)  # in start order
    restarts: list[Restart] = field(default_factory=list)
    paused: set[str] = field(default_factory=set)  # parts the supervisor leaves alone
    postgres: EmbeddedPostgres | None = None
    _stop_requested: bool = False

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.resolve()

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def embedded_temporal(self) -> bool:
        return "SHARELINE_TEMPORAL_ADDRESS" not in os.environ

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **_as_environment(self.settings), "SHARELINE_DATA_DIR": str(self.data_dir)}
        if self.settings.database_url is None:
            self.postgres = EmbeddedPostgres(self.data_dir / "pg")
            self.env["SHARELINE_DATABASE_URL"] = self.postgres.ensure_database("shareline")
            self.parts["postgres"] = _Postgres(self.postgres)
        if self.embedded_temporal:
            host, port = "127.0.0.1", self.settings.temporal_port
            ui = ["--ui-port", str(self.settings.temporal_ui_port)] if self.temporal_ui else ["--headless"]
            command = [
                *temporal_dev_command(self.data_dir / "temporal.db", host, port), *ui,
                "--namespace", self.settings.temporal_namespace,
                "--log-level", "warn", "--ui-disable-news-fetch",
            ]  # fmt: skip
            self._start_child(
                "temporal", _Child(command, self.env, self.quiet, (host, port), TEMPORAL_READY_SECONDS)
            )
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
        api_port = (self.settings.api_host, self.settings.api_port)
        worker = _Child(
            [str(BIN / "python"), "worker.py"], self.env, self.quiet, stop_grace=WORKER_STOP_GRACE_SECONDS
        )
        self._start_child("worker", worker)
        self._start_child(
            "api",
            _Child(
                [
                    str(BIN / "uvicorn"), "--factory", "api.app:create_app", "--host", api_port[0],
                    "--port", str(api_port[1]), "--workers", str(self.settings.api_workers),
                    "--timeout-graceful-shutdown", str(API_SHUTDOWN_SECONDS),
                    "--log-level", "warning", "--no-access-log",
                ],
                self.env, self.quiet, api_port, API_READY_SECONDS,
            ),
        )  # fmt: skip

    def _start_child(self, name: str, child: _Child) -> None:
        self.parts[name] = child  # first, so that stop() finds it if its ready-wait fails
        child.start(lambda: self._stop_requested)

    # Supervision ----------------------------------------------------------------------------------

    def supervise(self, poll_seconds: float = 0.2) -> None:
        """Watch the parts until `request_stop()`: restart each one that dies after a back-off
        (0.5 s, doubling up to 8 s with each recent restart). Raises StackFailed when a part dies
        again after `restart_limit` restarts within `restart_window` seconds. Call stop() after."""
        due: dict[str, float] = {}  # part -> when its pending restart is due
        while not self._stop_requested:
            for name, part in list(self.parts.items()):
                if name in self.paused:
                    continue
                if name in due:
                    if time.monotonic() >= due[name]:
                        self._restart(name, part, due)
                elif (cause := part.death()) is not None:
                    self._died(name, cause, due)
            time.sleep(poll_seconds)

    def _died(self, name: str, cause: str, due: dict[str, float]) -> None:
        now = time.monotonic()
        recent = sum(1 for r in self.restarts if r.part == name and now - r.died_at < self.restart_window)
        if recent >= self.restart_limit:
            raise StackFailed(
                f"{name} {cause} after {recent} restarts within {self.restart_window:.0f}s;"
                " stopping the stack"
            )
        delay = min(FIRST_BACKOFF_SECONDS * 2**recent, MAX_BACKOFF_SECONDS)
        self.restarts.append(Restart(name, cause, now))
        print(f"supervisor: {name} {cause}; restarting it in {delay:.1f}s", flush=True)
        due[name] = now + delay

    def _restart(self, name: str, part: _Part, due: dict[str, float]) -> None:
        del due[name]
        try:
            part.start(lambda: self._stop_requested)
        except StopRequested:
            return
        except Exception as error:  # it died while starting, or did not get ready in time
            self._died(name, f"could not start ({type(error).__name__}: {error})", due)
            return
        restart = next(r for r in reversed(self.restarts) if r.part == name)
        restart.back_at = time.monotonic()
        print(
            f"supervisor: {name} is back (pid {part.pid()}) after {restart.back_at - restart.died_at:.1f}s",
            flush=True,
        )

    def request_stop(self) -> None:
        """Make supervise() return (safe from a signal handler or another thread)."""
        self._stop_requested = True

    def pid_of(self, name: str) -> int | None:
        """The running process of part `name`, or None while it is down."""
        return self.parts[name].pid()

    def kill(self, name: str, signum: signal.Signals = signal.SIGKILL) -> int:
        """Send `signum` (SIGKILL unless told) to part `name`; return the pid signalled."""
        pid = self.pid_of(name)
        if pid is None:
            raise LookupError(f"{name} is not running")
        os.kill(pid, signum)
        return pid

    def pause(self, name: str) -> None:
        """Leave part `name` alone (dead or stopped) until resume(): an outage on purpose."""
        self.paused.add(name)

    def resume(self, name: str) -> None:
        self.paused.discard(name)

    def stop(self) -> None:
        """Worker and API first (together), Temporal after them, PostgreSQL last."""
        self.request_stop()
        for names in STOP_ORDER:
            group = [(name, self.parts[name]) for name in names if name in self.parts]
            for _, part in group:
                part.terminate()
            for name, part in group:
                part.wait_stopped(name)
        self.parts.clear()
        self.postgres = None
