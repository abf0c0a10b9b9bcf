"""Login, tokens, roles, and user administration."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from api.security import TokenSigner
from tests.conftest import ADMIN_PASSWORD, error_fields


async def test_login_issues_a_bearer_token(client, admin):
    response = await client.post("/api/auth/login", json={"username": "ADMIN", "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    me = await client.get(
        "/api/agents/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["username"] == "admin"


async def test_wrong_credentials_and_tokens_are_refused(client, admin, settings):
    for body in ({"username": "admin", "password": "nope"}, {"username": "ghost", "password": "nope"}):
        response = await client.post("/api/auth/login", json=body)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_credentials"
    assert (await client.get("/api/users")).status_code == 401
    assert (await client.get("/api/users", headers={"Authorization": "Bearer garbage"})).status_code == 401
    key = settings.secret_key.get_secret_value()
    expired = TokenSigner(key, timedelta(minutes=1)).issue(
        1, version=0, now=datetime.now(UTC) - timedelta(hours=1)
    )
    response = await client.get("/api/users", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    forged = TokenSigner("A" * 43 + "=", timedelta(minutes=5)).issue(1, version=0)
    assert (await client.get("/api/users", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_user_crud_never_shows_a_password(api, client, admin, caplog):
    caplog.set_level(logging.DEBUG)
    created = await api.create(
        admin, "/api/users", {"username": "alice", "password": "s3cret-pass", "full_name": "Alice"}
    )
    assert created["role"] == "agent"
    assert created["whatsapp_capacity"] == 5
    assert created["status"] == "offline"
    assert "password" not in created and "password_hash" not in created
    response = await client.patch(
        f"/api/users/{created['id']}",
        json={"whatsapp_capacity": 3, "password": "n3w-password"},
        headers=admin,
    )
    assert response.status_code == 200
    assert response.json()["whatsapp_capacity"] == 3
    assert await api.login("alice", "n3w-password")
    listing = await client.get("/api/users?limit=1&offset=1", headers=admin)
    assert listing.json()["count"] == 2
    assert [row["username"] for row in listing.json()["rows"]] == ["alice"]
    assert "s3cret-pass" not in caplog.text and "n3w-password" not in caplog.text


async def test_usernames_are_unique_ignoring_case(api, client, admin):
    await api.create(admin, "/api/users", {"username": "Bob", "password": "password-1"})
    response = await client.post(
        "/api/users", json={"username": "bob", "password": "password-2"}, headers=admin
    )
    assert response.status_code == 409
    assert error_fields(response) == {"username": "is already taken"}


async def test_invalid_users_get_field_errors(client, admin):
    response = await client.post(
        "/api/users",
        json={"username": "a b", "password": "short", "role": "king", "whatsapp_capacity": -1},
        headers=admin,
    )
    assert response.status_code == 422
    assert set(error_fields(response)) == {"username", "password", "role", "whatsapp_capacity"}
    response = await client.get("/api/users?limit=5000", headers=admin)
    assert response.status_code == 422
    assert "query.limit" in error_fields(response)


async def test_roles_guard_user_administration(api, client, admin):
    _, agent = await api.user(admin, "agent1")
    _, supervisor = await api.user(admin, "super1", role="supervisor")
    assert (await client.get("/api/users", headers=agent)).status_code == 403
    assert (await client.get("/api/users", headers=supervisor)).status_code == 200
    response = await client.post(
        "/api/users", json={"username": "x", "password": "password-1"}, headers=supervisor
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_admin_cannot_lock_themselves_out(client, admin):
    me = (await client.get("/api/agents/me", headers=admin)).json()
    assert (await client.delete(f"/api/users/{me['id']}", headers=admin)).status_code == 409
    response = await client.patch(f"/api/users/{me['id']}", json={"role": "agent"}, headers=admin)
    assert response.status_code == 409


async def test_deleting_a_user_named_by_a_plan_is_refused_with_the_account(api, client, admin):
    contact_list = await api.create(admin, "/api/cm/lists", {"name": "L"})
    account = await api.create(
        admin,
        "/api/whatsapp/accounts",
        {"name": "A", "key": "ACC", "list_id": contact_list["id"], "type": "twilio", "phone": "15550001111",
         "credentials": {"account_sid": "AC1", "auth_token": "t"}},
    )  # fmt: skip
    agent_id, _ = await api.user(admin, "carol")
    queue = await api.create(admin, "/api/whatsapp/queues", {"name": "Q"})
    await client.post(f"/api/whatsapp/queues/{queue['id']}/agents", json={"ids": [agent_id]}, headers=admin)
    await client.post(
        f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": [agent_id]}, headers=admin
    )
    plan = [{"application": "agent", "params": {"agent_id": agent_id, "timeout": 20}}]
    assert (
        await client.put(f"/api/whatsapp/accounts/{account['id']}/actions", json=plan, headers=admin)
    ).status_code == 200
    response = await client.delete(f"/api/users/{agent_id}", headers=admin)
    assert response.status_code == 409
    assert "ACC" in response.json()["error"]["message"]
    await client.put(f"/api/whatsapp/accounts/{account['id']}/actions", json=[], headers=admin)
    assert (await client.delete(f"/api/users/{agent_id}", headers=admin)).status_code == 204
    members = await client.get(f"/api/whatsapp/queues/{queue['id']}/agents", headers=admin)
    assert members.json()["count"] == 0


async def test_agent_status(api, client, admin):
    _, agent = await api.user(admin, "dave")
    pause = await api.create(admin, "/api/pauses", {"name": "Lunch"})
    response = await client.put("/api/agents/me/status", json={"status": "paused"}, headers=agent)
    assert response.status_code == 422
    response = await client.put(
        "/api/agents/me/status", json={"status": "paused", "pause_id": 999}, headers=agent
    )
    assert error_fields(response) == {"pause_id": "pause 999 does not exist"}
    response = await client.put(
        "/api/agents/me/status", json={"status": "paused", "pause_id": pause["id"]}, headers=agent
    )
    assert response.status_code == 200
    assert response.json()["status"] == "paused"
    assert (await client.delete(f"/api/pauses/{pause['id']}", headers=admin)).status_code == 409
    response = await client.put("/api/agents/me/status", json={"status": "online"}, headers=agent)
    assert response.json()["status"] == "online"
    assert response.json()["pause_id"] is None
    assert response.json()["whatsapp_capacity"] == 5
    assert (await client.delete(f"/api/pauses/{pause['id']}", headers=admin)).status_code == 204
