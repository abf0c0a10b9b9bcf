"""WhatsApp accounts through the HTTP API: every validation rule, secrets, receive URL, roles."""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest

from tests.conftest import PUBLIC_URL, error_fields
from tests.support.accounts import CREDENTIALS, account_body

SECRETS = ["twilio-secret-token", "sinch-key-secret", "sinch-webhook-secret", "meta-access-token",
           "meta-app-secret", "kaleyra-api-key", "vidaoo-key", "assistant-key"]  # fmt: skip


@pytest.fixture
async def contact_list(api, admin):
    return await api.create(admin, "/api/cm/lists", {"name": "Customers"})


async def test_twilio_account_has_a_working_receive_url_and_no_secret(api, client, admin, contact_list):
    response = await client.post("/api/whatsapp/accounts", json=account_body(contact_list), headers=admin)
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["credentials"] == {"account_sid": "AC0123456789", "auth_token": "***"}
    assert "twilio-secret-token" not in response.text
    url = urlparse(account["receive_url"])
    assert f"{url.scheme}://{url.netloc}" == PUBLIC_URL
    assert url.path == f"/api/whatsapp/accounts/{account['id']}/notify"
    token = parse_qs(url.query)["token"][0]
    assert token == account["proxy_token"]
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16  # at least 128 bits
    assert account["wait_assigned_agent"] == account["wait_assigned_queue"] == 10
    assert account["phone"] == "14155238886"
    assert "{{contact.mobile}}" in account["notification"]["template"]
    assert "{{account.name}}" in account["notification"]["template"]


@pytest.mark.parametrize("provider", list(CREDENTIALS))
async def test_each_type_stores_its_secrets_encrypted(api, client, admin, contact_list, settings, provider):
    account = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, provider))
    secret_names = {"auth_token", "key_secret", "webhook_secret", "app_secret", "api_key"}
    for name, value in CREDENTIALS[provider].items():
        assert account["credentials"][name] == ("***" if name in secret_names else value)
    dsn = settings.libpq_url
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT * FROM accounts WHERE id = %s", (account["id"],)).fetchone()
    raw = repr(row)
    for secret in SECRETS:
        assert secret not in raw


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("A", 201),
        ("ABCDE", 201),
        ("a1B2c", 201),
        ("", 422),
        ("ABCDEF", 422),
        ("AB-1", 422),
        ("AB 1", 422),
        ("ÀB", 422),
    ],
)
async def test_key_is_one_to_five_alphanumerics(client, admin, contact_list, key, status):
    response = await client.post(
        "/api/whatsapp/accounts", json=account_body(contact_list, key=key), headers=admin
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert "key" in error_fields(response)


async def test_key_is_unique_ignoring_case(api, client, admin, contact_list):
    await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, key="Sales"))
    response = await client.post(
        "/api/whatsapp/accounts", json=account_body(contact_list, key="SALES"), headers=admin
    )
    assert response.status_code == 409
    assert error_fields(response) == {"key": "is already used by another account (keys ignore case)"}
    other = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, key="Other"))
    response = await client.patch(
        f"/api/whatsapp/accounts/{other['id']}", json={"key": "sales"}, headers=admin
    )
    assert response.status_code == 409
    assert "key" in error_fields(response)


@pytest.mark.parametrize("field", ["wait_assigned_agent", "wait_assigned_queue"])
@pytest.mark.parametrize(
    ("value", "status"), [(0, 422), (1, 201), (2147483, 201), (2147484, 422), ("x", 422), (1.5, 422)]
)
async def test_waits_are_integers_from_1_to_2147483(client, admin, contact_list, field, value, status):
    body = account_body(contact_list, **{field: value})
    response = await client.post("/api/whatsapp/accounts", json=body, headers=admin)
    assert response.status_code == status, response.text
    if status == 422:
        assert field in error_fields(response)
    else:
        assert response.json()[field] == value


@pytest.mark.parametrize("field", ["agent_timeout", "queue_timeout"])
async def test_transfer_timeouts_are_ranged(client, admin, contact_list, field):
    for value, status in ((0, 422), (2147484, 422), (30, 201)):
        body = account_body(
            contact_list, key=f"T{value % 1000}", transfer={"agent_enabled": True, field: value}
        )
        response = await client.post("/api/whatsapp/accounts", json=body, headers=admin)
        assert response.status_code == status, response.text
        if status == 422:
            assert f"transfer.{field}" in error_fields(response)
        else:
            assert response.json()["transfer"][field] == 30


@pytest.mark.parametrize("provider", list(CREDENTIALS))
async def test_each_type_requires_its_credentials(client, admin, contact_list, provider):
    required = {
        "twilio": "auth_token",
        "sinch_v2": "key_secret",
        "meta": "phone_number_id",
        "kaleyra": "api_key",
    }[provider]
    body = account_body(contact_list, provider)
    del body["credentials"][required]
    response = await client.post("/api/whatsapp/accounts", json=body, headers=admin)
    assert response.status_code == 422
    assert f"credentials.{required}" in error_fields(response)


async def test_unknown_type_and_stray_credentials_are_refused(client, admin, contact_list):
    response = await client.post(
        "/api/whatsapp/accounts", json=account_body(contact_list) | {"type": "skebby"}, headers=admin
    )
    assert response.status_code == 422
    assert "type" in error_fields(response)
    body = account_body(contact_list)
    body["credentials"]["api_key"] = "belongs to kaleyra"
    response = await client.post("/api/whatsapp/accounts", json=body, headers=admin)
    assert response.status_code == 422
    assert "credentials.api_key" in error_fields(response)


async def test_changing_type_demands_the_new_types_credentials(api, client, admin, contact_list):
    account = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list))
    path = f"/api/whatsapp/accounts/{account['id']}"
    response = await client.patch(path, json={"type": "meta"}, headers=admin)
    assert response.status_code == 422
    assert "credentials" in error_fields(response)
    partial = {k: v for k, v in CREDENTIALS["meta"].items() if k != "auth_token"}
    response = await client.patch(path, json={"type": "meta", "credentials": partial}, headers=admin)
    assert response.status_code == 422
    assert "credentials.auth_token" in error_fields(response)
    response = await client.patch(
        path, json={"type": "meta", "credentials": CREDENTIALS["meta"]}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "meta"
    assert response.json()["credentials"]["auth_token"] == "***"
    assert "account_sid" in response.json()["credentials"]


async def test_masked_or_omitted_secret_keeps_the_stored_one(api, client, admin, contact_list, app):
    account = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, "sinch_v2"))
    path = f"/api/whatsapp/accounts/{account['id']}"
    change = {"credentials": {**account["credentials"], "project_id": "proj-2"}}  # secrets sent back as "***"
    response = await client.patch(path, json=change, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["credentials"]["project_id"] == "proj-2"
    stored = await _stored_secrets(app, account["id"])
    assert stored["credentials.key_secret"] == "sinch-key-secret"
    assert stored["credentials.webhook_secret"] == "sinch-webhook-secret"
    response = await client.patch(path, json={"credentials": {"key_secret": "rotated"}}, headers=admin)
    assert response.status_code == 200
    assert (await _stored_secrets(app, account["id"]))["credentials.key_secret"] == "rotated"


async def _stored_secrets(app, account_id):
    from models import Account

    services = app.state.services
    async with services.sessionmaker() as session:
        account = await session.get(Account, account_id)
        return services.secrets.open(account.encrypted_secrets)


async def test_secrets_never_reach_the_logs(api, client, admin, contact_list, caplog):
    caplog.set_level(logging.DEBUG)
    body = account_body(contact_list, "meta", video={"enabled": True, "api_key": "vidaoo-key", "topic": "T1"},
                        assistant={"enabled": True, "api_key": "assistant-key"})  # fmt: skip
    account = await api.create(admin, "/api/whatsapp/accounts", body)
    await client.get(f"/api/whatsapp/accounts/{account['id']}", headers=admin)
    await client.get("/api/whatsapp/accounts", headers=admin)
    await client.post(
        "/api/whatsapp/accounts", json=body | {"key": "x y"}, headers=admin
    )  # a 422 echoes no input
    response = await client.patch(
        f"/api/whatsapp/accounts/{account['id']}", json={"credentials": {"auth_token": 5}}, headers=admin
    )
    assert response.status_code == 422
    for secret in [*SECRETS[3:5], "vidaoo-key", "assistant-key"]:
        assert secret not in caplog.text
        assert secret not in response.text
    assert account["video"]["api_key"] == account["assistant"]["api_key"] == "***"


async def test_proxy_token_is_generated_once_and_immutable(api, client, admin, contact_list):
    account = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list))
    path = f"/api/whatsapp/accounts/{account['id']}"
    response = await client.patch(path, json={"proxy_token": "mine"}, headers=admin)
    assert response.status_code == 422
    assert "proxy_token" in error_fields(response)
    response = await client.patch(path, json={"motion_domain": "https://proxy.example.org/"}, headers=admin)
    assert response.status_code == 200
    assert response.json()["proxy_token"] == account["proxy_token"]
    assert response.json()["receive_url"].startswith("https://proxy.example.org/api/whatsapp/accounts/")
    other = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, key="OTH"))
    assert other["proxy_token"] != account["proxy_token"]


async def test_notification_template_is_validated_as_mustache(api, client, admin, contact_list):
    body = account_body(contact_list, notification={"template": "From {{#contact}}{{mobile}}"})
    response = await client.post("/api/whatsapp/accounts", json=body, headers=admin)
    assert response.status_code == 422
    assert "never closed" in error_fields(response)["notification.template"]
    body["notification"] = {"template": "{{contact.mobile}} on {{account.name}}", "shake": True}
    account = await api.create(admin, "/api/whatsapp/accounts", body)
    assert account["notification"] == {
        "sound": True,
        "shake": True,
        "template": "{{contact.mobile}} on {{account.name}}",
    }
    response = await client.patch(
        f"/api/whatsapp/accounts/{account['id']}", json={"notification": {"sound": False}}, headers=admin
    )
    assert response.json()["notification"] == {
        "sound": False,
        "shake": True,
        "template": "{{contact.mobile}} on {{account.name}}",
    }


@pytest.mark.parametrize(
    ("provider", "status"), [("meta", 201), ("kaleyra", 201), ("twilio", 422), ("sinch_v2", 422)]
)
async def test_recontact_template_only_for_meta_and_kaleyra(client, admin, contact_list, provider, status):
    template = {"name": "recontact_v1", "language": "en_US", "parameters": ["{{contact.first_name}}"]}
    body = account_body(contact_list, provider, recontact_template=template)
    response = await client.post("/api/whatsapp/accounts", json=body, headers=admin)
    assert response.status_code == status, response.text
    if status == 422:
        assert "recontact_template" in error_fields(response)
    else:
        assert response.json()["recontact_template"] == template


async def test_video_metadata_is_an_object_and_topic_is_unique(api, client, admin, contact_list):
    video = {
        "enabled": True,
        "api_key": "vidaoo-key",
        "topic": "Support calls",
        "metadata": ["not", "object"],
    }
    response = await client.post(
        "/api/whatsapp/accounts", json=account_body(contact_list, video=video), headers=admin
    )
    assert response.status_code == 422
    assert "video.metadata" in error_fields(response)
    video["metadata"] = {"team": "blue"}
    await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, video=video))
    response = await client.post(
        "/api/whatsapp/accounts", json=account_body(contact_list, key="B", video=video), headers=admin
    )
    assert response.status_code == 409
    assert "video.topic" in error_fields(response)
    response = await client.post(
        "/api/whatsapp/accounts",
        json=account_body(contact_list, key="C", video={"enabled": True}),
        headers=admin,
    )
    assert response.status_code == 422
    assert "video" in error_fields(response)


async def test_mandatory_disposition_needs_a_pause(api, client, admin, contact_list):
    response = await client.post(
        "/api/whatsapp/accounts", json=account_body(contact_list, mandatory_disposition=True), headers=admin
    )
    assert response.status_code == 422
    assert "disposition_pause_id" in error_fields(response)
    pause = await api.create(admin, "/api/pauses", {"name": "After call work"})
    body = account_body(contact_list, mandatory_disposition=True, disposition_pause_id=pause["id"])
    account = await api.create(admin, "/api/whatsapp/accounts", body)
    assert account["disposition_pause_id"] == pause["id"]
    response = await client.delete(f"/api/pauses/{pause['id']}", headers=admin)
    assert response.status_code == 409
    assert "SUP" in response.json()["error"]["message"]


async def test_unknown_list_is_a_field_error_and_nothing_is_written(client, admin, contact_list):
    response = await client.post(
        "/api/whatsapp/accounts", json=account_body(contact_list) | {"list_id": 999}, headers=admin
    )
    assert response.status_code == 422
    assert error_fields(response) == {"list_id": "refers to a record that does not exist"}
    listing = await client.get("/api/whatsapp/accounts", headers=admin)
    assert listing.json() == {"count": 0, "rows": []}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"name": null}',
        '{"name": "x", "key": 5, "list_id": "one", "type": "twilio", "phone": "abc", "credentials": []}',
    ],
)
async def test_garbage_bodies_get_field_errors_never_500(client, admin, body):
    response = await client.post(
        "/api/whatsapp/accounts", content=body, headers=admin | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert error_fields(response)


async def test_roles_and_membership(api, client, admin, contact_list):
    first = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, key="ONE"))
    second = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, key="TWO"))
    agent_id, agent = await api.user(admin, "alice")
    _, supervisor = await api.user(admin, "sue", role="supervisor")
    response = await client.post(
        f"/api/whatsapp/accounts/{first['id']}/agents", json={"ids": [agent_id]}, headers=admin
    )
    assert response.status_code == 200

    mine = await client.get("/api/whatsapp/accounts", headers=agent)
    assert [row["key"] for row in mine.json()["rows"]] == ["ONE"]
    assert mine.json()["rows"][0]["proxy_token"] is None
    assert mine.json()["rows"][0]["receive_url"] is None
    assert (await client.get(f"/api/whatsapp/accounts/{second['id']}", headers=agent)).status_code == 404
    assert (
        await client.post("/api/whatsapp/accounts", json=account_body(contact_list, key="X"), headers=agent)
    ).status_code == 403
    assert (
        await client.patch(f"/api/whatsapp/accounts/{first['id']}", json={"name": "x"}, headers=agent)
    ).status_code == 403
    assert (
        await client.delete(f"/api/whatsapp/accounts/{first['id']}", headers=supervisor)
    ).status_code == 403
    everything = await client.get("/api/whatsapp/accounts", headers=supervisor)
    assert everything.json()["count"] == 2
    assert (await client.get("/api/whatsapp/accounts")).status_code == 401
    members = await client.get(f"/api/whatsapp/accounts/{first['id']}/agents", headers=supervisor)
    assert [row["username"] for row in members.json()["rows"]] == ["alice"]
    response = await client.delete(f"/api/whatsapp/accounts/{first['id']}/agents/{agent_id}", headers=admin)
    assert response.status_code == 204
    assert (await client.get("/api/whatsapp/accounts", headers=agent)).json()["count"] == 0


async def test_deleting_an_account_takes_what_it_owns(api, client, admin, contact_list, settings):
    account = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list))
    base = f"/api/whatsapp/accounts/{account['id']}"
    agent_id, _ = await api.user(admin, "bob")
    await client.post(f"{base}/agents", json={"ids": [agent_id]}, headers=admin)
    await api.create(admin, f"{base}/answers", {"name": "hello", "value": "Hi {{contact.first_name}}"})
    await api.create(admin, f"{base}/dispositions", {"name": "Sold"})
    response = await client.put(
        f"{base}/actions", json=[{"application": "noop", "params": {"value": "x"}}], headers=admin
    )
    assert response.status_code == 200
    assert (await client.delete(base, headers=admin)).status_code == 204
    assert (await client.get(base, headers=admin)).status_code == 404
    dsn = settings.libpq_url
    with psycopg.connect(dsn) as conn:
        for table in ("account_agents", "canned_answers", "dispositions", "actions", "accounts"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table  # noqa: S608
        assert conn.execute("SELECT count(*) FROM users WHERE id = %s", (agent_id,)).fetchone() == (1,)
