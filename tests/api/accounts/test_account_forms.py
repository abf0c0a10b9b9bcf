"""What the console's account form reads beside the account: the provider types' credential
fields, and the notification preview rendered by the server's own renderer."""

from __future__ import annotations

from models import ProviderType
from tests.conftest import error_fields


async def test_each_type_lists_its_credential_fields_and_which_are_secret(api, client, admin):
    response = await client.get("/api/whatsapp/account-types", headers=admin)
    assert response.status_code == 200, response.text
    types = {row["type"]: row for row in response.json()}
    assert set(types) == {kind.value for kind in ProviderType}
    meta = {field["name"]: field for field in types["meta"]["credentials"]}
    assert meta["auth_token"] == {"name": "auth_token", "kind": "secret", "required": True}
    assert meta["app_secret"] == {"name": "app_secret", "kind": "secret", "required": False}
    assert meta["phone_number_id"]["kind"] == "text"
    assert {field["name"]: field["kind"] for field in types["sinch_v2"]["credentials"]}["base_url"] == "url"
    assert (types["meta"]["recontact"], types["kaleyra"]["recontact"], types["twilio"]["recontact"]) == (
        True,
        True,
        False,
    )
    _, supervisor = await api.user(admin, "sue", role="supervisor")
    assert (await client.get("/api/whatsapp/account-types", headers=supervisor)).status_code == 403


async def test_the_preview_renders_a_template_or_says_why_it_cannot(client, admin):
    body = {"template": "{{account.key}}: {{contact.first_name}} in {{queue.name}}", "account_key": "ACME"}
    response = await client.post("/api/whatsapp/notification-preview", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "ACME: Maria in Sales"
    default = await client.post("/api/whatsapp/notification-preview", json={"template": ""}, headers=admin)
    assert default.json()["text"] == "Account: Support Queue: Sales From: 393331234567"
    broken = await client.post(
        "/api/whatsapp/notification-preview", json={"template": "{{#queue}}"}, headers=admin
    )
    assert broken.status_code == 422
    assert "mustache" in error_fields(broken)["template"]
