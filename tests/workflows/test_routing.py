"""Routing through the real API, worker and the time-skipping Temporal test server.

Agents log in, go online and answer offers over HTTP; the clock is advanced with
`temporal_env.sleep`, so every timer path runs in moments.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.helpers import completed_activities, db, result_of, wait_for
from tests.support.floor import (
    accept,
    first_message_to_queue,
    go_online,
    inbound,
    make_floor,
    offer_rows,
    offered,
    owned_by_ann,
    set_plan,
    the_interaction,
)
from tests.workflows.test_replay import keep_history


async def test_agent_step_times_out_then_the_queue_rings_everyone(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes)
    ann, bob, cat = floor.agents["ann"], floor.agents["bob"], floor.agents["cat"]
    await go_online(client, ann, bob, cat)
    await set_plan(client, admin, floor, [
        {"application": "agent", "params": {"agent_id": ann.id, "timeout": 30}},
        {"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 60}},
    ])  # fmt: skip
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    assert interaction["status"] == "open-pending"
    await offered(temporal_env, interaction, {ann.id})
    await temporal_env.sleep(timedelta(seconds=31))
    await offered(temporal_env, interaction, {ann.id, bob.id, cat.id})
    assert (await accept(client, interaction, ann)).status_code == 200  # the queue rings ann too

    assert (await accept(client, interaction, bob)).status_code == 409
    owned = (await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=admin)).json()
    assert (owned["owner_id"], owned["status"], owned["queue_id"]) == (ann.id, "open", floor.queue["id"])
    rows = await offer_rows(settings, interaction["id"])
    assert rows[0] == (ann.id, "plan_agent", "expired")
    assert sorted(row[2] for row in rows[1:]) == ["accepted", "rescinded", "rescinded"]
    description = await temporal_env.client.get_workflow_handle(interaction["workflow_id"]).describe()
    attributes = {pair.key.name: pair.value for pair in description.typed_search_attributes}
    assert attributes["ShareAgent"] == str(ann.id)
    assert attributes["ShareStatus"] == "open"


async def test_two_agents_accepting_at_once_make_one_owner(api, client, admin, fakes, worker, temporal_env):
    floor = await make_floor(api, client, admin, fakes)
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    await go_online(client, ann, bob)
    interaction = await first_message_to_queue(client, admin, floor)
    await offered(temporal_env, interaction, {ann.id, bob.id})
    first, second = await asyncio.gather(accept(client, interaction, ann), accept(client, interaction, bob))
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner = ann if first.status_code == 200 else bob
    assert (await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=admin)).json()[
        "owner_id"
    ] == winner.id
    loser = (second if first.status_code == 200 else first).json()
    assert loser["error"]["code"] == "offer_gone"


async def test_queue_step_timeout_moves_on_and_the_plan_ends_waiting(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes)
    ann = floor.agents["ann"]
    await go_online(client, ann)
    await set_plan(client, admin, floor, [
        {"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 20}},
        {"application": "noop", "params": {"value": "after the queue"}},
    ])  # fmt: skip
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    await offered(temporal_env, interaction, {ann.id})
    await temporal_env.sleep(timedelta(seconds=21))
    await offered(temporal_env, interaction, set())

    async def noop_recorded():
        with db(settings) as conn:
            return conn.execute("SELECT data FROM interaction_events WHERE interaction_id = %s AND kind = 'noop'",
                                (interaction["id"],)).fetchall()  # fmt: skip

    assert (await wait_for(noop_recorded))[0][0]["value"] == "after the queue"
    assert [row[2] for row in await offer_rows(settings, interaction["id"])] == ["expired"]
    with db(settings) as conn:
        assert conn.execute("SELECT count(*) FROM queue_waits").fetchone() == (0,)
    assert (await accept(client, interaction, ann)).status_code == 409
    await inbound(client, floor, "SM2", "anyone there?")  # the next message runs the plan again
    await offered(temporal_env, interaction, {ann.id})


async def test_rrmemory_offers_one_agent_at_a_time_in_rotation(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await make_floor(api, client, admin, fakes, strategy="rrmemory", queue_timeout=10)
    ann, bob, cat = floor.agents["ann"], floor.agents["bob"], floor.agents["cat"]
    await go_online(client, ann, bob, cat)
    interaction = await first_message_to_queue(client, admin, floor, queue_seconds=300)
    for expected in (ann, bob, cat, ann):  # each gets the queue's 10 s, then the next; then round again
        await offered(temporal_env, interaction, {expected.id})
        await temporal_env.sleep(timedelta(seconds=11))
    await offered(temporal_env, interaction, {bob.id})
    assert (await accept(client, interaction, bob)).status_code == 200

    # Memory: the next interaction starts after bob, the agent last engaged from this queue.
    await inbound(client, floor, "SM2", mobile="393339999999")
    second = await the_interaction(client, admin, mobile="393339999999")
    await offered(temporal_env, second, {cat.id})


async def test_rejecting_passes_the_turn_at_once(api, client, admin, fakes, worker, temporal_env):
    floor = await make_floor(api, client, admin, fakes, strategy="rrmemory", queue_timeout=60)
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    await go_online(client, ann, bob)
    interaction = await first_message_to_queue(client, admin, floor, queue_seconds=300)
    await offered(temporal_env, interaction, {ann.id})
    response = await client.post(
        f"/api/whatsapp/interactions/{interaction['id']}/reject", headers=ann.headers
    )
    assert response.status_code == 200
    await offered(temporal_env, interaction, {bob.id})
    assert (
        await client.post(f"/api/whatsapp/interactions/{interaction['id']}/reject", headers=ann.headers)
    ).status_code == 409


async def test_leastrecent_offers_whoever_waited_longest(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, strategy="leastrecent")
    ann, bob, cat = floor.agents["ann"], floor.agents["bob"], floor.agents["cat"]
    with db(settings) as conn:
        conn.execute(
            "UPDATE users SET last_interaction_at = now() - interval '1 hour' WHERE id = %s", (ann.id,)
        )
        conn.execute(
            "UPDATE users SET last_interaction_at = now() - interval '3 hours' WHERE id = %s", (cat.id,)
        )
        conn.execute(
            "UPDATE users SET last_interaction_at = now() - interval '1 minute' WHERE id = %s", (bob.id,)
        )
    await go_online(client, ann, bob, cat)
    interaction = await first_message_to_queue(client, admin, floor, queue_seconds=300)
    await offered(temporal_env, interaction, {cat.id})
    await temporal_env.sleep(timedelta(seconds=11))
    await offered(temporal_env, interaction, {ann.id})


async def test_only_eligible_agents_are_offered(api, client, admin, fakes, worker, temporal_env, settings):
    floor = await make_floor(api, client, admin, fakes)
    ann, bob, cat = floor.agents["ann"], floor.agents["bob"], floor.agents["cat"]
    pause = await api.create(admin, "/api/pauses", {"name": "Lunch"})
    await go_online(client, ann, bob, cat)
    await client.put(
        "/api/agents/me/status", json={"status": "paused", "pause_id": pause["id"]}, headers=bob.headers
    )
    await client.patch(f"/api/users/{cat.id}", json={"whatsapp_capacity": 0}, headers=admin)  # full
    interaction = await first_message_to_queue(client, admin, floor)
    await offered(temporal_env, interaction, {ann.id})


@pytest.mark.parametrize(("inside", "expected"), [(True, "agent"), (False, "skipped")])
async def test_interval_skip_at_the_boundary_minute(
    api, client, admin, fakes, worker, temporal_env, settings, inside, expected
):
    floor = await make_floor(api, client, admin, fakes)
    ann = floor.agents["ann"]
    await go_online(client, ann)
    now = await temporal_env.get_current_time()
    # The interval ends at this very minute (inclusive); skipping 60 s more puts the step outside.
    start, end = (now - timedelta(minutes=5)).strftime("%H:%M"), now.strftime("%H:%M")
    interval = await api.create(
        admin,
        "/api/intervals",
        {"name": "Ends now", "timezone": "UTC", "rules": [{"time_from": start, "time_to": end}]},
    )
    await set_plan(client, admin, floor, [
        {"application": "noop", "params": {"value": "first"}},
        {"application": "agent", "params": {"agent_id": ann.id, "timeout": 30}, "interval_id": interval["id"]},
        {"application": "noop", "params": {"value": "last"}},
    ])  # fmt: skip
    if not inside:
        await temporal_env.sleep(timedelta(seconds=60 - now.second + 1))
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)

    async def events():
        with db(settings) as conn:
            rows = conn.execute(
                "SELECT kind FROM interaction_events WHERE interaction_id = %s ORDER BY id",
                (interaction["id"],),
            ).fetchall()
        return [row[0] for row in rows] if rows and rows[-1][0] in {"noop"} and len(rows) >= 2 else None

    if inside:
        await offered(temporal_env, interaction, {ann.id})
        await temporal_env.sleep(timedelta(seconds=31))
    assert await wait_for(events) == (["noop", "noop"] if inside else ["noop", "step_skipped", "noop"])


async def test_a_plan_that_only_jumps_is_stopped(api, client, admin, fakes, worker, settings):
    floor = await make_floor(api, client, admin, fakes)
    await set_plan(client, admin, floor, [
        {"application": "noop", "params": {"value": "spin"}},
        {"application": "gotop", "params": {"step": 1}},
    ])  # fmt: skip
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)

    async def stopped():
        with db(settings) as conn:
            return conn.execute("SELECT data FROM interaction_events WHERE interaction_id = %s AND kind = 'plan_error'",
                                (interaction["id"],)).fetchall()  # fmt: skip

    (data,) = (await wait_for(stopped))[0]
    assert "loops" in data["reason"]


async def test_tags_conditions_autoreplies_and_close(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes)
    await set_plan(client, admin, floor, [
        {"application": "tag", "params": {"tags": ["vip"]}},
        {"application": "gotoif", "params": {"condition": {"rules": [{"field": "message.body", "operator": "contains", "value": "refund"}]},
                                             "true_step": 4, "false_step": 3}},
        {"application": "autoreply", "params": {"text": "We will be right with you", "times": "always"}},
        {"application": "autoreply", "params": {"text": "Refunds: see example.com/refunds", "times": "first"}},
        {"application": "close", "params": {}},
    ])  # fmt: skip
    await inbound(client, floor, "SM1", "I want a REFUND")
    interaction = await the_interaction(client, admin)
    await result_of(temporal_env.client, interaction["workflow_id"])  # the close step completes it
    final = (await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=admin)).json()
    assert (final["status"], final["tags"]) == ("closed", ["vip"])
    assert [r.body["Body"] for r in fakes.of("twilio.send")] == ["Refunds: see example.com/refunds"]
    messages = (
        await client.get(f"/api/whatsapp/interactions/{interaction['id']}/messages", headers=admin)
    ).json()["rows"]
    assert [(m["direction"], m["status"]) for m in messages] == [("in", "received"), ("out", "sent")]

    await inbound(client, floor, "SM2", "refund again")  # a new interaction; not the first any more
    second = await wait_for(lambda: _second_interaction(client, admin, interaction["id"]))
    await result_of(temporal_env.client, second["workflow_id"])
    assert len(fakes.of("twilio.send")) == 1


async def _second_interaction(client, admin, first_id):
    rows = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"]
    return next((row for row in rows if row["id"] != first_id), None)


async def test_an_agent_coming_online_gets_the_heaviest_then_longest_waiting(
    api, client, admin, fakes, worker, temporal_env
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    heavy = await api.create(
        admin, "/api/whatsapp/queues", {"name": "VIP", "strategy": "beepall", "weight": 5}
    )
    await client.post(f"/api/whatsapp/queues/{heavy['id']}/agents", json={"ids": [ann.id]}, headers=admin)
    await client.patch(f"/api/users/{ann.id}", json={"whatsapp_capacity": 1}, headers=admin)
    vip = {"rules": [{"field": "message.body", "operator": "contains", "value": "vip"}]}
    await set_plan(client, admin, floor, [
        {"application": "gotoif", "params": {"condition": vip, "true_step": 3, "false_step": 2}},
        {"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 600}},
        {"application": "queue", "params": {"queue_id": heavy["id"], "timeout": 600}},
    ])  # fmt: skip
    await inbound(client, floor, "SM1", "hello", mobile="393330000001")  # waits longest, in the light queue
    first = await the_interaction(client, admin, mobile="393330000001")
    await inbound(client, floor, "SM2", "I am vip", mobile="393330000002")
    second = await the_interaction(client, admin, mobile="393330000002")

    async def both_looked_for_agents():  # a wait row exists a moment before the first look
        for interaction in (first, second):
            handle = temporal_env.client.get_workflow_handle(interaction["workflow_id"])
            if "find_agents" not in completed_activities(await handle.fetch_history()):
                return False
        return True

    await wait_for(both_looked_for_agents)
    await go_online(client, ann)  # no clock is advanced: the wake-up is immediate
    await offered(temporal_env, second, {ann.id})
    await offered(temporal_env, first, set())
    assert (await accept(client, second, ann)).status_code == 200


async def test_close_with_mandatory_disposition_pauses_until_disposed(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    pause = await api.create(admin, "/api/pauses", {"name": "Wrap-up"})
    base = f"/api/whatsapp/accounts/{floor.account['id']}"
    sold = await api.create(admin, f"{base}/dispositions", {"name": "Sold"})
    await client.patch(
        base, json={"mandatory_disposition": True, "disposition_pause_id": pause["id"]}, headers=admin
    )
    await go_online(client, ann, bob)
    interaction = await first_message_to_queue(client, admin, floor)
    await offered(temporal_env, interaction, {ann.id, bob.id})
    assert (await accept(client, interaction, ann)).status_code == 200
    path = f"/api/whatsapp/interactions/{interaction['id']}"

    assert (await client.post(f"{path}/close", json={}, headers=bob.headers)).status_code == 409  # not bob's
    assert (
        await client.post(f"{path}/dispose", json={"disposition_id": sold["id"]}, headers=ann.headers)
    ).status_code == 409
    response = await client.post(f"{path}/close", json={"disposition_id": 999}, headers=ann.headers)
    assert "disposition_id" in response.json()["error"]["fields"]
    assert (await client.post(f"{path}/close", json={}, headers=ann.headers)).status_code == 200
    await temporal_env.client.get_workflow_handle(interaction["workflow_id"]).result()
    await keep_history(temporal_env.client, interaction["workflow_id"], "queue_accept_close")
    me = (await client.get("/api/agents/me", headers=ann.headers)).json()
    assert (me["status"], me["pause_id"]) == ("paused", pause["id"])
    assert (await client.get(path, headers=admin)).json()["status"] == "closed"
    assert (await client.post(f"{path}/close", json={}, headers=ann.headers)).status_code == 409

    response = await client.post(f"{path}/dispose", json={"disposition_id": sold["id"]}, headers=ann.headers)
    assert response.status_code == 200, response.text
    assert response.json()["agent_status"] == "online"
    me = (await client.get("/api/agents/me", headers=ann.headers)).json()
    assert (me["status"], me["pause_id"]) == ("online", None)
    assert (await client.get(path, headers=admin)).json()["disposition_id"] == sold["id"]

    await inbound(client, floor, "SM2", "one more thing")  # a new interaction
    rows = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"]
    assert len(rows) == 2


async def test_an_absent_owner_gets_a_wait_then_the_queue_then_the_plan(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes)
    ann, bob, cat = floor.agents["ann"], floor.agents["bob"], floor.agents["cat"]
    await client.delete(f"/api/whatsapp/queues/{floor.queue['id']}/agents/{cat.id}", headers=admin)
    await client.patch(
        f"/api/whatsapp/accounts/{floor.account['id']}",
        json={"wait_assigned_agent": 20, "wait_assigned_queue": 40},
        headers=admin,
    )
    await go_online(client, ann)
    await set_plan(client, admin, floor, [
        {"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 60}},
        {"application": "agent", "params": {"agent_id": cat.id, "timeout": 30}},
    ])  # fmt: skip
    await inbound(client, floor, "SM1")
    interaction = await the_interaction(client, admin)
    await offered(temporal_env, interaction, {ann.id})
    assert (await accept(client, interaction, ann)).status_code == 200

    await client.put("/api/agents/me/status", json={"status": "offline"}, headers=ann.headers)  # ann leaves
    await go_online(client, bob, cat)
    await inbound(client, floor, "SM2", "are you there?")
    await offered(temporal_env, interaction, {ann.id})  # first only the owner, for wait_assigned_agent
    await temporal_env.sleep(timedelta(seconds=21))
    await offered(temporal_env, interaction, {bob.id})  # then the owner's queue (cat is not in it)
    shown = (await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=admin)).json()
    assert (shown["owner_id"], shown["status"]) == (None, "open-pending")
    await temporal_env.sleep(timedelta(seconds=41))
    await offered(temporal_env, interaction, {bob.id})  # the plan from the top: its queue step
    await temporal_env.sleep(timedelta(seconds=61))
    await offered(temporal_env, interaction, {cat.id})  # then its agent step
    kinds = [row[1] for row in await offer_rows(settings, interaction["id"])]
    assert kinds == ["queue", "assigned_agent", "assigned_queue", "queue", "plan_agent"]
    await keep_history(temporal_env.client, interaction["workflow_id"], "absent_owner_queue_plan")


async def test_the_owner_who_comes_back_in_time_keeps_it(api, client, admin, fakes, worker, temporal_env):
    floor = await make_floor(api, client, admin, fakes, names=("ann", "bob"))
    ann = floor.agents["ann"]
    await go_online(client, ann)
    interaction = await first_message_to_queue(client, admin, floor)
    await offered(temporal_env, interaction, {ann.id})
    assert (await accept(client, interaction, ann)).status_code == 200
    await inbound(client, floor, "SM2", "still there?")  # ann has no open event stream: not present
    await offered(temporal_env, interaction, {ann.id})
    assert (await accept(client, interaction, ann)).status_code == 200
    shown = (await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=admin)).json()
    assert (shown["owner_id"], shown["status"]) == (ann.id, "open")


async def test_transfer_to_an_agent_who_accepts(api, client, admin, fakes, worker, temporal_env):
    floor, interaction = await owned_by_ann(
        api, client, admin, fakes, temporal_env, {"agent_enabled": True, "agent_timeout": 30}
    )
    ann, bob = floor.agents["ann"], floor.agents["bob"]
    path = f"/api/whatsapp/interactions/{interaction['id']}/transfer"
    assert (await client.post(path, json={"queue_id": floor.queue["id"]}, headers=ann.headers)).json()[
        "error"
    ]["code"] == "transfer_disabled"
    assert (await client.post(path, json={}, headers=ann.headers)).status_code == 422
    assert (
        await client.post(path, json={"agent_id": bob.id}, headers=bob.headers)
    ).status_code == 409  # not bob's
    response = await client.post(path, json={"agent_id": bob.id}, headers=ann.headers)
    assert response.status_code == 200, response.text
    await offered(temporal_env, interaction, {bob.id})  # bob is offline: a transfer is offered all the same
    assert (await accept(client, interaction, bob)).status_code == 200
    assert (await client.get(f"/api/whatsapp/interactions/{interaction['id']}", headers=admin)).json()[
        "owner_id"
    ] == bob.id


async def test_a_transfer_nobody_takes_returns_unread(api, client, admin, fakes, worker, temporal_env):
    floor, interaction = await owned_by_ann(
        api, client, admin, fakes, temporal_env, {"queue_enabled": True, "queue_timeout": 45}
    )
    ann, bob, cat = floor.agents["ann"], floor.agents["bob"], floor.agents["cat"]
    await go_online(client, bob, cat)
    path = f"/api/whatsapp/interactions/{interaction['id']}"
    assert (
        await client.post(f"{path}/transfer", json={"queue_id": floor.queue["id"]}, headers=ann.headers)
    ).status_code == 200
    await offered(temporal_env, interaction, {bob.id, cat.id})  # the queue, without the one who transferred
    await temporal_env.sleep(timedelta(seconds=46))
    await offered(temporal_env, interaction, set())

    async def returned():
        shown = (await client.get(path, headers=admin)).json()
        return (
            shown if shown["owner_id"] == ann.id and shown["status"] == "open" and not shown["read"] else None
        )

    assert await wait_for(returned)
    await keep_history(temporal_env.client, interaction["workflow_id"], "transfer_returned")
    assert (await client.get(f"{path}/messages", headers=admin)).status_code == 200
    assert not (await client.get(path, headers=admin)).json()["read"]  # a supervisor looking on
    assert (await client.get(f"{path}/messages", headers=ann.headers)).status_code == 200
    assert (await client.get(path, headers=admin)).json()["read"]  # the owner has read it
