"""Deleting interactions: `DELETE /api/whatsapp/interactions/{id}` and `POST .../delete {ids}` take
the interaction, its messages, events, offers, queue waits and media files; an open one's workflow
is terminated and its owner's capacity freed; an audit record (`GET /api/audit`) outlives it all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from activities.common import ProviderAccess
from activities.media import MediaActivities, MediaStore, StoreMedia, media_policy
from activities.ownership import CloseInteraction, OwnershipActivities, Release, ReturnToOwner
from api.app import create_app
from models.db import create_engine, create_sessionmaker
from models.secrets import SecretBox
from providers import api_bases
from tests.helpers import db, scalar, wait_for
from tests.support.floor import accept, go_online, inbound, make_floor, offered, set_plan, the_interaction
from tests.support.worked import worked
from tests.webhooks import make_account, post_twilio, twilio_message

OTHER = "393339999999"
TABLES = ("messages", "interaction_events", "offers", "queue_waits")


def left_of(settings, interaction_id: int) -> dict[str, int]:
    """How many rows of each table still point at the interaction (and the interaction itself)."""
    rows = {
        table: int(
            scalar(settings, f"SELECT count(*) FROM {table} WHERE interaction_id = %s", interaction_id)  # noqa: S608 (test-owned table names)
        )
        for table in TABLES
    }
    rows["interactions"] = int(
        scalar(settings, "SELECT count(*) FROM interactions WHERE id = %s", interaction_id)
    )
    return rows


GONE = dict.fromkeys((*TABLES, "interactions"), 0)


def stored_file(settings, interaction_id: int, content: bytes = b"picture") -> Path:
    """A media file in the store, held by the interaction's first message (as a download leaves it)."""
    message_id, account_id = db(settings).execute(
        "SELECT id, account_id FROM messages WHERE interaction_id = %s ORDER BY id LIMIT 1", (interaction_id,)
    ).fetchone() or (None, None)
    assert message_id is not None
    path: Path = settings.media_dir / str(account_id) / f"{message_id}-stored.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    media = {"path": f"{account_id}/{path.name}", "status": "stored"}
    with db(settings) as conn:
        conn.execute(
            "UPDATE messages SET media = CASE jsonb_typeof(media) WHEN 'object' THEN media ELSE '{}' END"
            " || %s::jsonb WHERE id = %s",
            (json.dumps(media), message_id),
        )
    return path


async def waits(settings, interaction_id: int) -> bool:
    return bool(
        scalar(settings, "SELECT count(*) FROM queue_waits WHERE interaction_id = %s", interaction_id)
    )


async def audit(client, headers, **query: Any) -> dict[str, Any]:
    response = await client.get("/api/audit", params=query, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def status_of(temporal_env, workflow_id: str) -> WorkflowExecutionStatus | None:
    status: WorkflowExecutionStatus | None = (
        await temporal_env.client.get_workflow_handle(workflow_id).describe()
    ).status
    return status


async def test_deleting_an_open_interaction_terminates_it_and_frees_its_agent(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    assert (
        await client.patch(f"/api/users/{ann.id}", json={"whatsapp_capacity": 1}, headers=admin)
    ).status_code == 200
    await go_online(client, ann)
    steps = [{"application": "queue", "params": {"queue_id": floor.queue["id"], "timeout": 600}}]
    await set_plan(client, admin, floor, steps)
    await inbound(client, floor, "SM1")
    first = await the_interaction(client, admin)
    await offered(temporal_env, first, {ann.id})
    assert (await accept(client, first, ann)).status_code == 200
    picture = stored_file(settings, first["id"])
    await inbound(client, floor, "SM2", mobile=OTHER)  # waits: ann is at her capacity of 1
    waiting = await the_interaction(client, admin, mobile=OTHER)
    await wait_for(lambda: waits(settings, waiting["id"]))  # in the queue, for an agent to free up
    messages = int(scalar(settings, "SELECT count(*) FROM messages WHERE interaction_id = %s", first["id"]))
    sue, supervisor = await api.user(admin, "sue", role="supervisor")

    response = await client.delete(f"/api/whatsapp/interactions/{first['id']}", headers=supervisor)
    assert response.status_code == 204, response.text

    assert await status_of(temporal_env, first["workflow_id"]) is WorkflowExecutionStatus.TERMINATED
    assert left_of(settings, first["id"]) == GONE
    assert not picture.exists()
    assert int(scalar(settings, "SELECT count(*) FROM file_removals")) == 0
    assert (await client.get(f"/api/whatsapp/interactions/{first['id']}", headers=admin)).status_code == 404
    await offered(temporal_env, waiting, {ann.id})  # ann's capacity, freed, goes to the waiting one

    (record,) = (await audit(client, admin))["rows"]
    assert record["action"] == "interaction.delete" and record["target_id"] == first["id"]
    assert record["actor_id"] == sue and record["actor_name"] == "sue"
    assert record["details"] == {
        "interaction_id": first["id"],
        "account_id": floor.account["id"],
        "account_key": floor.account["key"],
        "contact_id": first["contact"]["id"],
        "contact_mobile": "393331234567",
        "status": "open",
        "owner_id": ann.id,
        "owner": "ann",
        "message_count": messages,
        "files": 1,
    }
    assert messages >= 1

    # The contact writes again: a new interaction, as any first message starts one.
    await inbound(client, floor, "SM3", body="me again")
    again = await the_interaction(client, admin)
    assert again["id"] not in (first["id"], waiting["id"])
    await wait_for(lambda: waits(settings, again["id"]))  # routed by its own workflow (ann is busy again)


async def test_deleting_closed_interactions_in_bulk(
    api, client, admin, fakes, worker, temporal_env, settings
):
    done = await worked(api, client, admin, fakes, temporal_env)
    interaction_id = done.interaction["id"]
    picture = stored_file(settings, interaction_id)
    messages = int(
        scalar(settings, "SELECT count(*) FROM messages WHERE interaction_id = %s", interaction_id)
    )
    assert messages == 3  # the contact's message, the reply and the note
    assert left_of(settings, interaction_id)["interaction_events"] > 0

    response = await client.post(
        "/api/whatsapp/interactions/delete", json={"ids": [interaction_id]}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": [interaction_id]}
    assert left_of(settings, interaction_id) == GONE
    assert not picture.exists()
    (record,) = (await audit(client, admin))["rows"]
    assert record["details"]["message_count"] == 3 and record["details"]["status"] == "closed"
    # The audit outlives even the account and contact's other rows: it names them by value.
    assert record["details"]["account_key"] == done.account["key"]


async def two_unrouted(api, client, admin, fakes) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An account and two interactions whose workflows never started (no worker runs)."""
    account = await make_account(api, admin, fakes, "twilio")
    for sid, mobile in (("SM1", "393331234567"), ("SM2", OTHER)):
        assert (await post_twilio(client, account, twilio_message(sid, mobile=mobile))).status_code == 200
    return account, await the_interaction(client, admin), await the_interaction(client, admin, mobile=OTHER)


async def test_who_may_delete_and_unknown_ids(api, client, admin, fakes, settings):
    _, one, two = await two_unrouted(api, client, admin, fakes)
    _, agent = await api.user(admin, "ann")
    _, supervisor = await api.user(admin, "sue", role="supervisor")
    single = f"/api/whatsapp/interactions/{one['id']}"
    bulk = "/api/whatsapp/interactions/delete"
    assert (await client.delete(single, headers=agent)).status_code == 403
    assert (await client.post(bulk, json={"ids": [one["id"]]}, headers=agent)).status_code == 403
    assert (await client.delete(single)).status_code == 401
    assert (await client.delete("/api/whatsapp/interactions/999999", headers=admin)).status_code == 404
    unknown = await client.post(bulk, json={"ids": [one["id"], 999999]}, headers=admin)
    assert unknown.status_code == 404 and "999999" in unknown.json()["error"]["message"]
    assert (await client.post(bulk, json={"ids": []}, headers=admin)).status_code == 422
    assert left_of(settings, one["id"])["interactions"] == 1  # nothing deleted by the refusals
    assert (await audit(client, admin))["count"] == 0
    assert (await client.get("/api/audit", headers=supervisor)).status_code == 403
    assert (await client.get("/api/audit", headers=agent)).status_code == 403

    # Workflows that never started are fine to "terminate"; both go, in one request.
    response = await client.post(bulk, json={"ids": [two["id"], one["id"], one["id"]]}, headers=supervisor)
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": sorted([one["id"], two["id"]])}
    assert left_of(settings, one["id"]) == left_of(settings, two["id"]) == GONE
    assert (await client.delete(single, headers=admin)).status_code == 404  # gone already


def crash_before_unlink(monkeypatch) -> Any:
    """Deletes die after their commit, before removing a file; returns the real remove."""
    real_remove = MediaStore.remove

    def crash(self, relative):
        raise RuntimeError("the process died after the commit, before the unlink")

    monkeypatch.setattr(MediaStore, "remove", crash)
    return real_remove


async def test_a_crash_between_commit_and_unlink_leaves_the_file_for_the_next_sweep(
    api, client, admin, fakes, settings, monkeypatch
):
    _, one, two = await two_unrouted(api, client, admin, fakes)
    picture = stored_file(settings, one["id"])
    real_remove = crash_before_unlink(monkeypatch)
    response = await client.delete(f"/api/whatsapp/interactions/{one['id']}", headers=admin)
    assert response.status_code == 500
    # Committed: the rows are gone and audited; the file is still on disk, and recorded.
    assert left_of(settings, one["id"]) == GONE
    assert (await audit(client, admin))["count"] == 1
    assert picture.exists()
    leftover = db(settings).execute("SELECT path FROM file_removals").fetchall()
    assert leftover == [(f"{picture.parent.name}/{picture.name}",)]

    monkeypatch.setattr(MediaStore, "remove", real_remove)
    assert (await client.delete(f"/api/whatsapp/interactions/{two['id']}", headers=admin)).status_code == 204
    assert not picture.exists()  # the next delete's sweep removed what the crash left
    assert int(scalar(settings, "SELECT count(*) FROM file_removals")) == 0


async def test_what_a_crash_left_goes_when_an_api_process_starts(
    api, client, admin, fakes, settings, monkeypatch
):
    _, one, _ = await two_unrouted(api, client, admin, fakes)
    picture = stored_file(settings, one["id"])
    real_remove = crash_before_unlink(monkeypatch)
    assert (await client.delete(f"/api/whatsapp/interactions/{one['id']}", headers=admin)).status_code == 500
    assert picture.exists()
    monkeypatch.setattr(MediaStore, "remove", real_remove)
    restarted = create_app(settings)  # no further delete: the start sweeps
    async with restarted.router.lifespan_context(restarted):

        async def swept() -> bool:
            return not picture.exists() and int(scalar(settings, "SELECT count(*) FROM file_removals")) == 0

        await wait_for(swept)


async def test_the_audit_filters_by_action_actor_and_time(api, client, admin, fakes, settings):
    _, one, two = await two_unrouted(api, client, admin, fakes)
    sue, supervisor = await api.user(admin, "sue", role="supervisor")
    before = datetime.now(UTC) - timedelta(minutes=1)
    assert (await client.delete(f"/api/whatsapp/interactions/{one['id']}", headers=admin)).status_code == 204
    assert (
        await client.delete(f"/api/whatsapp/interactions/{two['id']}", headers=supervisor)
    ).status_code == 204
    later = datetime.now(UTC) + timedelta(minutes=1)

    everything = await audit(client, admin)
    assert everything["count"] == 2
    assert [row["target_id"] for row in everything["rows"]] == [two["id"], one["id"]]  # newest first
    by_sue = await audit(client, admin, actor_id=sue)
    assert [row["target_id"] for row in by_sue["rows"]] == [two["id"]]
    assert (await audit(client, admin, action="interaction.delete"))["count"] == 2
    assert (await audit(client, admin, action="user.delete"))["count"] == 0
    assert (await audit(client, admin, at_from=before.isoformat(), at_to=later.isoformat()))["count"] == 2
    assert (await audit(client, admin, at_from=later.isoformat()))["count"] == 0
    assert (await audit(client, admin, at_to=before.isoformat()))["count"] == 0
    paged = await audit(client, admin, limit=1, offset=1)
    assert paged["count"] == 2 and [row["target_id"] for row in paged["rows"]] == [one["id"]]
    assert (await client.get("/api/audit", params={"at_from": "yesterday"}, headers=admin)).status_code == 422


async def test_routing_activities_of_a_deleted_interaction_do_nothing(
    api, client, admin, fakes, settings, temporal_env
):
    """A terminated workflow's activity already running, or retried, finds the row gone: it
    returns (no error to retry forever) and recreates nothing."""
    _, one, _ = await two_unrouted(api, client, admin, fakes)
    agent_id, _ = await api.user(admin, "ann")
    assert (await client.delete(f"/api/whatsapp/interactions/{one['id']}", headers=admin)).status_code == 204
    engine = create_engine(settings.sqlalchemy_url)
    try:
        activities = OwnershipActivities(create_sessionmaker(engine), temporal_env.client)
        env = ActivityEnvironment()
        await env.run(activities.close_interaction, CloseInteraction(one["id"], actor_id=agent_id))
        await env.run(activities.release, Release(one["id"]))
        await env.run(activities.return_to_owner, ReturnToOwner(one["id"], agent_id))
    finally:
        await engine.dispose()
    assert left_of(settings, one["id"]) == GONE


async def test_a_download_finishing_after_the_delete_leaves_no_file(
    api, client, admin, fakes, settings, monkeypatch
):
    """The media download races the delete: the delete commits while the file is on its way, the
    file lands in the store, and the activity, finding its message gone, removes it again."""
    account = await make_account(api, admin, fakes, "twilio")
    params = twilio_message(
        "MM1", "", NumMedia="1", MessageType="image", MediaUrl0=f"{fakes.base_url}/twilio/media/ME1",
        MediaContentType0="image/png",
    )  # fmt: skip
    assert (await post_twilio(client, account, params)).status_code == 200
    interaction = await the_interaction(client, admin)
    message_id = int(scalar(settings, "SELECT id FROM messages WHERE interaction_id = %s", interaction["id"]))
    path = f"/api/whatsapp/interactions/{interaction['id']}"
    real_save = MediaStore.save
    deleted: list[int] = []

    def save_after_the_delete(self, *args, **kwargs):  # the delete commits while the bytes arrive
        with db(settings) as conn:
            deleted.append(
                conn.execute("DELETE FROM interactions WHERE id = %s", (interaction["id"],)).rowcount
            )
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(MediaStore, "save", save_after_the_delete)
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            box = SecretBox(settings.secret_key.get_secret_value())
            access = ProviderAccess(create_sessionmaker(engine), http, api_bases(settings), box)
            media = MediaActivities(access, MediaStore(settings.media_dir), media_policy(settings))
            stored = await ActivityEnvironment().run(media.store_media, StoreMedia(message_id))
    finally:
        await engine.dispose()
    assert deleted == [1]
    assert stored.path.startswith(f"{account['id']}/{message_id}-")
    assert not (settings.media_dir / stored.path).exists()
    assert (await client.get(path, headers=admin)).status_code == 404
