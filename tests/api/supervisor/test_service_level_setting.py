"""The account's `service_level_seconds` (the service level's threshold): default, change, bounds."""

from __future__ import annotations

from tests.conftest import error_fields
from tests.webhooks import make_account


async def test_the_threshold_defaults_to_60_and_is_bounded(api, client, admin, fakes):
    account = await make_account(api, admin, fakes, "twilio")
    assert account["service_level_seconds"] == 60
    path = f"/api/whatsapp/accounts/{account['id']}"
    changed = await client.patch(path, json={"service_level_seconds": 20}, headers=admin)
    assert changed.status_code == 200 and changed.json()["service_level_seconds"] == 20
    for bad in (0, 86401, None):
        response = await client.patch(path, json={"service_level_seconds": bad}, headers=admin)
        assert response.status_code == 422, bad
        assert "service_level_seconds" in error_fields(response), bad
    assert (await client.get(path, headers=admin)).json()["service_level_seconds"] == 20
