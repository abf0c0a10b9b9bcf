"""How `make bench` talks to the stack: signed Meta webhooks, the admin API, and the inbound
relay's progress read from the database (stack.bench and stack.bench_waiting)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import psycopg

APP_SECRET = "bench-app-secret"  # noqa: S105 (a throwaway stack of its own)
CONCURRENCY = 16  # closed-loop posts in flight (_blast)
RELAY_POLL_SECONDS = 0.5


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """`body` as a Meta webhook signed with APP_SECRET: its bytes and its headers."""
    raw = json.dumps(body).encode()
    digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def envelope(value: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "w", "changes": [{"field": "messages", "value": value}]}],
    }


def text_message(mobile: str, wamid: str, name: str, text: str) -> dict[str, Any]:
    """The `value` of a Meta webhook carrying one text message from `mobile`."""
    return {
        "contacts": [{"profile": {"name": name}, "wa_id": mobile}],
        "messages": [
            {"from": mobile, "id": wamid, "timestamp": "1732442400", "type": "text", "text": {"body": text}}
        ],
    }


def delivered(wamid: str) -> dict[str, Any]:
    """The `value` of a Meta webhook saying outbound message `wamid` was delivered."""
    return {
        "statuses": [{"id": wamid, "status": "delivered", "timestamp": "1732442401", "recipient_id": "1"}]
    }


async def call(http: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], body: Any) -> Any:
    response = await http.request(method, url, json=body, headers=headers)
    if response.is_error:
        raise RuntimeError(f"{method} {url}: HTTP {response.status_code} {response.text}")
    return response.json()


async def blast(http: httpx.AsyncClient, path: str, bodies: list[tuple[bytes, dict[str, str]]]) -> float:
    """Post every body, CONCURRENCY at a time (closed loop); return requests per second."""
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


async def meta_account(
    http: httpx.AsyncClient, admin: dict[str, str], list_id: int, name: str, key: str, phone: str
) -> tuple[int, str]:
    """A Meta account whose webhooks are signed with APP_SECRET: its id and its receive URL's path."""
    account = await call(
        http,
        "POST",
        "/api/whatsapp/accounts",
        admin,
        {
            "name": name,
            "key": key,
            "list_id": list_id,
            "type": "meta",
            "phone": phone,
            "credentials": {
                "account_sid": "w",
                "auth_token": "t",
                "app_id": "a",
                "phone_number_id": "1",
                "app_secret": APP_SECRET,
            },
        },
    )
    return account["id"], "/" + account["receive_url"].split("://", 1)[1].split("/", 1)[1]


async def relay_drained(dsn: str, account_id: int, limit_seconds: float) -> float | None:
    """Wait until the inbound relay has handed every stored inbound message of the account to its
    workflow (`signalled_at` set): the seconds that took, or None if some still wait after
    `limit_seconds`."""
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while True:
            cursor = await conn.execute(
                "SELECT count(*) FROM messages"
                " WHERE account_id = %s AND direction = 'in' AND signalled_at IS NULL",
                (account_id,),
            )
            waiting = await cursor.fetchone()
            waited = time.perf_counter() - started
            if waiting is not None and waiting[0] == 0:
                return waited
            if waited > limit_seconds:
                return None
            await asyncio.sleep(RELAY_POLL_SECONDS)
