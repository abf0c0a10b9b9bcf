"""The interactions list: every filter, the sorts, the advanced `conditions` search (each field
type and operator, all/any, disabled rules, each bad rule's 422), agents' visibility and the
search vocabulary at /search-fields. Data from tests/support/seeded.py (i1..i4)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import error_fields
from tests.support.seeded import DAY, Seeded, seed
from tests.webhooks import make_account

LIST = "/api/whatsapp/interactions"


@dataclass
class Lister:
    client: httpx.AsyncClient
    data: Seeded

    async def found(self, headers: dict[str, str], **params: Any) -> list[str]:
        """The seeded interactions (by name) the list answers with, in its order."""
        response = await self.client.get(LIST, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["rows"])
        return self.data.names(body["rows"])

    async def searched(self, headers: dict[str, str], *rules: dict[str, Any], match: str = "all") -> set[str]:
        conditions = json.dumps({"match": match, "rules": list(rules)})
        return set(await self.found(headers, conditions=conditions))


@pytest.fixture
async def data(api, client, admin, fakes, settings) -> Seeded:
    return await seed(api, client, admin, fakes, settings)


@pytest.fixture
def ls(client, data) -> Lister:
    return Lister(client, data)


def rule(field: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value, **extra}


async def test_each_filter_narrows_the_list(client, admin, data, ls):
    a, b = data.accounts["A"]["id"], data.accounts["B"]["id"]
    ann, bob = data.agents["ann"].id, data.agents["bob"].id
    d = data.dispositions
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({}, {"i1", "i2", "i3", "i4"}),
        ({"account_id": a}, {"i1", "i2", "i3"}),
        ({"account_id": b}, {"i4"}),
        ({"agent_id": ann}, {"i1"}),
        ({"agent_id": ann, "participant": "true"}, {"i1", "i2"}),  # accepted i2 before bob, wrote in it
        ({"agent_id": bob, "participant": "true"}, {"i2"}),
        ({"queue_id": data.queue["id"]}, {"i1", "i3"}),
        ({"status": "open"}, {"i1", "i3", "i4"}),  # owned or waiting
        ({"status": "open-pending"}, {"i3"}),
        ({"status": "closed"}, {"i2"}),
        ({"read": "true"}, {"i2"}),
        ({"read": "false"}, {"i1", "i3", "i4"}),
        ({"tags": ["vip", "billing"]}, {"i1", "i2", "i4"}),  # any of
        ({"tags": ["VIP"]}, set()),  # tags are exact
        ({"tags_all": ["vip", "billing"]}, {"i1"}),
        ({"started_from": (DAY + timedelta(days=1)).isoformat()}, {"i2", "i3", "i4"}),
        ({"started_to": (DAY + timedelta(days=1)).isoformat()}, {"i1", "i2"}),  # both ends included
        (
            {
                "started_from": (DAY + timedelta(hours=1)).isoformat(),
                "started_to": (DAY + timedelta(days=2)).isoformat(),
            },
            {"i2", "i3"},
        ),
        ({"closed_from": DAY.isoformat()}, {"i2"}),
        ({"closed_to": (DAY + timedelta(days=1)).isoformat()}, set()),
        ({"disposition_id": d["D1"]}, {"i2"}),  # disposed D3, a sub-disposition of D1's D2
        ({"disposition_id": d["D2"]}, {"i2"}),
        ({"disposition_id": d["D3"]}, {"i2"}),
        ({"disposition_id": d["D4"]}, set()),
        ({"window": "open"}, {"i1", "i3"}),
        ({"window": "closed"}, {"i2", "i4"}),  # i4's customer never wrote by the provider's clock
        ({"q": "ada"}, {"i1"}),
        ({"q": "ADA LOVE"}, {"i1"}),  # "first last"
        ({"q": "builder"}, {"i2"}),
        ({"q": "+39 333-111"}, {"i1"}),  # a mobile as people write it
        ({"q": "3933"}, {"i1", "i2"}),
        ({"q": "example.com"}, set()),  # names and mobiles only
        ({"q": "%"}, set()),  # LIKE's wildcards are plain characters
        ({"q": " "}, {"i1", "i2", "i3", "i4"}),  # blank: no filter
        ({"account_id": a, "status": "open", "tags": ["vip"]}, {"i1"}),  # every filter must hold
    ]
    for params, expected in cases:
        assert set(await ls.found(admin, **params)) == expected, params


async def test_sorts_by_each_time_either_way_with_missing_times_last(client, admin, data, ls):
    assert await ls.found(admin, sort="started_at", order="asc") == ["i1", "i2", "i3", "i4"]
    assert await ls.found(admin, sort="started_at") == ["i4", "i3", "i2", "i1"]
    # awaiting a reply longest first; i4 has no inbound time, so it comes last either way
    assert await ls.found(admin, sort="last_inbound_at", order="asc") == ["i2", "i3", "i1", "i4"]
    assert await ls.found(admin, sort="last_inbound_at", order="desc") == ["i1", "i3", "i2", "i4"]
    assert await ls.found(admin) == ["i1", "i3", "i2", "i4"]  # default: latest message first
    assert await ls.found(admin, sort="last_message_at", order="asc") == ["i2", "i3", "i1", "i4"]
    page = (
        await client.get(LIST, params={"sort": "started_at", "limit": 2, "offset": 1}, headers=admin)
    ).json()
    assert (page["count"], data.names(page["rows"])) == (4, ["i3", "i2"])
    for bad in (
        {"sort": "contact"},
        {"order": "up"},
        {"window": "ajar"},
        {"started_from": "2026-01-01T00:00"},
    ):
        response = await client.get(LIST, params=bad, headers=admin)
        assert response.status_code == 422, bad


async def test_each_operator_on_each_kind_of_field(client, admin, data, ls):
    d, q = data.dispositions, data.queue["id"]
    ann, bob, cat = data.agents["ann"].id, data.agents["bob"].id, data.agents["cat"].id
    later = (DAY + timedelta(days=1, hours=1)).isoformat()
    cases: list[tuple[dict[str, Any], set[str]]] = [
        # text, ignoring case
        (rule("contact.first_name", "equals", "ADA"), {"i1"}),
        (rule("contact.first_name", "not_equals", "ada"), {"i2", "i3", "i4"}),
        (rule("contact.last_name", "contains", "ove"), {"i1"}),
        (rule("contact.last_name", "not_contains", "ove"), {"i2", "i3", "i4"}),
        (rule("contact.mobile", "starts_with", "39333"), {"i1", "i2"}),
        (rule("contact.mobile", "ends_with", "1111"), {"i1", "i4"}),
        (rule("contact.mobile", "equals", 441234567890), {"i3"}),  # a number is read as its digits
        (rule("contact.first_name", "in", ["bob", "Dan"]), {"i2", "i4"}),
        (rule("contact.last_name", "is_empty"), {"i3"}),
        (rule("contact.email", "is_empty"), {"i2", "i4"}),  # null is empty
        (rule("contact.email", "is_not_empty"), {"i1", "i3"}),
        (rule("contact.email", "ends_with", "_example.org"), set()),  # `_` is no wildcard
        (rule("contact.email", "contains", "@example."), {"i1", "i3"}),
        (rule("contact.list_id", "equals", data.lists["B"]), {"i4"}),
        (rule("contact.list_id", "not_equals", data.lists["B"]), {"i1", "i2", "i3"}),
        # messages: the latest inbound, or any inbound
        (rule("message.body", "contains", "please"), {"i2"}),
        (rule("message.body", "equals", "hello"), set()),  # i2's latest is the invoice
        (rule("messages.text", "equals", "hello"), {"i2"}),
        (rule("messages.text", "contains", "refund"), {"i1"}),
        (rule("messages.text", "not_contains", "h"), {"i1"}),  # no inbound message of i1 has an h
        (rule("messages.text", "contains", "sure"), set()),  # outbound messages are not searched
        (rule("messages.text", "contains", "note"), set()),  # nor notes
        (rule("messages.text", "starts_with", "invoice_"), {"i2"}),
        (rule("messages.text", "in", ["hola", "HI THERE"]), {"i3", "i4"}),
        # tags: any tag holds; negations hold when no tag does
        (rule("interaction.tags", "equals", "VIP"), {"i1", "i4"}),
        (rule("interaction.tags", "not_equals", "vip"), {"i2", "i3"}),
        (rule("interaction.tags", "contains", "ill"), {"i1", "i2"}),
        (rule("interaction.tags", "not_contains", "ill"), {"i3", "i4"}),
        (rule("interaction.tags", "starts_with", "bil"), {"i1", "i2"}),
        (rule("interaction.tags", "ends_with", "ip"), {"i1", "i4"}),
        (rule("interaction.tags", "in", ["billing", "nothing"]), {"i1", "i2"}),
        (rule("interaction.tags", "is_empty"), {"i3"}),
        (rule("interaction.tags", "is_not_empty"), {"i1", "i2", "i4"}),
        # ids and choices
        (rule("interaction.account_id", "equals", data.accounts["B"]["id"]), {"i4"}),
        (rule("interaction.owner_id", "equals", ann), {"i1"}),
        (rule("interaction.owner_id", "not_equals", ann), {"i2", "i3", "i4"}),  # no owner is not ann
        (rule("interaction.owner_id", "in", [bob, cat]), {"i2", "i4"}),
        (rule("interaction.owner_id", "is_empty"), {"i3"}),
        (rule("interaction.owner_id", "is_not_empty"), {"i1", "i2", "i4"}),
        (rule("interaction.queue_id", "equals", q), {"i1", "i3"}),
        (rule("interaction.queue_id", "is_empty"), {"i2", "i4"}),
        (rule("interaction.disposition_id", "equals", d["D1"]), {"i2"}),  # any level
        (rule("interaction.disposition_id", "in", [d["D4"], d["D2"]]), {"i2"}),
        (rule("interaction.disposition_id", "not_equals", d["D2"]), {"i1", "i3", "i4"}),
        (rule("interaction.disposition_id", "is_empty"), {"i1", "i3", "i4"}),
        (rule("interaction.status", "equals", "open"), {"i1", "i3", "i4"}),
        (rule("interaction.status", "not_equals", "open"), {"i2"}),
        (rule("interaction.status", "in", ["open-pending", "closed"]), {"i2", "i3"}),
        (rule("interaction.read", "equals", True), {"i2"}),
        (rule("interaction.read", "not_equals", True), {"i1", "i3", "i4"}),
        # times
        (rule("interaction.started_at", "gt", (DAY + timedelta(days=1)).isoformat()), {"i3", "i4"}),
        (rule("interaction.started_at", "gte", (DAY + timedelta(days=1)).isoformat()), {"i2", "i3", "i4"}),
        (rule("interaction.started_at", "lt", (DAY + timedelta(days=1)).isoformat()), {"i1"}),
        (rule("interaction.started_at", "lte", "2026-01-02T11:00:00+01:00"), {"i1", "i2"}),  # zones count
        (rule("interaction.closed_at", "gt", later), {"i2"}),
        (rule("interaction.closed_at", "is_empty"), {"i1", "i3", "i4"}),
        (rule("interaction.closed_at", "is_not_empty"), {"i2"}),
        (
            rule("interaction.last_inbound_at", "gte", (datetime.now(UTC) - timedelta(days=1)).isoformat()),
            {"i1", "i3"},
        ),
        (rule("interaction.last_inbound_at", "is_empty"), {"i4"}),
        # numbers: counts (notes left out) and the wait for the first accept
        (rule("interaction.inbound_count", "equals", 2), {"i2"}),
        (rule("interaction.inbound_count", "not_equals", 1), {"i2"}),
        (rule("interaction.inbound_count", "gt", 1), {"i2"}),
        (rule("interaction.inbound_count", "lte", 1), {"i1", "i3", "i4"}),
        (rule("interaction.outbound_count", "equals", 0), {"i3", "i4"}),
        (rule("interaction.outbound_count", "gte", 1), {"i1", "i2"}),
        (rule("interaction.outbound_count", "lt", 1), {"i3", "i4"}),
        (rule("interaction.wait_seconds", "lte", 30), {"i1", "i4"}),
        (rule("interaction.wait_seconds", "lt", 30), {"i4"}),
        (rule("interaction.wait_seconds", "gte", 60), {"i2", "i3"}),  # i3 has waited since January
        (rule("interaction.wait_seconds", "gt", 86400), {"i3"}),
        (rule("interaction.wait_seconds", "gt", 30.5), {"i2", "i3"}),
    ]
    for case, expected in cases:
        assert await ls.searched(admin, case) == expected, case


async def test_all_needs_every_rule_any_one_and_disabled_rules_are_ignored(client, admin, data, ls):
    vip = rule("interaction.tags", "equals", "vip")
    account_a = rule("interaction.account_id", "equals", data.accounts["A"]["id"])
    assert await ls.searched(admin, vip, account_a) == {"i1"}
    assert await ls.searched(admin, vip, account_a, match="any") == {"i1", "i2", "i3", "i4"}
    assert await ls.searched(admin, vip, {**account_a, "disabled": True}) == {"i1", "i4"}
    nothing = rule("contact.first_name", "equals", "nobody")
    assert await ls.searched(admin, nothing, {**vip, "disabled": True}, match="any") == set()
    # only disabled rules, or none: everything
    assert await ls.searched(admin, {**nothing, "disabled": True}) == {"i1", "i2", "i3", "i4"}
    assert set(await ls.found(admin, conditions=json.dumps({"rules": []}))) == {"i1", "i2", "i3", "i4"}
    # conditions and filters together: both hold
    conditions = json.dumps({"rules": [vip]})
    assert await ls.found(admin, conditions=conditions, account_id=data.accounts["B"]["id"]) == ["i4"]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (rule("contact.nickname", "equals", "x"), "field"),
        (rule("contact.first_name", "resembles", "x"), "operator"),
        (rule("contact.first_name", "gt", "x"), "does not apply"),
        (rule("contact.first_name", "equals"), "needs a value"),
        (rule("contact.first_name", "equals", ""), "needs a value"),
        (rule("contact.first_name", "equals", "x" * 501), "1 to 500"),
        (rule("contact.first_name", "in", "x"), "list"),
        (rule("contact.first_name", "in", []), "list"),
        (rule("contact.first_name", "in", ["x"] * 101), "list"),
        (rule("interaction.inbound_count", "gt", "many"), "number"),
        (rule("interaction.owner_id", "equals", True), "id"),
        (rule("interaction.owner_id", "in", [1, "two"]), "id"),
        (rule("interaction.read", "equals", "yes"), "boolean"),
        (rule("interaction.started_at", "gt", "2026-01-01T00:00:00"), "time zone"),
        (rule("interaction.started_at", "gt", "yesterday"), "time zone"),
        (rule("interaction.status", "equals", "lost"), "one of open, open-pending, closed"),
        (rule("messages.text", "is_empty"), "does not apply"),
        (rule("interaction.wait_seconds", "equals", 5), "does not apply"),
        ({**rule("contact.first_name", "equals", "x"), "extra": 1}, "extra"),
        ("not a rule", "object"),
    ],
)
async def test_a_bad_rule_is_a_422_naming_its_index_and_why(client, admin, bad, why):
    good = rule("contact.first_name", "equals", "Ada")
    conditions = json.dumps({"rules": [good, good, bad]})
    response = await client.get(LIST, params={"conditions": conditions}, headers=admin)
    assert response.status_code == 422, response.text
    fields = error_fields(response)
    assert list(fields) == ["conditions.rules.2"], fields
    assert why.lower() in fields["conditions.rules.2"].lower(), fields


async def test_a_condition_that_is_not_one_is_a_422_on_conditions(client, admin):
    for conditions, key in [
        ("{not json", "conditions"),
        ("[]", "conditions"),
        (json.dumps({"match": "most", "rules": []}), "conditions.match"),
        (json.dumps({"rules": [rule("contact.first_name", "is_empty")] * 51}), "conditions.rules"),
        (json.dumps({"rules": [], "sort": "x"}), "conditions.sort"),
    ]:
        response = await client.get(LIST, params={"conditions": conditions}, headers=admin)
        assert response.status_code == 422, conditions
        assert key in error_fields(response), (conditions, error_fields(response))


async def test_agents_see_only_their_accounts_whatever_they_ask(client, admin, data, ls):
    ann, cat = data.agents["ann"].headers, data.agents["cat"].headers
    assert set(await ls.found(ann)) == {"i1", "i2", "i3"}
    assert await ls.found(cat) == ["i4"]
    assert await ls.found(cat, account_id=data.accounts["A"]["id"]) == []
    everything = rule("interaction.account_id", "equals", data.accounts["A"]["id"])
    assert await ls.searched(cat, everything, rule("interaction.tags", "is_not_empty"), match="any") == {"i4"}
    assert await ls.found(cat, q="ada") == []
    assert await ls.found(ann, agent_id=data.agents["cat"].id, participant="true") == []


def sample(field: dict[str, Any], operator: str) -> Any:
    one = {
        "text": "x",
        "number": 1,
        "boolean": True,
        "datetime": "2026-01-01T00:00:00Z",
        "id": 1,
        "choice": (field["choices"] or [""])[0],
    }[field["type"]]
    return None if operator in ("is_empty", "is_not_empty") else [one] if operator == "in" else one


async def test_search_fields_list_every_field_and_each_field_and_operator_searches(client, admin, data, ls):
    response = await client.get(f"{LIST}/search-fields", headers=data.agents["ann"].headers)
    assert response.status_code == 200
    vocabulary = response.json()
    fields = {field["field"]: field for field in vocabulary["fields"]}
    assert {
        "contact.first_name", "contact.last_name", "contact.mobile", "contact.email", "contact.list_id",
        "messages.text", "message.body", "interaction.status", "interaction.read", "interaction.owner_id",
        "interaction.queue_id", "interaction.tags", "interaction.disposition_id", "interaction.started_at",
        "interaction.closed_at", "interaction.inbound_count", "interaction.outbound_count",
        "interaction.wait_seconds",
    } <= set(fields)  # fmt: skip
    assert fields["interaction.status"]["choices"] == ["open", "open-pending", "closed"]
    assert fields["interaction.started_at"] == {
        "field": "interaction.started_at",
        "type": "datetime",
        "operators": ["gt", "gte", "lt", "lte"],
        "description": fields["interaction.started_at"]["description"],
        "choices": [],
        "in_plans": False,
    }
    assert fields["contact.first_name"]["in_plans"] and not fields["interaction.read"]["in_plans"]
    operators = {operator["operator"]: operator["value"] for operator in vocabulary["operators"]}
    assert operators == {
        "equals": "one", "not_equals": "one", "contains": "one", "not_contains": "one", "starts_with": "one",
        "ends_with": "one", "gt": "one", "gte": "one", "lt": "one", "lte": "one", "is_empty": "none",
        "is_not_empty": "none", "in": "list",
    }  # fmt: skip
    for field in fields.values():
        for operator in field["operators"]:
            conditions = json.dumps({"rules": [rule(field["field"], operator, sample(field, operator))]})
            answer = await client.get(LIST, params={"conditions": conditions}, headers=admin)
            assert answer.status_code == 200, (field["field"], operator, answer.text)
        unlisted = next(operator for operator in operators if operator not in field["operators"])
        conditions = json.dumps({"rules": [rule(field["field"], unlisted, sample(field, "equals"))]})
        assert (await client.get(LIST, params={"conditions": conditions}, headers=admin)).status_code == 422
    assert (await client.get(f"{LIST}/search-fields")).status_code == 401


async def test_a_gotoif_shares_the_vocabulary_but_only_fields_a_running_plan_knows(api, client, admin, fakes):
    account = await make_account(api, admin, fakes, "twilio")
    path = f"/api/whatsapp/accounts/{account['id']}/actions"

    def gotoif(*rules: dict[str, Any]) -> list[dict[str, Any]]:
        condition = {"match": "any", "rules": list(rules)}
        params = {"condition": condition, "true_step": 2, "false_step": 2}
        return [{"application": "gotoif", "params": params}, {"application": "noop", "params": {}}]

    tags_in = rule("interaction.tags", "in", ["vip", "gold"])
    assert (await client.put(path, json=gotoif(tags_in), headers=admin)).status_code == 200
    stored = (await client.get(path, headers=admin)).json()[0]["params"]["condition"]["rules"][0]
    assert (stored["operator"], stored["value"]) == ("in", ["vip", "gold"])
    refused = await client.put(
        path, json=gotoif(tags_in, rule("interaction.read", "equals", True)), headers=admin
    )
    assert refused.status_code == 422
    assert "interaction.read is not known while a plan runs" in json.dumps(error_fields(refused))
    wrong = await client.put(path, json=gotoif(rule("contact.first_name", "gt", "a")), headers=admin)
    assert wrong.status_code == 422
    assert "does not apply" in json.dumps(error_fields(wrong))


async def test_odd_values_are_answered_never_a_500(client, admin):
    odd_rules = [
        rule("contact.first_name", "contains", "nul\u0000byte"),
        rule("interaction.owner_id", "equals", 10**30),
        rule("interaction.owner_id", "in", [2**63, -(2**63) - 1]),
        rule("interaction.inbound_count", "gt", 1e308),
        rule("interaction.wait_seconds", "lt", -1e308),
        rule("interaction.started_at", "gt", "9999-12-31T23:59:59+14:00"),
        rule("messages.text", "contains", "\\%_'\"; DROP TABLE messages; --"),
    ]
    for odd in odd_rules:
        response = await client.get(LIST, params={"conditions": json.dumps({"rules": [odd]})}, headers=admin)
        assert response.status_code in (200, 422), (odd, response.text)
    for params in ({"q": "a\u0000b"}, {"tags": ["x\u0000"]}, {"account_id": 2**40}, {"conditions": "NaN"}):
        response = await client.get(LIST, params=params, headers=admin)
        assert response.status_code in (200, 422), (params, response.text)
    raw = '{"rules":[{"field":"interaction.inbound_count","operator":"gt","value":NaN}]}'
    assert (await client.get(LIST, params={"conditions": raw}, headers=admin)).status_code in (200, 422)
