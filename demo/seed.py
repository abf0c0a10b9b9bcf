"""The demo's contact center, made through the public API as admin (as any script would make it).

Idempotent: a second `make demo` on the same data finds what the first one made, points the
accounts at this run's simulator and leaves the rest as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from demo.simulator import Simulator
from models import ProviderType

AGENT_PASSWORD = "demo-agent-password"  # noqa: S105 (simulated agents on loopback)
SIMULATED_AGENTS = (("ada", "Ada Lovelace"), ("ben", "Ben Okri"), ("chloe", "Chloé Dubois"))
PERSON = ("demo", "You (demo)")
# key, name, provider, business number
ACCOUNTS = (
    ("TWL", "Twilio line", ProviderType.twilio, "14155238886"),
    ("SNC", "Sinch line", ProviderType.sinch_v2, "46850001000"),
    ("META", "Meta line", ProviderType.meta, "16505550100"),
    ("KAL", "Kaleyra line", ProviderType.kaleyra, "918000001000"),
)
QUEUES = (
    # beepall: every offer also rings the person's desk, who can take it before a simulated agent does
    ("Demo support", "beepall", "First line: every account's customers wait here"),
    ("Demo sales", "leastrecent", "Sales questions"),
)
AUTOREPLY = "Hi! Thanks for writing to Shareline. An agent will be with you in a moment."
ANSWERS = (
    ("Greeting", "Hello {{contact.first_name}}, this is {{agent.full_name}}. How can I help you today?"),
    ("Order status", "Your order is on its way: you will get the tracking link by e-mail today."),
    ("Opening hours", "We are open Monday to Friday, 9:00 to 18:00."),
    ("Goodbye", "Thank you for contacting us. Have a great day!"),
)
DISPOSITIONS = ("Resolved", "Follow-up needed", "Wrong number")


@dataclass
class Seeded:
    accounts: dict[str, dict[str, Any]]  # key → account resource
    queues: dict[str, dict[str, Any]]
    plans: dict[str, list[dict[str, Any]]]  # key → action plan
    answers: dict[int, list[str]]  # account id → rendered-free canned answer texts
    dispositions: dict[int, list[int]]  # account id → level-1 disposition ids
    agents: list[tuple[str, str]] = field(default_factory=list)  # simulated agents' logins
    person: tuple[str, str] = ("", "")


class Admin:
    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.http, self.headers = http, headers

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, path, json=body, headers=self.headers)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def rows(self, path: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = (await self.call("GET", f"{path}?limit=1000"))["rows"]
        return rows

    async def ensure(self, path: str, match: str, body: dict[str, Any]) -> dict[str, Any]:
        """The row of `path` whose `match` field is body[match], created if there is none."""
        found = next((row for row in await self.rows(path) if row[match] == body[match]), None)
        created: dict[str, Any] = found or await self.call("POST", path, body)
        return created


async def login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str] | None:
    response = await http.post("/api/auth/login", json={"username": username, "password": password})
    if response.status_code != 200:
        return None
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def ensure_user(admin: Admin, username: str, full_name: str, password: str) -> int:
    """The user, created as an agent; its password reset only if it no longer signs in (a reset
    signs it out everywhere)."""
    found = next((row for row in await admin.rows("/api/users") if row["username"] == username), None)
    if found is None:
        body = {"username": username, "full_name": full_name, "password": password, "role": "agent"}
        found = await admin.call("POST", "/api/users", body)
    elif await login(admin.http, username, password) is None:
        await admin.call("PATCH", f"/api/users/{found['id']}", {"password": password})
    return int(found["id"])


async def seed(
    http: httpx.AsyncClient,
    admin_password: str,
    simulator: Simulator,
    public_url: str,
    person_password: str,
    agents: int = len(SIMULATED_AGENTS),
) -> Seeded:
    """Queues, four accounts (one per provider, their APIs the simulator), an action plan with an
    autoreply and a queue step, canned answers, dispositions, simulated agents and the person."""
    headers = await login(http, "admin", admin_password)
    if headers is None:
        raise RuntimeError("the demo's admin password does not sign in (was the data dir made by make run?)")
    admin = Admin(http, headers)
    person_id = await ensure_user(admin, PERSON[0], PERSON[1], person_password)
    agent_ids = [
        await ensure_user(admin, name, full, AGENT_PASSWORD) for name, full in SIMULATED_AGENTS[:agents]
    ]
    members = [person_id, *agent_ids]
    queues = {}
    for name, strategy, description in QUEUES:
        queue = await admin.ensure(
            "/api/whatsapp/queues",
            "name",
            {"name": name, "strategy": strategy, "timeout": 20, "description": description},
        )
        await admin.call("POST", f"/api/whatsapp/queues/{queue['id']}/agents", {"ids": members})
        queues[name] = queue
    contact_list = await admin.ensure("/api/cm/lists", "name", {"name": "Demo customers"})
    seeded = Seeded({}, queues, {}, {}, {})
    existing = {row["key"]: row for row in await admin.rows("/api/whatsapp/accounts")}
    for key, name, provider, phone in ACCOUNTS:
        fields = {
            "name": name,
            "motion_domain": public_url,
            "credentials": simulator.credentials(provider),
            "notification": {
                "sound": True,
                "shake": True,
                "template": "{{account.name}}: {{contact.mobile}}",
            },
        }
        if key in existing:  # this run's simulator has a new address: point the account at it
            account = await admin.call("PATCH", f"/api/whatsapp/accounts/{existing[key]['id']}", fields)
        else:
            body = {
                **fields,
                "key": key,
                "type": provider.value,
                "phone": phone,
                "list_id": contact_list["id"],
            }
            account = await admin.call("POST", "/api/whatsapp/accounts", body)
        account_id = account["id"]
        await admin.call("POST", f"/api/whatsapp/accounts/{account_id}/agents", {"ids": members})
        answers = [
            await admin.ensure(
                f"/api/whatsapp/accounts/{account_id}/answers", "name", {"name": n, "value": v}
            )
            for n, v in ANSWERS
        ]
        dispositions = [
            await admin.ensure(
                f"/api/whatsapp/accounts/{account_id}/dispositions", "name", {"name": n, "level": 1}
            )
            for n in DISPOSITIONS
        ]
        plan = [
            {"application": "autoreply", "params": {"text": AUTOREPLY, "times": "first"}},
            {"application": "queue", "params": {"queue_id": queues[QUEUES[0][0]]["id"], "timeout": 300}},
        ]
        seeded.plans[key] = await admin.call("PUT", f"/api/whatsapp/accounts/{account_id}/actions", plan)
        seeded.accounts[key] = account
        seeded.answers[account_id] = [answer["value"] for answer in answers[1:]]
        seeded.dispositions[account_id] = [disposition["id"] for disposition in dispositions]
        simulator.register(key, name, provider, phone, account["receive_url"])
    seeded.agents = [(name, AGENT_PASSWORD) for name, _ in SIMULATED_AGENTS[:agents]]
    seeded.person = (PERSON[0], person_password)
    return seeded
