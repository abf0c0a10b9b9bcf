"""Sessions that can be revoked (a new password, a new role, deletion), and event streams opened
with single-use tickets instead of a bearer token in the URL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

from api import sse
from tests.fakes.providers import LoopbackServer
from tests.helpers import db, wait_for
from tests.support.events import EventStream


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def ticket_for(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/api/agents/me/events/ticket", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == 60
    ticket: str = body["ticket"]
    return ticket


@contextlib.asynccontextmanager
async def opened(base_url: str, **request: object) -> AsyncIterator[httpx.Response]:
    """The event stream opened with `request` (params, headers), its first line read."""
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(5, read=None)) as http,
        http.stream("GET", "/api/agents/me/events", **request) as response,  # type: ignore[arg-type]
    ):
        assert response.status_code == 200
        lines = response.aiter_lines()
        assert await anext(lines) == "event: ready"
        yield response


async def test_a_ticket_opens_one_stream_once(api, client, admin, app):
    _, ann = await api.user(admin, "ann")
    ticket = await ticket_for(client, ann)
    async with LoopbackServer(app) as base_url, opened(base_url, params={"ticket": ticket}):
        again = await client.get("/api/agents/me/events", params={"ticket": ticket})
        assert again.status_code == 401
        assert again.json()["error"]["code"] == "unauthorized"
    assert (await client.post("/api/agents/me/events/ticket")).status_code == 401  # needs a bearer token


async def test_an_expired_ticket_is_refused(api, client, admin, settings):
    _, ann = await api.user(admin, "ann")
    ticket = await ticket_for(client, ann)
    with db(settings) as conn:
        conn.execute("UPDATE stream_tickets SET expires_at = now() - interval '1 second'")
    assert (await client.get("/api/agents/me/events", params={"ticket": ticket})).status_code == 401


async def test_a_token_in_the_url_is_refused_and_the_header_still_works(api, admin, app):
    _, ann = await api.user(admin, "ann")
    async with LoopbackServer(app) as base_url:
        async with (  # over real HTTP: a stream that did open would never end under ASGITransport
            httpx.AsyncClient(base_url=base_url, timeout=5) as http,
            http.stream("GET", "/api/agents/me/events", params={"access_token": bearer(ann)}) as response,
        ):
            assert response.status_code == 401
            assert "ticket" in (await response.aread()).decode()
        async with opened(base_url, headers=ann):
            pass


async def test_a_ticket_dies_with_its_users_sessions(api, client, admin):
    ann_id, ann = await api.user(admin, "ann")
    ticket = await ticket_for(client, ann)
    response = await client.patch(f"/api/users/{ann_id}", json={"password": "another-pass"}, headers=admin)
    assert response.status_code == 200
    assert (await client.get("/api/agents/me/events", params={"ticket": ticket})).status_code == 401


async def test_a_new_password_revokes_the_users_tokens(api, client, admin):
    ann_id, ann = await api.user(admin, "ann")
    response = await client.patch(f"/api/users/{ann_id}", json={"password": "another-pass"}, headers=admin)
    assert response.status_code == 200
    refused = await client.get("/api/agents/me", headers=ann)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    fresh = await api.login("ann", "another-pass")
    assert (await client.get("/api/agents/me", headers=fresh)).status_code == 200


async def test_a_new_role_revokes_the_users_tokens_and_other_changes_do_not(api, client, admin):
    ann_id, ann = await api.user(admin, "ann")
    path = f"/api/users/{ann_id}"
    same_role = await client.patch(path, json={"role": "agent", "whatsapp_capacity": 2}, headers=admin)
    assert same_role.status_code == 200
    assert (await client.get("/api/agents/me", headers=ann)).status_code == 200
    assert (await client.patch(path, json={"role": "supervisor"}, headers=admin)).status_code == 200
    assert (await client.get("/api/agents/me", headers=ann)).status_code == 401
    supervisor = await api.login("ann", "password-123")
    assert (await client.get("/api/users", headers=supervisor)).status_code == 200


async def test_revocation_ends_open_streams(api, client, admin, app, monkeypatch):
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.3)  # streams re-check at each heartbeat
    users = {name: await api.user(admin, name) for name in ("ann", "bob", "cat", "dan")}
    async with contextlib.AsyncExitStack() as stack:
        base_url = await stack.enter_async_context(LoopbackServer(app))
        streams = {
            name: await stack.enter_async_context(EventStream(base_url, bearer(headers)))
            for name, (_, headers) in users.items()
        }
        ann, bob, cat = (users[name][0] for name in ("ann", "bob", "cat"))
        await client.patch(f"/api/users/{ann}", json={"password": "another-pass"}, headers=admin)
        await client.patch(f"/api/users/{cat}", json={"role": "supervisor"}, headers=admin)
        assert (await client.delete(f"/api/users/{bob}", headers=admin)).status_code == 204
        assert (await client.get("/api/agents/me", headers=users["bob"][1])).status_code == 401

        async def revoked_ended() -> bool:
            return all(streams[name].task.done() for name in ("ann", "bob", "cat"))  # type: ignore[union-attr]

        await wait_for(revoked_ended, seconds=5)
        await asyncio.sleep(1)  # three more heartbeats
        assert not streams["dan"].task.done()  # type: ignore[union-attr]
