"""`make demo`'s pieces against the real API, worker, PostgreSQL and Temporal: seeding through the
public API, a simulated customer's message answered by a simulated agent, the reply reaching the
simulator as a valid provider request and its status callbacks marking it delivered and read,
and /demo/phone only in demo mode."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
from cryptography.fernet import Fernet

from api.app import create_app
from demo.agents import SimulatedAgent
from demo.customers import PEOPLE
from demo.seed import AUTOREPLY, seed
from demo.simulator import Simulator
from models import ProviderType
from settings import Settings
from stack.migrate import ensure_admin
from tests.conftest import ADMIN_PASSWORD
from tests.fakes.providers import LoopbackServer
from tests.helpers import wait_for


def _bare_settings(tmp_path: Path, simulator_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url="postgresql://nobody@127.0.0.1:1/none",
        secret_key=Fernet.generate_key().decode(),
        demo_simulator_url=simulator_url,
    )


async def test_the_phone_page_exists_only_in_demo_mode(tmp_path: Path):
    for simulator_url, expected in ((None, 404), ("http://127.0.0.1:9", 200)):
        app = create_app(_bare_settings(tmp_path, simulator_url))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
            page = await http.get("/demo/phone")
            assert page.status_code == expected, simulator_url
            script = await http.get("/demo/static/phone.js")
            assert script.status_code == expected
            if expected == 404:
                assert (await http.get("/demo/api/contacts")).status_code == 404
                assert (await http.post("/demo/api/messages", json={})).status_code in (404, 405)
            else:
                assert "Customer's phone" in page.text
                assert page.headers["content-security-policy"].startswith("default-src 'self'")


def _authorized(simulator: Simulator, provider: ProviderType, captured) -> None:
    """The send carried the credentials and shape the provider's API requires."""
    assert captured.authorized
    creds = simulator.credentials(provider)
    if provider is ProviderType.twilio:
        basic = base64.b64encode(f"{creds['account_sid']}:{creds['auth_token']}".encode()).decode()
        assert captured.headers["authorization"] == f"Basic {basic}"
        form = dict(parse_qsl(captured.body.decode()))
        assert form["From"] == f"whatsapp:+{simulator.lines['TWL'].phone}"
        assert form["StatusCallback"] == simulator.lines["TWL"].receive_url
    elif provider is ProviderType.meta:
        assert captured.headers["authorization"] == f"Bearer {creds['auth_token']}"
        assert json.loads(captured.body)["messaging_product"] == "whatsapp"
    elif provider is ProviderType.sinch_v2:
        assert captured.headers["authorization"].startswith("Bearer demo-sinch-token-")
        assert json.loads(captured.body)["app_id"] == creds["app_id"]
    else:
        assert captured.headers["api-key"] == creds["api_key"]
        assert (
            captured.path
            == f"/kaleyra/v2/{creds['account_sid']}/whatsapp/{simulator.lines['KAL'].phone}/messages"
        )


@pytest.mark.slow
async def test_a_simulated_customer_is_answered_by_a_simulated_agent(app, worker, settings, simulator):
    ensure_admin(settings.sqlalchemy_url, ADMIN_PASSWORD)
    await app.state.services.events.listening.wait()
    async with LoopbackServer(app) as api_url, httpx.AsyncClient(base_url=api_url, timeout=20) as http:
        seeded = await seed(http, ADMIN_PASSWORD, simulator, api_url, "person-password-1", agents=1)
        assert {key: account["type"] for key, account in seeded.accounts.items()} == {
            "TWL": "twilio", "SNC": "sinch_v2", "META": "meta", "KAL": "kaleyra"
        }  # fmt: skip
        for plan in seeded.plans.values():
            assert [step["application"] for step in plan] == ["autoreply", "queue"]
            assert plan[0]["params"]["text"] == AUTOREPLY
        again = await seed(http, ADMIN_PASSWORD, simulator, api_url, "person-password-1", agents=1)
        assert {a["id"] for a in again.accounts.values()} == {a["id"] for a in seeded.accounts.values()}
        admin = {"Authorization": (await http.post("/api/auth/login", json={
            "username": "admin", "password": ADMIN_PASSWORD})).json()["access_token"]}  # fmt: skip
        admin["Authorization"] = f"Bearer {admin['Authorization']}"
        accounts = (await http.get("/api/whatsapp/accounts", headers=admin)).json()
        assert accounts["count"] == 4
        assert (
            await http.post("/api/auth/login", json={"username": "demo", "password": "person-password-1"})
        ).status_code == 200

        agent = SimulatedAgent(api_url, *seeded.agents[0], seeded.answers, seeded.dispositions, pace=0.05)
        working = asyncio.create_task(agent.run())
        try:
            customers = {key: PEOPLE[line.type][0] for key, line in simulator.lines.items()}
            for key, (name, mobile) in customers.items():
                written = await simulator.customer_writes(key, mobile, name, f"Hello, {key}!")
                assert written.status == "delivered", (key, written.status)

            async def all_accepted():
                return len(agent.accepted) == 4

            await wait_for(all_accepted, 60)

            def greetings():
                return [c for c in simulator.sends if c.text and c.text.startswith("Hello, this is")]

            async def greeted_everyone():
                return {c.account_key for c in greetings()} == set(customers)

            await wait_for(greeted_everyone, 30)
            for captured in greetings():
                _authorized(simulator, captured.provider, captured)
                assert captured.mobile == customers[captured.account_key][1]
            autoreplies = [c for c in simulator.sends if c.text == AUTOREPLY]
            assert {c.account_key for c in autoreplies} == set(customers)

            async def replies_read():
                statuses = {}
                for interaction_id in agent.accepted:
                    rows = (await http.get(f"/api/whatsapp/interactions/{interaction_id}/messages",
                                           params={"limit": 1000}, headers=admin)).json()["rows"]  # fmt: skip
                    for row in rows:
                        if row["direction"] == "out" and row["text"].startswith("Hello, this is"):
                            statuses[interaction_id] = row["status"]
                return len(statuses) == 4 and set(statuses.values()) == {"read"}

            await wait_for(replies_read, 30)
            for captured in greetings():
                assert [state for state, code in captured.callbacks] == ["sent", "delivered", "read"]
                assert all(code == 200 for _, code in captured.callbacks), captured.callbacks

            # The person's phone page sees the same thread, ticks included, through the API.
            name, mobile = customers["KAL"]
            thread = (await http.get("/demo/api/thread", params={"account": "KAL", "mobile": mobile})).json()
            shown = [(m["direction"], m["status"]) for m in thread["rows"]]
            assert shown[0] == ("from_customer", "delivered")
            assert ("to_customer", "read") in shown
            contacts = (await http.get("/demo/api/contacts")).json()["rows"]
            assert {c["account_key"] for c in contacts} == set(customers)
            sent = await http.post("/demo/api/messages", json={"account": "TWL", "mobile": contacts[0]["mobile"],
                                                               "text": "From the phone page"})  # fmt: skip
            assert sent.status_code == 201 and sent.json()["status"] == "delivered"

            async def closed_all():
                return len(agent.closed) >= 4

            await wait_for(closed_all, 30)
        finally:
            working.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await working
