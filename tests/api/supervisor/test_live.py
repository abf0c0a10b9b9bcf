"""The live view (`GET /api/supervisor/live`, `GET /api/supervisor/events`) over real HTTP: a
scripted floor with known waits and accepts gives known numbers, and real routing through the
worker moves them on the stream as the interaction waits, is offered and is accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models import (
    Contact,
    ContactList,
    Interaction,
    InteractionEvent,
    InteractionStatus,
    Offer,
    OfferKind,
    OfferStatus,
    QueueWait,
    User,
    UserStatus,
)
from tests.fakes.providers import LoopbackServer
from tests.helpers import wait_for
from tests.support.events import EventStream
from tests.support.floor import accept, first_message_to_queue, go_online, make_floor
from tests.webhooks import make_account


def by_queue(view: dict[str, Any], account_id: int) -> dict[str | None, dict[str, Any]]:
    account = next(a for a in view["accounts"] if a["account_id"] == account_id)
    return {queue["name"]: queue for queue in account["queues"]}


def by_agent(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {agent["name"]: agent for agent in view["agents"]}


async def test_a_scripted_floor_gives_known_waits_service_level_and_agents(api, client, admin, fakes, app):
    account = await make_account(api, admin, fakes, "twilio")  # threshold 60 s
    ann_id, _ = await api.user(admin, "ann")
    bob_id, _ = await api.user(admin, "bob")
    await api.user(admin, "zed")  # an agent of no account: not on the floor
    await client.post(
        f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": [ann_id, bob_id]}, headers=admin
    )
    queue = await api.create(admin, "/api/whatsapp/queues", {"name": "Sales"})
    await client.post(
        f"/api/whatsapp/queues/{queue['id']}/agents", json={"ids": [ann_id, bob_id]}, headers=admin
    )
    ago: dict[str, datetime] = {}
    async with app.state.services.sessionmaker() as session, session.begin():
        now = datetime.now(UTC)
        ann = await session.get(User, ann_id)
        assert ann is not None
        ann.status, ann.status_changed_at = UserStatus.online, now - timedelta(minutes=5)
        contacts = ContactList(name="scripted")
        session.add(contacts)
        await session.flush()

        async def interaction(
            name: str, minutes_ago: float, owner: int | None, accepted: float | None, closed: float | None
        ) -> Interaction:
            contact = Contact(list_id=contacts.id, mobile=f"39333{len(ago):06d}")
            session.add(contact)
            await session.flush()
            started = ago[name] = now - timedelta(minutes=minutes_ago)
            row = Interaction(
                account_id=account["id"],
                contact_id=contact.id,
                status=InteractionStatus.closed if closed is not None else InteractionStatus.open,
                owner_id=owner,
                queue_id=queue["id"],
                started_at=started,
                closed_at=started + timedelta(seconds=closed) if closed is not None else None,
            )
            session.add(row)
            await session.flush()
            if accepted is not None:
                at = started + timedelta(seconds=accepted)
                session.add(InteractionEvent(interaction_id=row.id, kind="accepted", at=at, actor_id=owner))
            return row

        await interaction("handled", 20, ann_id, accepted=30, closed=330)
        active = await interaction("active", 10, bob_id, accepted=90, closed=None)
        await interaction("abandoned", 15, None, accepted=None, closed=50)
        waiting = await interaction("waiting", 2, None, accepted=None, closed=None)
        await interaction("earlier", 60 * 30, ann_id, accepted=5, closed=10)  # 30 hours ago
        session.add(
            QueueWait(
                interaction_id=waiting.id,
                queue_id=queue["id"],
                workflow_id="scripted",
                waiting_since=now - timedelta(minutes=2),
            )
        )

        def offer(
            row: Interaction, agent: int, status: OfferStatus, resolved_minutes_ago: float | None
        ) -> None:
            resolved = (
                now - timedelta(minutes=resolved_minutes_ago) if resolved_minutes_ago is not None else None
            )
            session.add(
                Offer(
                    interaction_id=row.id,
                    agent_id=agent,
                    queue_id=queue["id"],
                    kind=OfferKind.queue,
                    status=status,
                    offered_at=now - timedelta(minutes=2),
                    expires_at=now + timedelta(minutes=5) if resolved is None else resolved,
                    resolved_at=resolved,
                )
            )

        offer(waiting, ann_id, OfferStatus.pending, None)
        offer(waiting, bob_id, OfferStatus.expired, 1)  # missed in the last hour
        offer(active, bob_id, OfferStatus.expired, 9)
        offer(active, bob_id, OfferStatus.expired, 90)  # missed, but over an hour ago

    response = await client.get("/api/supervisor/live", headers=admin)
    assert response.status_code == 200, response.text
    view = response.json()
    sales = by_queue(view, account["id"])["Sales"]
    assert {k: v for k, v in sales.items() if k not in ("waiting_since", "longest_wait_seconds")} == {
        "queue_id": queue["id"],
        "name": "Sales",
        "waiting": 1,
        "offered": 1,
        "active": 1,
        "agents_eligible": 1,  # ann: online, 0 of 5; bob is offline
    }
    assert 120 <= sales["longest_wait_seconds"] < 180
    account_view = next(a for a in view["accounts"] if a["account_id"] == account["id"])
    assert account_view["last_30_minutes"] == {
        "started": 4,
        "accepted": 2,
        "within_sla": 1,
        "sla_percent": 25.0,  # the waiting one is past its 60 s: all 4 are known
        "abandoned": 1,
        "asa_seconds": 60.0,
        "aht_seconds": 300.0,
    }
    at = datetime.fromisoformat(view["at"])
    midnight = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert account_view["today"]["started"] == sum(1 for started in ago.values() if started >= midnight)
    agents = by_agent(view)
    assert set(agents) == {"ann", "bob"}
    assert (agents["ann"]["status"], agents["ann"]["open"], agents["ann"]["capacity"]) == ("online", 0, 5)
    assert (agents["ann"]["offered"], agents["ann"]["missed_last_hour"]) == (1, 0)
    assert 300 <= agents["ann"]["in_status_seconds"] < 360
    assert (agents["bob"]["status"], agents["bob"]["open"], agents["bob"]["missed_last_hour"]) == (
        "offline",
        1,
        2,
    )


async def test_the_stream_follows_an_interaction_from_waiting_to_accepted(
    api, client, admin, fakes, worker, temporal_env, app
):
    floor = await make_floor(api, client, admin, fakes, names=("ann",))
    ann = floor.agents["ann"]
    interaction = await first_message_to_queue(client, admin, floor, queue_seconds=600)
    name = floor.queue["name"]

    async def waiting() -> dict[str, Any]:
        view = (await client.get("/api/supervisor/live", headers=admin)).json()
        queue = by_queue(view, floor.account["id"]).get(name, {})
        return queue if queue.get("waiting") == 1 else {}

    queue = await wait_for(waiting)
    assert (queue["offered"], queue["active"], queue["agents_eligible"]) == (0, 0, 0)
    _, sue = await api.user(admin, "sue", role="supervisor")
    await app.state.services.events.listening.wait()
    async with (
        LoopbackServer(app) as base_url,
        EventStream(base_url, sue["Authorization"].removeprefix("Bearer "), "/api/supervisor/events") as live,
    ):

        async def pushed(**expected: int) -> dict[str, Any]:
            async def found() -> dict[str, Any]:
                latest: dict[str, Any] = next(
                    (v for event, v in reversed(live.events) if event == "live"), {}
                )
                queue = by_queue(latest, floor.account["id"]).get(name, {}) if latest else {}
                return latest if queue and all(queue.get(k) == v for k, v in expected.items()) else {}

            return await wait_for(found)

        await pushed(waiting=1, offered=0)
        await go_online(client, ann)
        offered = await pushed(waiting=1, offered=1, agents_eligible=1)
        assert by_agent(offered)["ann"]["offered"] == 1
        assert (await accept(client, interaction, ann)).status_code == 200
        accepted = await pushed(waiting=0, offered=0, active=1)
        assert (by_agent(accepted)["ann"]["open"], by_agent(accepted)["ann"]["offered"]) == (1, 0)
        level = next(a for a in accepted["accounts"] if a["account_id"] == floor.account["id"])["today"]
        assert (level["started"], level["accepted"]) == (1, 1)


async def test_only_staff_see_the_live_view(api, client, admin, fakes):
    _, agent = await api.user(admin, "ann")
    _, sue = await api.user(admin, "sue", role="supervisor")
    assert (await client.get("/api/supervisor/live", headers=sue)).status_code == 200
    assert (await client.get("/api/supervisor/live", headers=agent)).status_code == 403
    assert (await client.get("/api/supervisor/events", headers=agent)).status_code == 403
    assert (await client.get("/api/supervisor/live")).status_code == 401
    assert (await client.get("/api/supervisor/events")).status_code == 401
