"""A stored secret goes only where it went when it was given: changing the address it is sent to
(a Sinch or Kaleyra base_url, the assistant's endpoint) needs the secret sent again, or "***"
would hand it to whoever the new address is."""

from __future__ import annotations

import pytest

from tests.conftest import error_fields
from tests.support.accounts import CREDENTIALS, account_body

EVIL = "https://collector.evil.example"


@pytest.fixture
async def contact_list(api, admin):
    return await api.create(admin, "/api/cm/lists", {"name": "Customers"})


async def stored_secrets(app, account_id):
    from models import Account

    services = app.state.services
    async with services.sessionmaker() as session:
        account = await session.get(Account, account_id)
        return services.secrets.open(account.encrypted_secrets)


@pytest.mark.parametrize(("provider", "secret"), [("kaleyra", "api_key"), ("sinch_v2", "key_secret")])
async def test_moving_base_url_needs_the_secret_again(
    api, client, admin, contact_list, app, provider, secret
):
    account = await api.create(admin, "/api/whatsapp/accounts", account_body(contact_list, provider))
    path = f"/api/whatsapp/accounts/{account['id']}"
    masked = account["credentials"]  # every secret "***", as a console sends them back

    for sent in ({**masked, "base_url": EVIL}, {"base_url": EVIL}):  # masked, or left out
        response = await client.patch(path, json={"credentials": sent}, headers=admin)
        assert response.status_code == 422, response.text
        assert set(error_fields(response)) == {f"credentials.{secret}"}
        assert "sent again" in error_fields(response)[f"credentials.{secret}"]
    assert (await client.get(path, headers=admin)).json()["credentials"]["base_url"] != EVIL

    other = {"kaleyra": "waba_id", "sinch_v2": "project_id"}[provider]
    same_place = {**masked, "base_url": CREDENTIALS[provider]["base_url"] + "/", other: "changed"}
    response = await client.patch(path, json={"credentials": same_place}, headers=admin)
    assert response.status_code == 200, response.text  # the address did not change: "***" keeps it

    response = await client.patch(
        path, json={"credentials": {**masked, "base_url": EVIL, secret: "new-secret-for-evil"}}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert (await stored_secrets(app, account["id"]))[f"credentials.{secret}"] == "new-secret-for-evil"


async def test_moving_the_assistant_endpoint_needs_its_key_again(api, client, admin, contact_list, app):
    assistant = {
        "enabled": True,
        "base_url": "https://llm.example/v1",
        "model": "m",
        "api_key": "assistant-key",
    }
    body = account_body(contact_list, "meta", assistant=assistant)
    account = await api.create(admin, "/api/whatsapp/accounts", body)
    path = f"/api/whatsapp/accounts/{account['id']}"

    for sent in ({"base_url": EVIL, "api_key": "***"}, {"base_url": EVIL}):
        response = await client.patch(path, json={"assistant": sent}, headers=admin)
        assert response.status_code == 422, response.text
        assert set(error_fields(response)) == {"assistant.api_key"}
    assert (await client.get(path, headers=admin)).json()["assistant"]["base_url"] == "https://llm.example/v1"

    response = await client.patch(path, json={"assistant": {"model": "m2", "api_key": "***"}}, headers=admin)
    assert response.status_code == 200, response.text
    response = await client.patch(path, json={"assistant": {"base_url": None}}, headers=admin)
    assert response.status_code == 200, response.text  # back to the settings' endpoint and key
    response = await client.patch(path, json={"assistant": {"base_url": EVIL}}, headers=admin)
    assert response.status_code == 422  # the stored key would go to a new address
    response = await client.patch(
        path, json={"assistant": {"base_url": EVIL, "api_key": "k2"}}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert (await stored_secrets(app, account["id"]))["assistant.api_key"] == "k2"
