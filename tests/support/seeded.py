"""Interactions written straight into PostgreSQL for the list's filters and search: accounts,
agents, a queue and dispositions through the API, then contacts, interactions, messages and offers
by SQL (no routing needed to read them back).

    i1  account A, Ada Lovelace,  open, ann owns, queue Q, unread, tags vip+billing, window open
    i2  account A, Bob Builder,   closed, bob owns (ann accepted first and wrote), disposed D3
    i3  account A, Carla (no last name), open-pending, queue Q, no tags, nobody accepted yet
    i4  account B, Dan Other,     open, cat owns, tags vip
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import db
from tests.support.floor import Agent
from tests.webhooks import make_account

NOW = datetime.now(UTC)
DAY = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


@dataclass
class Seeded:
    accounts: dict[str, dict[str, Any]]
    agents: dict[str, Agent]
    queue: dict[str, Any]
    dispositions: dict[str, int]
    lists: dict[str, int]
    ids: dict[str, int] = field(default_factory=dict)  # "i1" → interaction id

    def names(self, rows: list[dict[str, Any]]) -> list[str]:
        by_id = {ident: name for name, ident in self.ids.items()}
        return [by_id[row["id"]] for row in rows]


async def seed(api, client, admin, fakes, settings) -> Seeded:
    a = await make_account(api, admin, fakes, "twilio", key="AAA")
    second_list = await api.create(admin, "/api/cm/lists", {"name": "Second"})
    b = await make_account(api, admin, fakes, "meta", key="BBB", list_id=second_list["id"])
    agents = {}
    for name in ("ann", "bob", "cat"):
        user_id, headers = await api.user(admin, name)
        agents[name] = Agent(user_id, headers)
    for account, members in ((a, ("ann", "bob")), (b, ("cat",))):
        ids = [agents[name].id for name in members]
        response = await client.post(
            f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": ids}, headers=admin
        )
        assert response.status_code in (200, 201), response.text
    queue = await api.create(admin, "/api/whatsapp/queues", {"name": "Q", "strategy": "beepall"})
    base = f"/api/whatsapp/accounts/{a['id']}/dispositions"
    d1 = await api.create(admin, base, {"name": "Sale", "level": 1})
    d2 = await api.create(admin, base, {"name": "Upsell", "level": 2, "parent_id": d1["id"]})
    d3 = await api.create(admin, base, {"name": "Yearly", "level": 3, "parent_id": d2["id"]})
    d4 = await api.create(admin, base, {"name": "No sale", "level": 1})
    seeded = Seeded(
        {"A": a, "B": b},
        agents,
        queue,
        {"D1": d1["id"], "D2": d2["id"], "D3": d3["id"], "D4": d4["id"]},
        {"A": a["list_id"], "B": second_list["id"]},
    )
    ann, bob, cat = agents["ann"].id, agents["bob"].id, agents["cat"].id
    with db(settings) as conn:

        def contact(list_id: int, first: str, last: str, mobile: str, email: str | None) -> int:
            row = conn.execute(
                "INSERT INTO contacts (list_id, first_name, last_name, mobile, email)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (list_id, first, last, mobile, email),
            ).fetchone()
            assert row is not None
            return int(row[0])

        def interaction(name: str, account: dict[str, Any], contact_id: int, **columns: Any) -> int:
            values = {
                "account_id": account["id"],
                "contact_id": contact_id,
                "read": False,
                "tags": [],
                "last_message": "",
                **columns,
            }
            names = ", ".join(values)
            marks = ", ".join(["%s"] * len(values))
            row = conn.execute(
                f"INSERT INTO interactions ({names}) VALUES ({marks}) RETURNING id",  # noqa: S608 (test-owned)
                list(values.values()),
            ).fetchone()
            assert row is not None
            seeded.ids[name] = int(row[0])
            return int(row[0])

        def message(interaction_id: int, direction: str, text: str, sender: int | None = None) -> None:
            account_id = conn.execute(
                "SELECT account_id FROM interactions WHERE id = %s", (interaction_id,)
            ).fetchone()
            assert account_id is not None
            status = {"in": "received", "out": "sent", "internal": None}[direction]
            conn.execute(
                "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload, status,"
                " sender_id) VALUES (%s, %s, %s, 'text', %s, %s, %s, %s)",
                (account_id[0], interaction_id, direction, text, json.dumps({}), status, sender),
            )

        def accepted(interaction_id: int, agent_id: int, at: datetime) -> None:
            """What an accept writes: the offer accepted and the `accepted` timeline event."""
            conn.execute(
                "INSERT INTO offers (interaction_id, agent_id, kind, status, offered_at, expires_at, resolved_at)"
                " VALUES (%s, %s, 'queue', 'accepted', %s, %s, %s)",
                (interaction_id, agent_id, at, at + timedelta(minutes=1), at),
            )
            conn.execute(
                "INSERT INTO interaction_events (interaction_id, at, kind, actor_id, data)"
                " VALUES (%s, %s, 'accepted', %s, '{}')",
                (interaction_id, at, agent_id),
            )

        ada = contact(seeded.lists["A"], "Ada", "Lovelace", "393331111111", "ada@example.com")
        bob_c = contact(seeded.lists["A"], "Bob", "Builder", "393332222222", None)
        carla = contact(seeded.lists["A"], "Carla", "", "441234567890", "carla@example.org")
        dan = contact(seeded.lists["B"], "Dan", "Other", "15550001111", None)

        i1 = interaction(
            "i1", a, ada, status="open", owner_id=ann, queue_id=queue["id"], tags=["vip", "billing"],
            started_at=DAY, last_inbound_at=NOW - timedelta(hours=1), last_message_at=NOW - timedelta(hours=1),
        )  # fmt: skip
        message(i1, "in", "I want a REFUND")
        message(i1, "out", "Sure", ann)
        message(i1, "internal", "note: refund 100%", ann)  # notes are no messages of the customer
        accepted(i1, ann, DAY + timedelta(seconds=30))

        i2 = interaction(
            "i2", a, bob_c, status="closed", owner_id=bob, read=True, tags=["billing"],
            disposition_id=seeded.dispositions["D3"], started_at=DAY + timedelta(days=1),
            closed_at=DAY + timedelta(days=1, hours=2), last_inbound_at=DAY + timedelta(days=1, minutes=5),
            last_message_at=DAY + timedelta(days=1, hours=1),
        )  # fmt: skip
        message(i2, "in", "hello")
        message(i2, "in", "invoice_2 please")
        message(i2, "out", "here it is", ann)
        accepted(i2, ann, DAY + timedelta(days=1, seconds=60))
        accepted(i2, bob, DAY + timedelta(days=1, minutes=30))  # transferred to bob

        i3 = interaction(
            "i3", a, carla, status="open-pending", queue_id=queue["id"], started_at=DAY + timedelta(days=2),
            last_inbound_at=NOW - timedelta(hours=2), last_message_at=NOW - timedelta(hours=2),
        )  # fmt: skip
        message(i3, "in", "hi there")

        i4 = interaction(
            "i4", b, dan, status="open", owner_id=cat, tags=["vip"], started_at=DAY + timedelta(days=3),
        )  # fmt: skip
        message(i4, "in", "hola")
        accepted(i4, cat, DAY + timedelta(days=3, seconds=10))
    return seeded
