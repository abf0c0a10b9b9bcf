"""One app, database and Temporal test server per fuzz module, with an account of every provider:
hundreds of generated requests share them, and each request's effect is measured by counting
rows before and after it (a fresh database per example would cost a second each)."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from stack.migrate import ensure_admin, ensure_search_attributes
from stack.postgres import create_database
from tests.conftest import ADMIN_PASSWORD, PUBLIC_URL, Api, _database_url, _drop_database
from tests.fakes.providers import FakeProviders
from tests.webhooks import make_account

PROVIDERS = ("twilio", "meta", "sinch_v2", "kaleyra")
# What a rejected request must leave as it found.
STORED_TABLES = ("messages", "contacts", "interactions", "pending_statuses", "rejected_webhook_items")

# No example database in the work tree, no per-example deadline (the first request warms caches),
# no shrinking: a failing example is reported as generated. SHARELINE_FUZZ_SCALE multiplies the
# examples; SHARELINE_FUZZ_RANDOM=1 draws new ones instead of the same ones every run.
SCALE = float(os.environ.get("SHARELINE_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=max(1, int(examples * SCALE)),
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        derandomize=os.environ.get("SHARELINE_FUZZ_RANDOM") != "1",
    )


@pytest.fixture(scope="module")
async def module_temporal() -> AsyncIterator[WorkflowEnvironment]:
    server = shutil.which("temporal-test-server") or str(Path(sys.executable).parent / "temporal-test-server")
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=server)
    await ensure_search_attributes(env.client, env.client.namespace)
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
def module_settings(
    pg_admin_url: str,
    template_database: str,
    module_temporal: WorkflowEnvironment,
    fake_server: FakeProviders,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Settings]:
    name = f"shareline_fuzz_{uuid.uuid4().hex[:12]}"
    create_database(pg_admin_url, name, template=template_database)
    fakes = fake_server
    yield Settings(
        twilio_api_base=f"{fakes.base_url}/twilio",
        meta_graph_base=f"{fakes.base_url}/graph",
        sinch_auth_base=f"{fakes.base_url}/sinch-auth",
        vidaoo_api_base=f"{fakes.base_url}/vidaoo",
        database_url=_database_url(pg_admin_url, name),
        env="development",
        temporal_address=module_temporal.client.service_client.config.target_host,
        temporal_task_queue=f"fuzz-{uuid.uuid4().hex[:8]}",
        secret_key=Fernet.generate_key().decode(),
        data_dir=tmp_path_factory.mktemp("fuzz-data"),
        public_url=PUBLIC_URL,
    )
    _drop_database(pg_admin_url, name)


@pytest.fixture(scope="module")
async def module_app(module_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(module_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def module_client(module_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=module_app, raise_app_exceptions=False)  # a crash is a 500
    async with httpx.AsyncClient(transport=transport, base_url="http://shareline.test") as http:
        yield http


@pytest.fixture(scope="module")
async def module_admin(module_client: httpx.AsyncClient, module_settings: Settings) -> dict[str, str]:
    ensure_admin(module_settings.sqlalchemy_url, ADMIN_PASSWORD)
    return await Api(module_client).login("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
async def accounts(
    module_client: httpx.AsyncClient, module_admin: dict[str, str], fake_server: FakeProviders
) -> dict[str, dict[str, Any]]:
    """An account of every provider type, signing as tests.webhooks signs."""
    api = Api(module_client)
    return {provider: await make_account(api, module_admin, fake_server, provider) for provider in PROVIDERS}


class Rows:
    """Row counts of the tables a webhook writes, over one connection kept open."""

    def __init__(self, settings: Settings) -> None:
        self.conn = psycopg.connect(settings.libpq_url, autocommit=True)

    def counts(self) -> dict[str, int]:
        query = "SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in STORED_TABLES)  # noqa: S608
        row = self.conn.execute(query).fetchone()
        assert row is not None
        return dict(zip(STORED_TABLES, row, strict=True))

    def rejected(self, account_id: int) -> list[tuple[str, str, Any]]:
        rows = self.conn.execute(
            "SELECT provider, reason, raw FROM rejected_webhook_items WHERE account_id = %s ORDER BY id",
            (account_id,),
        ).fetchall()
        return [(provider, reason, raw) for provider, reason, raw in rows]

    def messages(self, account_id: int) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT provider_message_id, text FROM messages WHERE account_id = %s ORDER BY id", (account_id,)
        ).fetchall()
        return [(provider_id, text) for provider_id, text in rows]


@pytest.fixture(scope="module")
def rows(module_settings: Settings) -> Iterator[Rows]:
    counter = Rows(module_settings)
    yield counter
    counter.conn.close()
