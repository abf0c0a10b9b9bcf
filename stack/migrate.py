"""Bring a database and a Temporal namespace up to what this version of Shareline needs.

Run once per deploy (`python -m stack.migrate`, the compose `migrate` service) and by `make run`:
Alembic migrations, the first admin user, and Shareline's Temporal search attributes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.security import hash_password
from models import Role, User
from models.migrations import upgrade_to_head
from settings import Settings
from workflows.ids import SEARCH_ATTRIBUTES

log = logging.getLogger("shareline.migrate")


def ensure_admin(database_url: str, password: str | None) -> str | None:
    """Create user `admin` when no admin exists; return the password if it was generated here."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            if session.scalar(select(User.id).where(User.role == Role.admin).limit(1)) is not None:
                return None
            generated = None if password else secrets.token_urlsafe(12)
            session.add(
                User(
                    username="admin",
                    full_name="Administrator",
                    role=Role.admin,
                    password_hash=hash_password(password or str(generated)),
                )
            )
            return generated
    finally:
        engine.dispose()


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as error:  # Temporal's time-skipping test server can add but not list them
        if error.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {key.name for key in SEARCH_ATTRIBUTES} - existing
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={
                    name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in sorted(missing)
                },
            )
        )
        log.info("registered search attributes %s", sorted(missing))


async def connect_temporal(settings: Settings, wait_seconds: float = 60) -> Client:
    """Connect to Temporal, retrying while it starts (a fresh cluster takes a while)."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def migrate(settings: Settings) -> None:
    upgrade_to_head(settings.sqlalchemy_url)
    password = settings.admin_password.get_secret_value() if settings.admin_password else None
    if generated := ensure_admin(settings.sqlalchemy_url, password):
        print(
            f"Created user 'admin' with password: {generated}"
            "  (shown once; set SHARELINE_ADMIN_PASSWORD to choose it)"
        )
    client = await connect_temporal(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(migrate(Settings()))
