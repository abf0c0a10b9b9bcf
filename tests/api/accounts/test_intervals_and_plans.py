"""Intervals and action plans through the API, and the references that protect them."""

from __future__ import annotations

import pytest

from tests.conftest import error_fields


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([], "rules"),
        ([{"time_from": "25:00", "time_to": "26:00"}], "rules.0.time_from"),
        ([{"time_from": "09:00"}], "rules.0"),
        ([{"weekdays": ["monday"]}], "rules.0.weekdays.0"),
        ([{"month_days": [32]}], "rules.0.month_days.0"),
        ([{"months": ["january"]}], "rules.0.months.0"),
        ([{"always": True, "weekdays": ["mon"]}], "rules.0"),
        ([{}], "rules.0"),
    ],
)
async def test_interval_rules_are_validated(client, admin, rules, field):
    response = await client.post("/api/intervals", json={"name": "Office", "rules": rules}, headers=admin)
    assert response.status_code == 422
    assert field in error_fields(response)


async def test_interval_crud(api, client, admin):
    response = await client.post(
        "/api/intervals",
        json={"name": "X", "timezone": "Mars/Olympus", "rules": [{"always": True}]},
        headers=admin,
    )
    assert error_fields(response)["timezone"].startswith("Value error, unknown timezone")
    rules = [{"time_from": "09:00", "time_to": "18:00", "weekdays": ["mon", "fri"]}]
    interval = await api.create(
        admin, "/api/intervals", {"name": "Office", "timezone": "Europe/Rome", "rules": rules}
    )
    assert interval["rules"][0]["weekdays"] == ["mon", "fri"]
    response = await client.patch(
        f"/api/intervals/{interval['id']}", json={"rules": [{"always": True}]}, headers=admin
    )
    assert response.json()["rules"][0]["always"] is True
    assert response.json()["timezone"] == "Europe/Rome"


@pytest.fixture
async def setup(api, client, admin):
    contact_list = await api.create(admin, "/api/cm/lists", {"name": "L"})
    account = await api.create(
        admin,
        "/api/whatsapp/accounts",
        {
            "name": "A",
            "key": "PLAN",
            "list_id": contact_list["id"],
            "type": "twilio",
            "phone": "15550001111",
            "credentials": {"account_sid": "AC1", "auth_token": "t"},
        },
    )
    agent_id, _ = await api.user(admin, "frank")
    await client.post(
        f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": [agent_id]}, headers=admin
    )
    queue = await api.create(admin, "/api/whatsapp/queues", {"name": "Care"})
    interval = await api.create(
        admin, "/api/intervals", {"name": "Office", "rules": [{"time_from": "09:00", "time_to": "18:00"}]}
    )
    disposition = await api.create(
        admin, f"/api/whatsapp/accounts/{account['id']}/dispositions", {"name": "Done"}
    )
    return {
        "account": account,
        "agent_id": agent_id,
        "queue": queue,
        "interval": interval,
        "disposition": disposition,
    }


def full_plan(s):
    return [
        {"application": "tag", "params": {"tags": ["new"]}},
        {
            "application": "gotoif",
            "params": {"condition": {"interval_id": s["interval"]["id"]}, "true_step": 3, "false_step": 6},
        },
        {
            "application": "agent",
            "params": {"agent_id": s["agent_id"], "timeout": 30},
            "interval_id": s["interval"]["id"],
        },
        {"application": "queue", "params": {"queue_id": s["queue"]["id"], "timeout": 60}},
        {
            "application": "gotoif",
            "params": {
                "condition": {
                    "match": "any",
                    "rules": [{"field": "message.body", "operator": "contains", "value": "urgent"}],
                },
                "true_step": 4,
                "false_step": 6,
            },
        },
        {"application": "autoreply", "params": {"text": "We are closed", "times": "first"}},
        {"application": "noop", "params": {"value": "closing"}},
        {"application": "close", "params": {"disposition_id": s["disposition"]["id"]}},
        {"application": "gotop", "params": {"step": 1}},
    ]


async def test_plan_is_stored_in_order_and_replaced_whole(client, admin, setup):
    path = f"/api/whatsapp/accounts/{setup['account']['id']}/actions"
    response = await client.put(path, json=full_plan(setup), headers=admin)
    assert response.status_code == 200, response.text
    stored = (await client.get(path, headers=admin)).json()
    assert [step["step"] for step in stored] == list(range(1, 10))
    assert [step["application"] for step in stored] == [s["application"] for s in full_plan(setup)]
    assert stored[2]["interval_id"] == setup["interval"]["id"]
    assert stored[3]["params"] == {"queue_id": setup["queue"]["id"], "timeout": 60}
    response = await client.put(path, json=[{"application": "noop"}], headers=admin)
    assert [step["application"] for step in response.json()] == ["noop"]


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"application": "dance", "params": {}}, "0.application"),
        ({"application": "agent", "params": {"agent_id": 999}}, "0.params.agent_id"),
        ({"application": "agent", "params": {"agent_id": 1, "timeout": 0}}, "0.params.timeout"),
        ({"application": "queue", "params": {"queue_id": 999}}, "0.params.queue_id"),
        ({"application": "autoreply", "params": {"text": "hi", "times": "twice"}}, "0.params.times"),
        ({"application": "gotop", "params": {"step": 5}}, "0.params.step"),
        (
            {
                "application": "gotoif",
                "params": {
                    "condition": {"rules": [{"field": "contact.shoe", "operator": "equals", "value": "x"}]},
                    "true_step": 1,
                    "false_step": 1,
                },
            },
            "0.params.condition",
        ),
        ({"application": "close", "params": {"disposition_id": 999}}, "0.params.disposition_id"),
        ({"application": "tag", "params": {"tags": []}}, "0.params.tags"),
        ({"application": "noop", "params": {"value": "x", "extra": 1}}, "0.params.extra"),
        ({"application": "noop", "interval_id": 999}, "0.interval_id"),
    ],
)
async def test_invalid_steps_name_the_step_and_keep_the_old_plan(client, admin, setup, step, field):
    path = f"/api/whatsapp/accounts/{setup['account']['id']}/actions"
    await client.put(path, json=[{"application": "noop", "params": {"value": "old"}}], headers=admin)
    response = await client.put(path, json=[step], headers=admin)
    assert response.status_code == 422, response.text
    assert any(name.startswith(field) for name in error_fields(response)), error_fields(response)
    assert (await client.get(path, headers=admin)).json()[0]["params"] == {"value": "old"}


async def test_agent_step_needs_an_account_member(api, client, admin, setup):
    outsider_id, _ = await api.user(admin, "outsider")
    path = f"/api/whatsapp/accounts/{setup['account']['id']}/actions"
    response = await client.put(
        path, json=[{"application": "agent", "params": {"agent_id": outsider_id}}], headers=admin
    )
    assert error_fields(response) == {
        "0.params.agent_id": f"user {outsider_id} is not an agent of this account"
    }


async def test_what_a_plan_names_cannot_be_deleted_from_under_it(client, admin, setup):
    path = f"/api/whatsapp/accounts/{setup['account']['id']}/actions"
    assert (await client.put(path, json=full_plan(setup), headers=admin)).status_code == 200
    targets = [
        f"/api/whatsapp/queues/{setup['queue']['id']}",
        f"/api/intervals/{setup['interval']['id']}",
        f"/api/users/{setup['agent_id']}",
        f"/api/whatsapp/accounts/{setup['account']['id']}/dispositions/{setup['disposition']['id']}",
    ]
    for target in targets:
        response = await client.delete(target, headers=admin)
        assert response.status_code == 409, target
        assert response.json()["error"]["code"] == "referenced"
    await client.put(path, json=[], headers=admin)
    for target in targets:
        assert (await client.delete(target, headers=admin)).status_code == 204, target


async def test_dispositions_have_up_to_three_levels(api, client, admin, setup):
    base = f"/api/whatsapp/accounts/{setup['account']['id']}/dispositions"
    top = setup["disposition"]
    second = await api.create(admin, base, {"name": "Sale", "level": 2, "parent_id": top["id"]})
    third = await api.create(admin, base, {"name": "Upsell", "level": 3, "parent_id": second["id"]})
    assert third["level"] == 3
    for body, field in (
        ({"name": "x", "level": 4, "parent_id": third["id"]}, "level"),
        ({"name": "x", "level": 2}, "body"),
        ({"name": "x", "level": 1, "parent_id": top["id"]}, "body"),
        ({"name": "x", "level": 3, "parent_id": top["id"]}, "parent_id"),
    ):
        response = await client.post(base, json=body, headers=admin)
        assert response.status_code == 422, body
        assert field in error_fields(response), body
    response = await client.delete(f"{base}/{second['id']}", headers=admin)
    assert response.status_code == 409
    assert "Upsell" in response.json()["error"]["message"]


async def test_canned_answers_are_per_account_and_searchable(api, client, admin, setup):
    base = f"/api/whatsapp/accounts/{setup['account']['id']}/answers"
    await api.create(admin, base, {"name": "greeting", "value": "Hello {{contact.first_name}}"})
    await api.create(admin, base, {"name": "bye", "value": "Goodbye"})
    assert (await client.post(base, json={"name": "bye", "value": "again"}, headers=admin)).status_code == 409
    found = await client.get(f"{base}?search=HELLO", headers=admin)
    assert [row["name"] for row in found.json()["rows"]] == ["greeting"]
    member = await api.login("frank", "password-123")
    assert (await client.get(base, headers=member)).json()["count"] == 2
    assert (await client.post(base, json={"name": "mine", "value": "x"}, headers=member)).status_code == 403
    _, outsider = await api.user(admin, "grace")
    assert (await client.get(base, headers=outsider)).status_code == 404
