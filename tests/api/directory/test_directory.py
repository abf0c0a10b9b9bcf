"""Pauses, contact lists and contacts, queues and their agents."""

from __future__ import annotations

import pytest

from tests.conftest import error_fields


async def test_pauses_crud(api, client, admin):
    _, agent = await api.user(admin, "ann")
    pause = await api.create(admin, "/api/pauses", {"name": "Break"})
    assert (await client.post("/api/pauses", json={"name": "Break"}, headers=admin)).status_code == 409
    assert (await client.get("/api/pauses", headers=agent)).json()["rows"] == [pause]
    assert (await client.post("/api/pauses", json={"name": "Mine"}, headers=agent)).status_code == 403
    response = await client.put(f"/api/pauses/{pause['id']}", json={"name": "Coffee"}, headers=admin)
    assert response.json()["name"] == "Coffee"
    assert (await client.delete(f"/api/pauses/{pause['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/pauses/{pause['id']}", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    ("mobile", "stored"),
    [
        ("+39 333 123 4567", "393331234567"),
        ("14155238886", "14155238886"),
        ("(44) 20-7946-0958", "442079460958"),
    ],
)
async def test_contacts_store_international_digits(api, admin, mobile, stored):
    contact_list = await api.create(admin, "/api/cm/lists", {"name": "People"})
    contact = await api.create(
        admin, f"/api/cm/lists/{contact_list['id']}/contacts", {"mobile": mobile, "first_name": "Ann"}
    )
    assert contact["mobile"] == stored


async def test_contacts_validation_and_uniqueness(api, client, admin):
    contact_list = await api.create(admin, "/api/cm/lists", {"name": "People"})
    path = f"/api/cm/lists/{contact_list['id']}/contacts"
    response = await client.post(path, json={"mobile": "0039 abc", "email": "not-an-email"}, headers=admin)
    assert response.status_code == 422
    assert set(error_fields(response)) == {"mobile", "email"}
    await api.create(admin, path, {"mobile": "393331234567", "first_name": "Ann", "email": "ann@example.com"})
    response = await client.post(path, json={"mobile": "+39 333 1234567"}, headers=admin)
    assert response.status_code == 409
    assert error_fields(response) == {"mobile": "is already in this list"}
    found = await client.get(f"{path}?search=ANN", headers=admin)
    assert found.json()["count"] == 1
    assert (await client.get(f"{path}?search=%25", headers=admin)).json()["count"] == 0


async def test_deleting_a_list_takes_its_contacts_unless_an_account_uses_it(api, client, admin, settings):
    used = await api.create(admin, "/api/cm/lists", {"name": "Used"})
    spare = await api.create(admin, "/api/cm/lists", {"name": "Spare"})
    await api.create(admin, f"/api/cm/lists/{spare['id']}/contacts", {"mobile": "15551230000"})
    await api.create(
        admin,
        "/api/whatsapp/accounts",
        {"name": "A", "key": "LST", "list_id": used["id"], "type": "twilio", "phone": "15550001111",
         "credentials": {"account_sid": "AC1", "auth_token": "t"}},
    )  # fmt: skip
    response = await client.delete(f"/api/cm/lists/{used['id']}", headers=admin)
    assert response.status_code == 409
    assert "LST" in response.json()["error"]["message"]
    assert (await client.delete(f"/api/cm/lists/{spare['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/cm/lists/{spare['id']}/contacts", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Q", "strategy": "random"}, "strategy"),
        ({"name": "Q", "weight": 11}, "weight"),
        ({"name": "Q", "weight": -1}, "weight"),
        ({"name": "Q", "timeout": 0}, "timeout"),
        ({"name": ""}, "name"),
    ],
)
async def test_queue_validation(client, admin, body, field):
    response = await client.post("/api/whatsapp/queues", json=body, headers=admin)
    assert response.status_code == 422
    assert field in error_fields(response)


async def test_queues_and_membership(api, client, admin):
    queue = await api.create(
        admin, "/api/whatsapp/queues", {"name": "Sales", "strategy": "rrmemory", "weight": 3}
    )
    assert queue == {
        "id": queue["id"],
        "name": "Sales",
        "strategy": "rrmemory",
        "timeout": 10,
        "weight": 3,
        "description": "",
    }
    other = await api.create(admin, "/api/whatsapp/queues", {"name": "Care"})
    assert (
        await client.post("/api/whatsapp/queues", json={"name": "Sales"}, headers=admin)
    ).status_code == 409
    agent_id, agent = await api.user(admin, "eve")
    response = await client.post(
        f"/api/whatsapp/queues/{queue['id']}/agents", json={"ids": [agent_id, 999]}, headers=admin
    )
    assert response.status_code == 422
    assert "999" in error_fields(response)["ids"]
    for _ in range(2):  # adding twice is harmless
        response = await client.post(
            f"/api/whatsapp/queues/{queue['id']}/agents", json={"ids": [agent_id]}, headers=admin
        )
        assert response.status_code == 200
    assert [
        row["name"] for row in (await client.get("/api/whatsapp/queues", headers=agent)).json()["rows"]
    ] == ["Sales"]
    assert (await client.get(f"/api/whatsapp/queues/{other['id']}", headers=agent)).status_code == 404
    assert (await client.get(f"/api/whatsapp/queues/{queue['id']}/agents", headers=agent)).status_code == 403
    assert (
        await client.delete(f"/api/whatsapp/queues/{queue['id']}/agents/{agent_id}", headers=agent)
    ).status_code == 403
    assert (
        await client.delete(f"/api/whatsapp/queues/{queue['id']}/agents/{agent_id}", headers=admin)
    ).status_code == 204
    assert (
        await client.delete(f"/api/whatsapp/queues/{queue['id']}/agents/{agent_id}", headers=admin)
    ).status_code == 404
    response = await client.patch(
        f"/api/whatsapp/queues/{queue['id']}", json={"strategy": "leastrecent", "weight": None}, headers=admin
    )
    assert response.status_code == 422
    response = await client.patch(
        f"/api/whatsapp/queues/{queue['id']}", json={"strategy": "leastrecent"}, headers=admin
    )
    assert response.json()["strategy"] == "leastrecent"
    assert response.json()["weight"] == 3
