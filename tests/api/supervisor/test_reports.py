"""`GET /api/reports/summary` over real HTTP against a scripted day: interactions and offers with
known times give known service level, abandoned, ASA and AHT, per group and in total."""

from __future__ import annotations

import csv
import io
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
    User,
)
from tests.webhooks import make_account

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PERIOD = {"from": (T - timedelta(hours=1)).isoformat(), "to": (T + timedelta(days=1)).isoformat()}


async def scripted_day(api, admin, fakes, app) -> dict[str, Any]:
    """One account (threshold 60 s) and four interactions started at T, one started long before:
    ann accepts in 30 s and handles 300 s, bob accepts in 90 s and handles 100 s, one is
    abandoned after 50 s, one still waits (past the threshold)."""
    account = await make_account(api, admin, fakes, "twilio")
    ann_id, _ = await api.user(admin, "ann")
    bob_id, _ = await api.user(admin, "bob")
    queue = await api.create(admin, "/api/whatsapp/queues", {"name": "Sales"})
    async with app.state.services.sessionmaker() as session, session.begin():
        ann = await session.get(User, ann_id)
        assert ann is not None
        ann.full_name = "=HYPERLINK(evil)"  # a name a spreadsheet would run
        contacts = ContactList(name="scripted")
        session.add(contacts)
        await session.flush()
        rows: list[Interaction] = []

        async def interaction(
            owner: int | None, accepted: float | None, closed: float | None, started: datetime = T
        ) -> Interaction:
            contact = Contact(list_id=contacts.id, mobile=f"39333000{len(rows):03d}")
            session.add(contact)
            await session.flush()
            row = Interaction(
                account_id=account["id"],
                contact_id=contact.id,
                status=InteractionStatus.closed if closed is not None else InteractionStatus.open_pending,
                owner_id=owner,
                queue_id=queue["id"] if owner else None,
                started_at=started,
                closed_at=started + timedelta(seconds=closed) if closed is not None else None,
            )
            session.add(row)
            await session.flush()
            rows.append(row)
            if accepted is not None:
                at = started + timedelta(seconds=accepted)
                session.add(InteractionEvent(interaction_id=row.id, kind="accepted", at=at, actor_id=owner))
                later = at + timedelta(hours=1)  # an accept after a transfer: not the first
                session.add(InteractionEvent(interaction_id=row.id, kind="accepted", at=later))
            return row

        first = await interaction(ann_id, 30, 330)
        second = await interaction(bob_id, 90, 190)
        await interaction(None, None, 50)
        await interaction(None, None, None)
        await interaction(ann_id, 5, 10, started=T - timedelta(days=10))  # before the period
        for row, agent, status in (
            (first, ann_id, OfferStatus.accepted),
            (first, bob_id, OfferStatus.expired),
            (second, bob_id, OfferStatus.accepted),
        ):
            session.add(
                Offer(
                    interaction_id=row.id,
                    agent_id=agent,
                    queue_id=queue["id"],
                    kind=OfferKind.queue,
                    status=status,
                    offered_at=T + timedelta(seconds=10),
                    expires_at=T + timedelta(seconds=40),
                )
            )
    return {"account": account, "ann": ann_id, "bob": bob_id, "queue": queue}


def offers(**counts: int) -> dict[str, int]:
    return {status.value: counts.get(status.value, 0) for status in OfferStatus}


async def test_the_period_in_total_and_by_agent(api, client, admin, fakes, app):
    day = await scripted_day(api, admin, fakes, app)
    total = await client.get("/api/reports/summary", params={**PERIOD, "group_by": "agent"}, headers=admin)
    assert total.status_code == 200, total.text
    report = total.json()
    assert report["total"] == {
        "group": "total",
        "name": "total",
        "started": 4,
        "accepted": 2,
        "within_sla": 1,
        "sla_percent": 25.0,  # of the 4 known: the waiting one is past its 60 s
        "abandoned": 1,
        "asa_seconds": 60.0,
        "aht_seconds": 200.0,
        "offers": offers(accepted=2, expired=1),
    }
    rows = {row["name"]: row for row in report["rows"]}
    assert set(rows) == {"=HYPERLINK(evil)", "bob", "(none)"}
    ann, bob, nobody = rows["=HYPERLINK(evil)"], rows["bob"], rows["(none)"]
    assert (ann["group"], ann["sla_percent"], ann["asa_seconds"], ann["aht_seconds"]) == (
        str(day["ann"]),
        100.0,
        30.0,
        300.0,
    )
    assert (bob["within_sla"], bob["sla_percent"], bob["asa_seconds"]) == (0, 0.0, 90.0)
    assert bob["offers"] == offers(accepted=1, expired=1)
    assert (nobody["started"], nobody["abandoned"], nobody["accepted"], nobody["asa_seconds"]) == (
        2,
        1,
        0,
        None,
    )


async def test_by_queue_account_and_day(api, client, admin, fakes, app):
    day = await scripted_day(api, admin, fakes, app)

    async def grouped(group_by: str) -> list[dict[str, Any]]:
        response = await client.get(
            "/api/reports/summary", params={**PERIOD, "group_by": group_by}, headers=admin
        )
        assert response.status_code == 200, response.text
        return [
            {key: row[key] for key in ("name", "started", "within_sla")} for row in response.json()["rows"]
        ]

    assert await grouped("queue") == [
        {"name": "Sales", "started": 2, "within_sla": 1},
        {"name": "(none)", "started": 2, "within_sla": 0},
    ]
    assert await grouped("account") == [{"name": day["account"]["key"], "started": 4, "within_sla": 1}]
    assert await grouped("day") == [{"name": "2026-11-20", "started": 4, "within_sla": 1}]


async def test_as_csv_with_formulas_neutralised(api, client, admin, fakes, app):
    await scripted_day(api, admin, fakes, app)
    response = await client.get(
        "/api/reports/summary",
        params={**PERIOD, "group_by": "agent"},
        headers={**admin, "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["name"] for row in rows] == ["'=HYPERLINK(evil)", "bob", "(none)", "total"]
    assert rows[-1]["sla_percent"] == "25.0"
    assert (rows[1]["offers_accepted"], rows[1]["offers_expired"]) == ("1", "1")


async def test_who_may_read_it_and_bad_periods(api, client, admin):
    _, agent = await api.user(admin, "zed")
    _, supervisor = await api.user(admin, "sue", role="supervisor")
    assert (await client.get("/api/reports/summary", params=PERIOD, headers=agent)).status_code == 403
    assert (await client.get("/api/reports/summary", params=PERIOD, headers=supervisor)).status_code == 200
    assert (await client.get("/api/reports/summary", params=PERIOD)).status_code == 401
    cases = [
        ({"to": PERIOD["to"]}, "from"),
        ({**PERIOD, "from": "yesterday"}, "from"),
        ({**PERIOD, "from": "2026-11-20T09:00:00"}, "from"),  # no time zone
        ({**PERIOD, "group_by": "week"}, "group_by"),
        ({"from": PERIOD["to"], "to": PERIOD["from"]}, "to"),
    ]
    for params, field in cases:
        response = await client.get("/api/reports/summary", params=params, headers=admin)
        assert response.status_code == 422, (params, response.text)
        assert f"query.{field}" in response.json()["error"]["fields"], (params, response.json())
