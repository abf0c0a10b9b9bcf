"""The Receive URL through the real app, PostgreSQL and Temporal: every provider's payloads,
signatures, idempotency under duplicates and races, refusals, and Temporal outages."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.webhooks.service import interaction_upsert
from relay.inbound import InboundRelay
from tests.conftest import error_fields
from tests.helpers import count, db, ready_summary, summary_of, wait_for
from tests.webhooks import (
    kaleyra_callback,
    make_account,
    meta_envelope,
    meta_text,
    post_kaleyra,
    post_meta,
    post_sinch,
    post_twilio,
    receive_path,
    sinch_text,
    twilio_message,
)


async def messages_of(client, admin, interaction_id):
    response = await client.get(f"/api/whatsapp/interactions/{interaction_id}/messages", headers=admin)
    assert response.status_code == 200
    return response.json()["rows"]


async def test_twilio_text_is_stored_and_reaches_its_workflow(
    api, client, admin, fakes, worker, temporal_env, settings
):
    account = await make_account(api, admin, fakes, "twilio")
    response = await post_twilio(client, account, twilio_message("SM100", "Ciao, ho bisogno di aiuto"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == "<Response/>"

    interactions = (
        await client.get(f"/api/whatsapp/interactions?account_id={account['id']}&status=open", headers=admin)
    ).json()
    assert interactions["count"] == 1
    interaction = interactions["rows"][0]
    assert interaction["contact"]["mobile"] == "393331234567"
    assert interaction["contact"]["first_name"] == "Mario Rossi"
    assert (interaction["read"], interaction["last_message"], interaction["account_key"]) == (
        False,
        "Ciao, ho bisogno di aiuto",
        "twili",
    )
    (message,) = await messages_of(client, admin, interaction["id"])
    assert (message["direction"], message["type"], message["text"], message["provider_message_id"], message["status"]) == (
        "in", "text", "Ciao, ho bisogno di aiuto", "SM100", "received"
    )  # fmt: skip

    summary = await ready_summary(temporal_env.client, interaction["workflow_id"])
    assert summary.messages_handled == 1
    description = await temporal_env.client.get_workflow_handle(interaction["workflow_id"]).describe()
    assert description.workflow_type == "InteractionWorkflow"
    attributes = {
        key.name: value for key, value in ((p.key, p.value) for p in description.typed_search_attributes)
    }
    assert attributes["ShareAccountKey"] == "twili"
    assert attributes["ShareContact"] == "393331234567"
    lists = (await client.get("/api/cm/lists", headers=admin)).json()["rows"]
    contacts = (await client.get(f"/api/cm/lists/{lists[0]['id']}/contacts", headers=admin)).json()
    assert contacts["count"] == 1


async def test_the_same_webhook_five_times_stores_one_message_and_one_effect(
    api, client, admin, fakes, worker, settings, temporal_env
):
    account = await make_account(api, admin, fakes, "meta")
    body = meta_envelope([meta_text("wamid.DUP1", "once")], names={"16505551234": "Kerry"})
    responses = await asyncio.gather(*(post_meta(client, account, body) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    later = await post_meta(client, account, body)  # "hours apart": after everything settled
    assert later.status_code == 200
    assert count(settings, "messages") == 1
    assert count(settings, "interactions") == 1
    interaction = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"][0]

    async def handled():
        summary = await summary_of(temporal_env.client, interaction["workflow_id"])
        return summary.messages_handled if summary else 0

    assert await wait_for(handled) == 1
    await asyncio.sleep(0.3)
    assert await handled() == 1


async def test_two_first_messages_racing_make_one_interaction(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "twilio")
    first, second = await asyncio.gather(
        post_twilio(client, account, twilio_message("SM201", "first")),
        post_twilio(client, account, twilio_message("SM202", "second")),
    )
    assert (first.status_code, second.status_code) == (200, 200)
    assert count(settings, "interactions") == 1
    assert count(settings, "contacts") == 1
    assert count(settings, "messages") == 2


async def test_meta_batch_of_messages_and_statuses(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "meta")
    body = meta_envelope(
        [meta_text("wamid.A", "a"), meta_text("wamid.B", "b", sender="16505550000"),
         {"from": "16505551234", "id": "wamid.C", "timestamp": "1732442400", "type": "order", "order": {"x": 1}}],
        [{"id": "wamid.unknown-out", "status": "delivered", "timestamp": "1732442401", "recipient_id": "1"}],
        names={"16505551234": "Kerry", "16505550000": "Lee"},
    )  # fmt: skip
    response = await post_meta(client, account, body)
    assert response.status_code == 200
    assert response.json() == {"messages": 3, "statuses": 1}
    rows = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"]
    assert sorted(row["contact"]["first_name"] for row in rows) == ["Kerry", "Lee"]
    kerry = next(row for row in rows if row["contact"]["first_name"] == "Kerry")
    types = [(m["provider_message_id"], m["type"]) for m in await messages_of(client, admin, kerry["id"])]
    assert types == [("wamid.A", "text"), ("wamid.C", "unsupported")]
    unsupported = (await messages_of(client, admin, kerry["id"]))[1]
    assert unsupported["payload"]["order"] == {"x": 1}
    assert count(settings, "pending_statuses") == 1  # a status for an id no send has recorded yet


async def test_meta_handshake(api, client, admin, fakes):
    account = await make_account(api, admin, fakes, "meta")
    path = receive_path(account).split("?")[0]
    token = account["proxy_token"]
    ok = await client.get(
        path, params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    bad = await client.get(
        path, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert bad.status_code == 403


async def test_sinch_signed_message_replay_and_stale(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "sinch_v2")
    body = sinch_text("01SINCHIN1", "Hej")
    response = await post_sinch(client, account, body, nonce="nonce-1")
    assert response.status_code == 200
    replay = await post_sinch(client, account, body, nonce="nonce-1")
    assert replay.status_code == 403
    assert replay.json()["error"]["code"] == "replayed"
    stale = await post_sinch(client, account, sinch_text("01SINCHIN2"), timestamp=1_600_000_000)
    assert stale.status_code == 403
    forged = await post_sinch(client, account, sinch_text("01SINCHIN3"), secret="wrong")
    assert forged.status_code == 403
    assert count(settings, "messages") == 1


async def test_kaleyra_both_inbound_formats(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "kaleyra")
    assert (await post_kaleyra(client, account, kaleyra_callback("Namaste"))).status_code == 200
    assert (
        await post_kaleyra(client, account, kaleyra_callback("Namaste"))
    ).status_code == 200  # retried callback
    older = meta_envelope([meta_text("wamid.K1", "older format", sender="919876543210")])["entry"][0][
        "changes"
    ][0]["value"]
    assert (await post_kaleyra(client, account, older)).status_code == 200
    assert count(settings, "messages") == 2
    assert count(settings, "interactions") == 1


@pytest.mark.parametrize("token", ["", "wrong-token"])
async def test_wrong_or_missing_token_is_403_and_nothing_is_stored(
    api, client, admin, fakes, settings, token
):
    account = await make_account(api, admin, fakes, "kaleyra")
    path = receive_path(account).split("?")[0]
    response = await client.post(f"{path}?token={token}", json=kaleyra_callback())
    assert response.status_code == 403
    assert (
        await client.post(f"/api/whatsapp/accounts/999/notify?token={account['proxy_token']}", json={})
    ).status_code == 403
    assert count(settings, "messages") == 0


async def test_bad_signatures_store_nothing_and_log_no_secret(api, client, admin, fakes, settings, caplog):
    twilio = await make_account(api, admin, fakes, "twilio")
    meta = await make_account(api, admin, fakes, "meta")
    assert (await post_twilio(client, twilio, twilio_message("SM1"), signature="AAAA")).status_code == 403
    assert (
        await post_meta(client, meta, meta_envelope([meta_text("wamid.X")]), secret="guess")
    ).status_code == 403
    assert count(settings, "messages") == count(settings, "contacts") == 0
    for secret in ("twilio-secret-token", "meta-app-secret", twilio["proxy_token"]):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("provider", "content", "content_type", "status", "code"),
    [
        ("meta", b"{not json", "application/json", 400, "bad_json"),
        (
            "meta",
            b'{"object": "whatsapp_business_account", "entry": {"changes": []}}',  # a bad element alone: tests/fuzz
            "application/json",
            400,
            "malformed",
        ),
        ("meta", b"a=b", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("sinch_v2", b"[]", "application/json", 403, "bad_signature"),
        ("kaleyra", b'["not", "an object"]', "application/json", 400, "malformed"),
        ("kaleyra", b'{"body": "no sender"}', "application/json", 400, "malformed"),
        ("kaleyra", b"<xml/>", "text/xml", 415, "unsupported_media_type"),
        ("twilio", b"MessageSid=SM1", "application/json", 415, "unsupported_media_type"),
    ],
)
async def test_malformed_bodies_get_clear_errors(
    api, client, admin, fakes, settings, provider, content, content_type, status, code
):
    account = await make_account(api, admin, fakes, provider)
    raw_meta = provider == "meta" and content_type == "application/json"
    if raw_meta:
        response = await post_meta(client, account, content)
    else:
        response = await client.post(
            receive_path(account), content=content, headers={"Content-Type": content_type}
        )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert count(settings, "messages") == 0


async def test_ten_megabytes_of_junk_is_413(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "kaleyra")
    response = await client.post(
        receive_path(account), content=b"x" * (10 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert count(settings, "messages") == 0


async def test_temporal_down_the_webhook_is_acknowledged_and_routed_once_temporal_answers(
    api, client, admin, fakes, settings, temporal_env, app
):
    """The API answers for what it committed, not for Temporal: 200 while Temporal is away, and
    the relay hands the message over as soon as Temporal answers; a Sinch nonce is not burned."""
    account = await make_account(api, admin, fakes, "kaleyra")
    offline = create_app(settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    async with offline.router.lifespan_context(offline):
        transport = httpx.ASGITransport(app=offline)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as down:
            response = await post_kaleyra(down, account, kaleyra_callback("while temporal is down"))
    assert response.status_code == 200
    services = app.state.services
    unreachable = await Client.connect("127.0.0.1:1", lazy=True)
    stuck = InboundRelay(settings, services.sessionmaker, unreachable)
    assert await stuck.drain() == 0
    with db(settings) as conn:
        assert conn.execute("SELECT signalled_at FROM messages").fetchall() == [(None,)]
    retry = await post_kaleyra(client, account, kaleyra_callback("while temporal is down"))
    assert retry.status_code == 200  # the provider's retry of an acknowledged message changes nothing
    relay = InboundRelay(settings, services.sessionmaker, temporal_env.client)
    assert await relay.drain() == 1
    assert await relay.drain() == 0
    with db(settings) as conn:
        assert conn.execute("SELECT signalled_at IS NOT NULL FROM messages").fetchall() == [(True,)]
    interaction = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"][0]
    assert (
        await temporal_env.client.get_workflow_handle(interaction["workflow_id"]).describe()
    ).status is not None
    assert count(settings, "messages") == 1


async def test_status_callbacks_move_outbound_messages_forward_only(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "twilio")
    await post_twilio(client, account, twilio_message("SM300", "hi"))
    with db(settings) as conn:
        ((interaction_id,),) = conn.execute("SELECT id FROM interactions").fetchall()
        conn.execute(
            "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload, provider_message_id, status)"
            " VALUES (%s, %s, 'out', 'text', 'reply', '{}', 'SMOUT1', 'sent')",
            (account["id"], interaction_id),
        )
    for status in ("read", "delivered", "sent"):  # out of order: read wins
        assert (
            await post_twilio(client, account, {"MessageSid": "SMOUT1", "MessageStatus": status})
        ).status_code == 200
    outbound = next(m for m in await messages_of(client, admin, interaction_id) if m["direction"] == "out")
    assert outbound["status"] == "read"
    with db(settings) as conn:
        conn.execute(
            "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload, provider_message_id, status)"
            " VALUES (%s, %s, 'out', 'text', 'late', '{}', 'SMOUT2', 'sent')",
            (account["id"], interaction_id),
        )
    failed = {"MessageSid": "SMOUT2", "MessageStatus": "undelivered", "ErrorCode": "63016"}
    assert (await post_twilio(client, account, failed)).status_code == 200
    late = next(
        m for m in await messages_of(client, admin, interaction_id) if m["provider_message_id"] == "SMOUT2"
    )
    assert (late["status"], late["error_code"]) == ("failed", "63016")
    assert late["error_text"].startswith("outside the 24-hour customer service window")


async def test_interactions_are_read_by_role_and_membership(api, client, admin, fakes):
    account = await make_account(api, admin, fakes, "twilio")
    await post_twilio(client, account, twilio_message("SM400", "hi"))
    interaction = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"][0]
    member_id, member = await api.user(admin, "member")
    _, outsider = await api.user(admin, "outsider")
    _, supervisor = await api.user(admin, "boss", role="supervisor")
    await client.post(
        f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": [member_id]}, headers=admin
    )
    assert (await client.get("/api/whatsapp/interactions", headers=member)).json()["count"] == 1
    assert (await client.get("/api/whatsapp/interactions", headers=outsider)).json()["count"] == 0
    assert (
        await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=outsider)
    ).status_code == 404
    assert (
        await client.get(f"/api/whatsapp/interactions/{interaction['id']}/messages", headers=outsider)
    ).status_code == 404
    assert (
        await client.get(f"/api/whatsapp/interactions/{interaction['id']}/messages", headers=supervisor)
    ).status_code == 200
    assert (await client.get("/api/whatsapp/interactions")).status_code == 401
    response = await client.get("/api/whatsapp/interactions?status=pending", headers=admin)
    assert "query.status" in error_fields(response)
    response = await client.delete(f"/api/whatsapp/accounts/{account['id']}", headers=admin)
    assert response.status_code == 409
    assert "interactions" in response.json()["error"]["message"]


async def test_a_batch_of_new_contacts_makes_one_interaction_each(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "meta")
    batch = meta_envelope([meta_text(f"wamid.N{i}", "hi", sender=f"1650555{i:04d}") for i in range(20)])
    assert (await post_meta(client, account, batch)).status_code == 200
    assert count(settings, "interactions") == 20


async def test_interaction_upsert_survives_generic_plans(api, admin, fakes, settings, app):
    """psycopg prepares a statement on its 6th execution and PostgreSQL may then plan it without
    parameter values; ON CONFLICT must still find the partial unique index (a bound predicate
    cannot: the 11th execution on one connection failed before the predicate became a literal)."""
    account = await make_account(api, admin, fakes, "meta")
    with db(settings) as conn:
        ((list_id,),) = conn.execute("SELECT id FROM contact_lists").fetchall()
        contacts = [row[0] for row in conn.execute(
            "INSERT INTO contacts (list_id, first_name, last_name, mobile) SELECT %s, '', '', '1555' || n"
            " FROM generate_series(1, 15) AS n RETURNING id", (list_id,)).fetchall()]  # fmt: skip
    async with app.state.services.engine.connect() as conn:
        for contact_id in contacts:
            assert (await conn.execute(interaction_upsert(account["id"], contact_id))).scalar() is not None
        assert (await conn.execute(interaction_upsert(account["id"], contacts[0]))).scalar() is None
        await conn.commit()
