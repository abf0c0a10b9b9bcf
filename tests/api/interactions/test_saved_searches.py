"""Saved searches (`/api/whatsapp/searches`): each user's own named list queries, CRUD, checked
as the list checks its query, run back through the list; nobody else sees or changes them."""

from __future__ import annotations

import json

from tests.conftest import error_fields
from tests.support.seeded import seed

SEARCHES = "/api/whatsapp/searches"
VIP = json.dumps(
    {"match": "all", "rules": [{"field": "interaction.tags", "operator": "equals", "value": "vip"}]}
)


async def test_a_user_saves_reads_renames_replaces_and_deletes_a_search(api, client, admin):
    _, ann = await api.user(admin, "ann")
    query = {"status": "open", "tags": ["vip"], "conditions": VIP, "sort": "started_at", "order": "asc"}
    created = await client.post(SEARCHES, json={"name": " Open VIPs ", "query": query}, headers=ann)
    assert created.status_code == 201, created.text
    search = created.json()
    assert search["name"] == "Open VIPs"
    assert {name: search["query"][name] for name in query} == query
    assert search["query"]["account_id"] is None  # the whole query, defaults too
    path = f"{SEARCHES}/{search['id']}"
    assert (await client.get(path, headers=ann)).json() == search

    renamed = await client.patch(path, json={"name": "VIPs"}, headers=ann)
    assert (renamed.status_code, renamed.json()["name"], renamed.json()["query"]["tags"]) == (
        200,
        "VIPs",
        ["vip"],
    )
    replaced = await client.put(path, json={"name": "Closed", "query": {"status": "closed"}}, headers=ann)
    assert replaced.status_code == 200
    assert (replaced.json()["query"]["status"], replaced.json()["query"]["tags"]) == ("closed", [])
    other = await api.create(ann, SEARCHES, {"name": "Everything"})
    listed = (await client.get(SEARCHES, headers=ann)).json()
    assert (listed["count"], [row["name"] for row in listed["rows"]]) == (2, ["Closed", "Everything"])

    assert (await client.delete(path, headers=ann)).status_code == 204
    assert (await client.get(path, headers=ann)).status_code == 404
    assert [row["id"] for row in (await client.get(SEARCHES, headers=ann)).json()["rows"]] == [other["id"]]


async def test_another_user_can_neither_see_nor_change_a_search(api, client, admin):
    ann_id, ann = await api.user(admin, "ann")
    _, bob = await api.user(admin, "bob")
    mine = await api.create(ann, SEARCHES, {"name": "Mine", "query": {"read": False}})
    path = f"{SEARCHES}/{mine['id']}"
    for headers in (bob, admin):  # not even an admin: a saved search is its user's own
        assert (await client.get(SEARCHES, headers=headers)).json() == {"count": 0, "rows": []}
        assert (await client.get(path, headers=headers)).status_code == 404
        assert (await client.patch(path, json={"name": "Taken"}, headers=headers)).status_code == 404
        assert (await client.put(path, json={"name": "Taken"}, headers=headers)).status_code == 404
        assert (await client.delete(path, headers=headers)).status_code == 404
    assert (await client.get(path, headers=ann)).json()["name"] == "Mine"
    # the same name is anyone's to use, once per user (ignoring case)
    assert (await client.post(SEARCHES, json={"name": "mine"}, headers=bob)).status_code == 201
    duplicate = await client.post(SEARCHES, json={"name": "MINE"}, headers=ann)
    assert (duplicate.status_code, list(error_fields(duplicate))) == (409, ["name"])
    assert (await client.get(path)).status_code == 401
    # deleting the user deletes its searches
    assert (await client.delete(f"/api/users/{ann_id}", headers=admin)).status_code == 204
    assert (await client.get(SEARCHES, headers=bob)).json()["count"] == 1


async def test_a_saved_query_is_checked_as_the_list_checks_it(api, client, admin):
    _, ann = await api.user(admin, "ann")
    bad_rule = json.dumps({"rules": [{"field": "interaction.read", "operator": "contains", "value": "x"}]})
    for body, field in [
        ({"name": "x", "query": {"conditions": bad_rule}}, "query.conditions.rules.0"),
        ({"name": "x", "query": {"conditions": "{nope"}}, "query.conditions"),
        ({"name": "x", "query": {"status": "lost"}}, "query.status"),
        ({"name": "x", "query": {"limit": 5}}, "query.limit"),  # paging is not part of a search
        ({"name": "", "query": {}}, "name"),
        ({"query": {}}, "name"),
    ]:
        response = await client.post(SEARCHES, json=body, headers=ann)
        assert response.status_code == 422, body
        assert field in error_fields(response), (body, error_fields(response))
    search = await api.create(ann, SEARCHES, {"name": "ok"})
    response = await client.patch(
        f"{SEARCHES}/{search['id']}", json={"query": {"conditions": bad_rule}}, headers=ann
    )
    assert (response.status_code, list(error_fields(response))) == (422, ["query.conditions.rules.0"])


async def test_a_saved_search_run_through_the_list_finds_what_the_query_does(
    api, client, admin, fakes, settings
):
    data = await seed(api, client, admin, fakes, settings)
    ann = data.agents["ann"].headers
    query = {"tags": ["vip", "billing"], "conditions": VIP, "sort": "started_at", "order": "desc"}
    saved = (await api.create(ann, SEARCHES, {"name": "VIP", "query": query}))["query"]
    params = {name: value for name, value in saved.items() if value not in (None, [])}
    rows = (await client.get("/api/whatsapp/interactions", params=params, headers=ann)).json()["rows"]
    assert data.names(rows) == ["i1"]  # i4 is a VIP too, but of an account ann is not in
    admin_rows = (await client.get("/api/whatsapp/interactions", params=params, headers=admin)).json()["rows"]
    assert data.names(admin_rows) == ["i4", "i1"]
