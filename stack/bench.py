"""`make bench`: webhook ingestion throughput on the embedded stack.

Starts a fresh embedded stack (PostgreSQL, Temporal dev server, API, worker) in .bench/stack,
creates a Meta account with an app secret, then, three times:
  - inbound: MESSAGES signed Meta webhooks, one text message each, from CONTACTS contacts (each
    stored, its interaction found or created, signal-with-start to its workflow), CONCURRENCY at once;
  - statuses: STATUSES signed `delivered` callbacks for stored outbound messages (one UPDATE each).
Prints each run and the medians; writes .bench/ingestion.json.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from settings import Settings
from stack.processes import EmbeddedStack, free_port

RUNS = 3
MESSAGES = 600
CONTACTS = 100
STATUSES = 1800
CONCURRENCY = 16
APP_SECRET = "bench-app-secret"  # noqa: S105 (a throwaway stack of its own)
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105
OUT = Path(".bench")


def _signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "w", "changes": [{"field": "messages", "value": value}]}],
    }


async def _blast(http: httpx.AsyncClient, path: str, bodies: list[tuple[bytes, dict[str, str]]]) -> float:
    """Post every body, CONCURRENCY at a time; return requests per second."""
    gate = asyncio.Semaphore(CONCURRENCY)
    failures: list[int] = []

    async def post(raw: bytes, headers: dict[str, str]) -> None:
        async with gate:
            response = await http.post(path, content=raw, headers=headers)
            if response.status_code != 200:
                failures.append(response.status_code)

    started = time.perf_counter()
    await asyncio.gather(*(post(raw, headers) for raw, headers in bodies))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} webhooks failed, e.g. HTTP {failures[0]}")
    return len(bodies) / elapsed


async def _run(http: httpx.AsyncClient, path: str, account_id: int, dsn: str) -> tuple[float, float]:
    tag = uuid.uuid4().hex[:8]
    inbound = [
        _signed(
            _envelope(
                {
                    "contacts": [
                        {
                            "profile": {"name": f"Bench {i % CONTACTS}"},
                            "wa_id": f"1555{tag[:4]}{i % CONTACTS:04d}",
                        }
                    ],
                    "messages": [
                        {
                            "from": f"1555{tag[:4]}{i % CONTACTS:04d}",
                            "id": f"wamid.{tag}.{i}",
                            "timestamp": "1732442400",
                            "type": "text",
                            "text": {"body": f"message {i}"},
                        }
                    ],
                }
            )
        )
        for i in range(MESSAGES)
    ]
    messages_per_second = await _blast(http, path, inbound)

    with psycopg.connect(dsn, autocommit=True) as conn:
        interaction_id = conn.execute("SELECT max(id) FROM interactions").fetchone()[0]  # type: ignore[index]
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload,"
                " provider_message_id, status)"
                " VALUES (%s, %s, 'out', 'text', 'reply', '{}', %s, 'sent')",
                [(account_id, interaction_id, f"wamid.out.{tag}.{i}") for i in range(STATUSES)],
            )
    statuses = [
        _signed(
            _envelope(
                {
                    "statuses": [
                        {
                            "id": f"wamid.out.{tag}.{i}",
                            "status": "delivered",
                            "timestamp": "1732442401",
                            "recipient_id": "1",
                        }
                    ]
                }
            )
        )
        for i in range(STATUSES)
    ]
    statuses_per_second = await _blast(http, path, statuses)
    return messages_per_second, statuses_per_second


async def _measure(stack: EmbeddedStack) -> list[tuple[float, float]]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
        login = await http.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        contact_list = (await http.post("/api/cm/lists", json={"name": "Bench"}, headers=headers)).json()
        account = (
            await http.post(
                "/api/whatsapp/accounts",
                headers=headers,
                json={
                    "name": "Bench",
                    "key": "BENCH",
                    "list_id": contact_list["id"],
                    "type": "meta",
                    "phone": "15550001111",
                    "credentials": {
                        "account_sid": "w",
                        "auth_token": "t",
                        "app_id": "a",
                        "phone_number_id": "1",
                        "app_secret": APP_SECRET,
                    },
                },
            )
        ).json()
        path = account["receive_url"].split("://", 1)[1].split("/", 1)[1]
        dsn = stack.settings.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")
        results = []
        for number in range(1, RUNS + 1):
            messages, statuses = await _run(http, f"/{path}", account["id"], dsn)
            print(f"run {number}: {messages:7.1f} inbound messages/s   {statuses:7.1f} status callbacks/s")
            results.append((messages, statuses))
        return results


def main() -> None:
    data_dir = OUT / "stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(
        data_dir=data_dir,
        api_port=free_port(),
        temporal_port=free_port(),
        admin_password=ADMIN_PASSWORD,
        public_url="http://127.0.0.1",
    )
    stack = EmbeddedStack(settings, temporal_ui=False, quiet=True)
    print(f"Starting the embedded stack in {data_dir} ...")
    try:
        stack.start()
        print(
            f"{MESSAGES} inbound webhooks ({CONTACTS} contacts) and {STATUSES} status callbacks per run,"
            f" {CONCURRENCY} concurrent"
        )
        results = asyncio.run(_measure(stack))
    finally:
        stack.stop()
    messages = statistics.median(result[0] for result in results)
    statuses = statistics.median(result[1] for result in results)
    print(
        f"median of {RUNS}: {messages:.1f} inbound messages/s, {statuses:.1f} status callbacks/s "
        f"(statuses are {statuses / messages:.1f}x cheaper)"
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "ingestion.json").write_text(
        json.dumps(
            {"runs": results, "median_messages_per_s": messages, "median_statuses_per_s": statuses}, indent=2
        )
    )


if __name__ == "__main__":
    main()
