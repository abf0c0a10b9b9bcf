"""`POST /api/whatsapp/interactions/export`: one CSV row per interaction, through the real API.

What a worked interaction exports (every column), formula injection, `{ids}` against the list's
filters, who may export, and 100,000 rows streamed (with the rows/s and peak memory printed)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from api.interactions.export import HEADER
from domain.spreadsheet import neutralised
from tests.helpers import db, scalar
from tests.support.asgi import http_scope, receiver
from tests.support.worked import REPLY, TAGS, worked
from tests.webhooks import make_account

EXPORT = "/api/whatsapp/interactions/export"


def parsed(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="interactions-')
    assert response.content.startswith("\ufeff".encode())  # UTF-8 for spreadsheets
    reader = csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    header, *rows = list(reader)
    assert header == HEADER
    return [dict(zip(header, row, strict=True)) for row in rows]


def at(cell: str) -> datetime:
    return datetime.fromisoformat(cell)


def near(cell: str, moment: datetime) -> bool:
    """The cell is `moment` to the second (the CSV writes whole seconds)."""
    return abs(at(cell) - moment) < timedelta(seconds=1)


async def test_a_worked_interaction_exports_every_column(
    api, client, admin, fakes, worker, temporal_env, settings
):
    done = await worked(api, client, admin, fakes, temporal_env)
    interaction_id = done.interaction["id"]
    response = await client.post(
        EXPORT, json={"ids": [interaction_id], "time_zone": "Asia/Kolkata"}, headers=admin
    )
    (row,) = parsed(response)

    started = scalar(settings, "SELECT started_at FROM interactions WHERE id = %s", interaction_id)
    closed = scalar(settings, "SELECT closed_at FROM interactions WHERE id = %s", interaction_id)
    offered = scalar(settings, "SELECT min(offered_at) FROM offers WHERE interaction_id = %s", interaction_id)
    accepted = scalar(
        settings,
        "SELECT at FROM interaction_events WHERE interaction_id = %s AND kind = 'accepted'",
        interaction_id,
    )
    replied = scalar(settings, "SELECT created_at FROM messages WHERE id = %s", done.reply["id"])
    assert offered is not None and offered <= accepted < replied < closed

    assert row["interaction_id"] == str(interaction_id)
    assert row["account_key"] == done.account["key"]
    assert (row["contact_name"], row["contact_mobile"]) == ("Mario Rossi", "393331234567")
    assert row["status"] == "closed"
    assert (row["owner"], row["queue"]) == ("ann", done.queue["name"])
    assert row["tags"] == "'" + ", ".join(TAGS)  # "-x, vip" starts with a minus
    levels = [row[f"disposition_level_{level}"] for level in (1, 2, 3)]
    assert levels == ["Sales", "Sold", "Upsell"]
    for column, moment in (
        ("started_at", started), ("first_offered_at", offered), ("accepted_at", accepted),
        ("first_reply_at", replied), ("closed_at", closed),
    ):  # fmt: skip
        assert near(row[column], moment), (column, row[column], moment)
        assert row[column].endswith("+05:30"), row[column]  # in the zone asked for
    assert row["wait_seconds"] == str(round((accepted - started).total_seconds()))
    assert row["first_response_seconds"] == str(round((replied - started).total_seconds()))
    assert row["handle_seconds"] == str(round((closed - accepted).total_seconds()))
    assert (row["inbound_messages"], row["outbound_messages"]) == ("1", "1")  # the note is neither
    assert near(row["last_message_at"], datetime.fromisoformat(done.interaction["last_message_at"]))
    assert row["last_message"] == "'" + REPLY  # a formula, shown as text

    utc = parsed(await client.post(EXPORT, json={"ids": [interaction_id]}, headers=admin))[0]
    assert utc["started_at"].endswith("+00:00") and at(utc["started_at"]) == at(row["started_at"])


def returned(conn, query: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


def interactions(settings, account_id: int, rows: list[dict[str, Any]]) -> list[int]:
    """Interactions written straight to the database (no workflow), one contact each."""
    ids = []
    with db(settings) as conn:
        list_id = returned(conn, "SELECT list_id FROM accounts WHERE id = %s", (account_id,))
        for number, row in enumerate(rows):
            contact_id = returned(
                conn,
                "INSERT INTO contacts (list_id, first_name, last_name, mobile) VALUES (%s, %s, '', %s) "
                "RETURNING id",
                (list_id, row.get("name", "Customer"), f"39000{account_id}{number:06d}"),
            )
            interaction_id = returned(
                conn,
                "INSERT INTO interactions (account_id, contact_id, status, read, tags, last_message) "
                "VALUES (%s, %s, %s, false, %s, %s) RETURNING id",
                (
                    account_id,
                    contact_id,
                    row.get("status", "closed"),
                    row.get("tags", []),
                    row.get("last", ""),
                ),
            )
            ids.append(interaction_id)
    return ids


DANGEROUS = ["=1+2", "+1-2", "-2+3", "@SUM(A1)", "\tindent=1", "\r=cmd"]
HARMLESS = ["1+2", "a=b", "hello @team", " =padded", ""]


async def test_cells_a_spreadsheet_would_run_are_written_as_text(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "twilio")
    texts = DANGEROUS + HARMLESS
    ids = interactions(
        settings, account["id"], [{"last": text, "name": text or "Customer"} for text in texts]
    )
    rows = parsed(await client.post(EXPORT, json={"ids": ids}, headers=admin))
    assert [row["interaction_id"] for row in rows] == [str(ident) for ident in ids]
    expected = [f"'{text}" for text in DANGEROUS] + HARMLESS
    assert [row["last_message"] for row in rows] == expected
    assert [row["contact_name"] for row in rows[: len(DANGEROUS)]] == [
        "'" + text.strip() if text.strip().startswith(("=", "+", "-", "@")) else text.strip()
        for text in DANGEROUS
    ]


async def test_ids_or_the_lists_filters(api, client, admin, fakes, settings):
    first = await make_account(api, admin, fakes, "twilio")
    second = await make_account(api, admin, fakes, "meta")
    a, b, c = interactions(
        settings,
        first["id"],
        [{"status": "closed", "name": "Anna"}, {"status": "open"}, {"status": "closed", "name": "Carlo"}],
    )
    (d,) = interactions(settings, second["id"], [{"status": "closed"}])

    def exported(response) -> list[int]:
        return [int(row["interaction_id"]) for row in parsed(response)]

    assert exported(await client.post(EXPORT, json={"ids": [c, a]}, headers=admin)) == [a, c]
    assert exported(await client.post(EXPORT, json={}, headers=admin)) == [a, b, c, d]
    assert exported(await client.post(EXPORT, json={"status": "closed"}, headers=admin)) == [a, c, d]
    by_account = {"account_id": first["id"], "status": "closed"}
    assert exported(await client.post(EXPORT, json=by_account, headers=admin)) == [a, c]
    assert exported(await client.post(EXPORT, json={"q": "anna"}, headers=admin)) == [a]
    rule = {"field": "contact.first_name", "operator": "starts_with", "value": "Car"}
    conditions = json.dumps({"match": "all", "rules": [rule]})
    assert exported(await client.post(EXPORT, json={"conditions": conditions}, headers=admin)) == [c]
    bad = json.dumps({"match": "all", "rules": [{**rule, "operator": "gt"}]})
    refused_rule = await client.post(EXPORT, json={"conditions": bad}, headers=admin)
    assert refused_rule.status_code == 422 and "conditions.rules.0" in str(refused_rule.json()), (
        refused_rule.text
    )
    # the list shows the same interactions for the same filters
    listed = (await client.get("/api/whatsapp/interactions", params=by_account, headers=admin)).json()
    assert sorted(row["id"] for row in listed["rows"]) == [a, c]

    both = await client.post(EXPORT, json={"ids": [a], "status": "closed"}, headers=admin)
    assert both.status_code == 422, both.text
    unknown = await client.post(EXPORT, json={"ids": [a, 999999]}, headers=admin)
    assert unknown.status_code == 404 and "999999" in unknown.json()["error"]["message"]
    refused: list[dict[str, Any]] = [{"ids": []}, {"time_zone": "Mars/Olympus"}, {"colour": "red"}]
    for body in refused:
        assert (await client.post(EXPORT, json=body, headers=admin)).status_code == 422, body


async def test_only_admins_and_supervisors_export(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "twilio")
    (ident,) = interactions(settings, account["id"], [{}])
    agent_id, agent = await api.user(admin, "ann")
    await client.post(
        f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": [agent_id]}, headers=admin
    )
    _, supervisor = await api.user(admin, "sue", role="supervisor")

    refused = await client.post(EXPORT, json={"ids": [ident]}, headers=agent)
    assert refused.status_code == 403, refused.text
    assert (await client.post(EXPORT, json={})).status_code == 401
    assert [
        row["interaction_id"] for row in parsed(await client.post(EXPORT, json={}, headers=supervisor))
    ] == [str(ident)]


LARGE = 100_000


def insert_many(settings, account_id: int, count: int) -> None:
    """`count` more closed interactions over 1,000 contacts, two messages each, written with SQL."""
    with db(settings) as conn:
        list_id = returned(conn, "SELECT list_id FROM accounts WHERE id = %s", (account_id,))
        conn.execute(
            "INSERT INTO contacts (list_id, first_name, last_name, mobile) "
            "SELECT %s, 'Contact', g::text, (390000000000 + g)::text FROM generate_series(1, 1000) g "
            "ON CONFLICT DO NOTHING",
            (list_id,),
        )
        conn.execute(
            "INSERT INTO interactions (account_id, contact_id, status, read, tags, last_message, "
            "last_message_at, started_at, closed_at) "
            "SELECT %s, c.id, 'closed', true, ARRAY['bulk', 't' || (g %% 7)], "
            "'Thanks, that is all I needed to know about my order number ' || g, "
            "now() - g * interval '1 second', now() - g * interval '1 minute', now() "
            "FROM generate_series(1, %s) g JOIN contacts c ON c.mobile = (390000000000 + 1 + g %% 1000)::text",
            (account_id, count),
        )
        conn.execute(
            "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload, status) "
            "SELECT i.account_id, i.id, d.direction, 'text', 'message', '{}', d.status "
            "FROM interactions i CROSS JOIN (VALUES ('in', 'received'), ('out', 'sent')) AS d(direction, status) "
            "WHERE i.account_id = %s AND NOT EXISTS (SELECT FROM messages m WHERE m.interaction_id = i.id)",
            (account_id,),
        )
        conn.execute("ANALYZE")  # statistics, as a database in service has them


class Streamed:
    """What the client of a streamed response saw, without keeping the body."""

    def __init__(self) -> None:
        self.status = 0
        self.chunks = 0
        self.bytes = 0
        self.lines = 0  # CSV records (none of these rows has a line break inside a cell)


async def stream(
    client, app, headers: dict[str, str], body: dict[str, Any], after_first: Callable[[], Awaitable[None]]
):
    """POST the export to the ASGI app directly and read its body as a client would, running
    `after_first` once the first chunk has arrived and before taking the next one: the app
    cannot go on sending until it returns."""
    request = client.build_request("POST", EXPORT, json=body, headers=headers)
    seen = Streamed()
    finished = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen.status = message["status"]
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            seen.chunks += 1
            seen.bytes += len(chunk)
            seen.lines += chunk.count(b"\r\n")
            if seen.chunks == 1:
                await after_first()

    await app(http_scope(request), receiver(request.read(), finished), send)
    finished.set()
    return seen


async def nothing() -> None:
    return None


async def peak_memory(client, app, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, int]:
    """The rows one export sent and the most memory it held at once (tracemalloc)."""
    tracemalloc.start()
    try:
        seen = await stream(client, app, headers, body, nothing)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seen.lines - 1, peak


async def test_100000_rows_stream_with_flat_memory(api, app, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "twilio")
    body = {"account_id": account["id"]}
    insert_many(settings, account["id"], LARGE // 10)
    small = await peak_memory(client, app, admin, body)
    assert small[0] == LARGE // 10
    insert_many(settings, account["id"], LARGE - LARGE // 10)
    late: list[int] = []

    async def a_row_arrives_late() -> None:
        """Committed after the client got the first bytes: a response built whole before it
        started could never show it."""
        assert late == []
        (late_id,) = interactions(settings, account["id"], [{"last": "written after the export began"}])
        late.append(late_id)

    began = time.perf_counter()
    seen = await stream(client, app, admin, body, a_row_arrives_late)
    seconds = time.perf_counter() - began
    assert seen.status == 200
    assert seen.lines == 1 + LARGE + 1  # the header, every row, and the late one
    assert seen.chunks > LARGE // 1000  # a chunk per batch at least, not one body
    large = await peak_memory(client, app, admin, body)
    assert large[0] == LARGE + 1
    print(  # noqa: T201 (measured for the record, not asserted)
        f"\nexport: {seen.lines - 1} rows, {seen.bytes / 1e6:.1f} MB of CSV in {seconds:.2f} s = "
        f"{(seen.lines - 1) / seconds:,.0f} rows/s; peak traced memory (tracemalloc, runs of their own): "
        f"{small[1] / 1e6:.1f} MB for {small[0]:,} rows, {large[1] / 1e6:.1f} MB for {large[0]:,} rows"
    )


def test_formula_cells_are_neutralised_and_nothing_else():
    cells = ["=A1", "+1", "-1", "@x", "\tx", "\rx", "x=1", "", " =1", 7, "-"]
    assert neutralised(cells) == ["'=A1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "x=1", "", " =1", 7, "'-"]


@pytest.mark.parametrize("zone", ["UTC", "America/Sao_Paulo"])
async def test_an_empty_export_is_the_header(client, admin, zone):
    assert parsed(await client.post(EXPORT, json={"time_zone": zone}, headers=admin)) == []
