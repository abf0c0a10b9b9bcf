"""A status callback racing the send that records its provider id is applied, whichever wins.

The send's side is `record_provider_id` (what the send activity runs once the provider answers);
the callback's is `apply_statuses` (what the webhook runs), each in its own transaction.
"""

from __future__ import annotations

import asyncio

import pytest

from api.webhooks.service import apply_statuses
from domain.delivery import record_provider_id
from models import DeliveryStatus, Message
from models.db import create_engine, create_sessionmaker
from providers.base import StatusUpdate
from tests.activities.test_send import outbound
from tests.helpers import count, db

PROVIDER_ID = "SM-early-status"
DELIVERED = StatusUpdate(PROVIDER_ID, DeliveryStatus.delivered)


@pytest.fixture
async def sessions(settings):
    engine = create_engine(settings.sqlalchemy_url, pool_size=3)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def callback(sessions, account_id: int) -> None:
    async with sessions() as session, session.begin():
        await apply_statuses(session, account_id, [DELIVERED])


async def record(sessions, message_id: int) -> None:
    async with sessions() as session, session.begin():
        message = await session.get(Message, message_id, with_for_update=True)
        assert message is not None
        await record_provider_id(session, message, PROVIDER_ID)


def advisory_locks(settings, granted: bool) -> int:
    with db(settings) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (granted,),
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("arrives", ["before", "during", "after"])
async def test_a_delivered_callback_is_applied_whenever_it_arrives(
    api, client, admin, fakes, settings, sessions, arrives
):
    account, message_id = await outbound(api, client, admin, fakes, settings, "twilio")
    if arrives == "before":
        await callback(sessions, account["id"])
        await record(sessions, message_id)
    elif arrives == "during":
        async with sessions() as session, session.begin():
            message = await session.get(Message, message_id, with_for_update=True)
            assert message is not None
            await record_provider_id(session, message, PROVIDER_ID)  # written, not committed
            concurrent = asyncio.create_task(callback(sessions, account["id"]))
            for _ in range(250):  # until the callback waits for the send (or, unguarded, is done)
                if concurrent.done() or await asyncio.to_thread(advisory_locks, settings, False) > 0:
                    break
                await asyncio.sleep(0.02)
        await concurrent
    else:
        await record(sessions, message_id)
        async with sessions() as session, session.begin():
            await apply_statuses(session, account["id"], [DELIVERED])
            assert advisory_locks(settings, True) == 0  # the common case takes no lock
    with db(settings) as conn:
        assert conn.execute(
            "SELECT status, provider_message_id FROM messages WHERE id = %s", (message_id,)
        ).fetchone() == ("delivered", PROVIDER_ID)
    assert count(settings, "pending_statuses") == 0
