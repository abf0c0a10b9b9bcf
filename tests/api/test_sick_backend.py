"""The API while its backends are sick: no worker serves the interaction workflows (updates are
admitted by Temporal but never answered), or the database pool is taken.

No test here uses the `worker` fixture: the interaction's workflow is started, and nothing ever
runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from temporalio.exceptions import WorkflowAlreadyStartedError

from api import temporal
from tests.helpers import db
from tests.support.floor import the_interaction
from tests.webhooks import make_account, post_twilio, twilio_message
from workflows.interaction import InteractionInput, InteractionWorkflow

RPC_TIMEOUT = timedelta(seconds=1)
SLACK = 3.0  # seconds past the deadline a 503 may take on a loaded machine
CONCURRENT_ACCEPTS = 30  # more than the API's pool holds (10 + 10 overflow)


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> timedelta:
    monkeypatch.setattr(temporal, "TEMPORAL_RPC_TIMEOUT", RPC_TIMEOUT)
    return RPC_TIMEOUT


async def unserved_interaction(
    api, client, admin, fakes, settings, temporal_env
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """An account with one agent, and an interaction whose workflow is running with no worker."""
    account = await make_account(api, admin, fakes, "twilio")
    agent_id, agent = await api.user(admin, "ann")
    await client.post(
        f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": [agent_id]}, headers=admin
    )
    assert (await post_twilio(client, account, twilio_message("SM1"))).status_code == 200
    interaction = await the_interaction(client, admin)
    start = InteractionInput(interaction["id"], account["id"], interaction["contact"]["id"])
    with contextlib.suppress(WorkflowAlreadyStartedError):  # unless the webhook started it
        await temporal_env.client.start_workflow(
            InteractionWorkflow.run,
            start,
            id=interaction["workflow_id"],
            task_queue=settings.temporal_task_queue,
        )
    return account, interaction, agent


async def timed(call):
    started = asyncio.get_running_loop().time()
    response = await call
    return response, asyncio.get_running_loop().time() - started


async def test_accepts_waiting_on_temporal_hold_no_connection_and_answer_503(
    api, client, admin, fakes, settings, temporal_env, short_deadline
):
    account, interaction, agent = await unserved_interaction(
        api, client, admin, fakes, settings, temporal_env
    )
    path = f"/api/whatsapp/interactions/{interaction['id']}/accept"
    accepts = [
        asyncio.create_task(timed(client.post(path, headers=agent))) for _ in range(CONCURRENT_ACCEPTS)
    ]
    await asyncio.sleep(0.3)  # the accepts are all waiting on Temporal now

    me, me_took = await asyncio.wait_for(timed(client.get("/api/agents/me", headers=agent)), 10)
    webhook, webhook_took = await asyncio.wait_for(
        timed(post_twilio(client, account, twilio_message("SM2", mobile="393339999999"))), 10
    )
    assert (me.status_code, webhook.status_code) == (200, 200), (me.text, webhook.text)
    assert max(me_took, webhook_took) < short_deadline.total_seconds()

    done = await asyncio.wait_for(asyncio.gather(*accepts), short_deadline.total_seconds() + SLACK + 10)
    assert {(r.status_code, r.json()["error"]["code"]) for r, _ in done} == {(503, "temporal_unavailable")}
    assert max(took for _, took in done) < short_deadline.total_seconds() + SLACK


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("reject", None),
        ("close", {}),
        ("transfer", None),  # to a queue made below
        ("messages", {"text": "are you there?"}),
    ],
)
async def test_every_hand_over_to_an_unserved_workflow_answers_503_by_the_deadline(
    api, client, admin, fakes, settings, temporal_env, short_deadline, route, body
):
    account, interaction, _ = await unserved_interaction(api, client, admin, fakes, settings, temporal_env)
    if route == "transfer":
        queue = await api.create(admin, "/api/whatsapp/queues", {"name": "Q", "strategy": "beepall"})
        body = {"queue_id": queue["id"]}
        transfer = {"transfer": {"queue_enabled": True}}
        patched = await client.patch(f"/api/whatsapp/accounts/{account['id']}", json=transfer, headers=admin)
        assert patched.status_code == 200, patched.text
    path = f"/api/whatsapp/interactions/{interaction['id']}/{route}"
    response, took = await asyncio.wait_for(
        timed(client.post(path, json=body, headers=admin)), short_deadline.total_seconds() + SLACK + 10
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "temporal_unavailable"
    assert took < short_deadline.total_seconds() + SLACK
    if route == "messages":  # stored, left queued for `retry`
        with db(settings) as conn:
            assert conn.execute("SELECT status FROM messages WHERE direction = 'out'").fetchall() == [
                ("queued",)
            ]


async def test_a_taken_pool_answers_503_database_busy(app: FastAPI, client, admin):
    engine = app.state.services.engine
    held = [await engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]
    try:
        response = await asyncio.wait_for(client.get("/api/agents/me", headers=admin), 15)
    finally:
        for connection in held:
            await connection.close()
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_busy"
    assert (await client.get("/api/agents/me", headers=admin)).status_code == 200
