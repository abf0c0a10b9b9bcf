"""The simulated provider of `make demo`: the Twilio, Meta Graph, Sinch and Kaleyra APIs on loopback,
and the customers' phones behind them.

Shareline's sends are checked the way the real APIs check them (credentials, path), captured, and
answered with the provider's response; then the phone reports sent → delivered → read to the
account's Receive URL (Twilio: the send's StatusCallback), signed. A customer's message is posted
the same way. `/phone/...` is the phones' side for the demo's /demo/phone page: contacts, threads
with delivery ticks, and "send as this customer".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import secrets
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from demo import wire
from demo.wire import Line
from models import ProviderType

log = logging.getLogger("shareline.demo.simulator")

# A phone's delivery reports after a send: seconds after it, for sent, delivered and read.
STATUS_DELAYS = (0.6, 1.8, 4.0)
WEBHOOK_ATTEMPTS = 6  # like a provider, retry a refused or unanswered webhook (the API may be restarting)
STATES = ("sent", "delivered", "read")
# The person's own phones on /demo/phone: one number per demo account.
PERSON_MOBILES = {
    ProviderType.twilio: "15550001001",
    ProviderType.sinch_v2: "46700001001",
    ProviderType.meta: "16500001001",
    ProviderType.kaleyra: "919000001001",
}


@dataclass
class PhoneMessage:
    """One message in a customer's thread, as their phone shows it."""

    id: str  # the provider's message id
    account_key: str
    mobile: str
    direction: Literal["from_customer", "to_customer"]
    text: str
    at: str
    # to_customer: accepted, then sent / delivered / read as reported; from_customer: delivered once
    # Shareline took the webhook (2xx), else "refused (HTTP n)".
    status: str


@dataclass
class Captured:
    """A request Shareline made to a provider API."""

    provider: ProviderType
    route: str
    path: str
    headers: dict[str, str]
    body: bytes
    authorized: bool
    account_key: str | None = None
    message_id: str | None = None
    mobile: str | None = None
    text: str | None = None
    callbacks: list[tuple[str, int]] = field(default_factory=list)  # (state, Shareline's HTTP status)


class Simulator:
    def __init__(self, status_delays: tuple[float, float, float] = STATUS_DELAYS, retry_seconds: float = 1.0):
        self.status_delays = status_delays
        self.retry_seconds = retry_seconds
        self.base_url = ""  # set once it listens
        self.lines: dict[str, Line] = {}  # account key → line
        self.names: dict[str, str] = {}  # account key → account name
        self.sends: list[Captured] = []
        self.threads: dict[tuple[str, str], list[PhoneMessage]] = defaultdict(list)
        self._sinch_tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    # The accounts ---------------------------------------------------------------------------------

    def credentials(self, provider: ProviderType) -> dict[str, str]:
        """The credentials a demo account of this type is created with (its API is this simulator)."""
        return {
            ProviderType.twilio: {"account_sid": "ACDEMO0001", "auth_token": "demo-twilio-auth-token"},
            ProviderType.meta: {
                "account_sid": "demo-waba", "auth_token": "demo-meta-access-token", "app_id": "demo-app",
                "phone_number_id": "100000000000001", "app_secret": "demo-meta-app-secret",
            },
            ProviderType.sinch_v2: {
                "base_url": f"{self.base_url}/sinch", "project_id": "demo-project", "app_id": "01DEMOAPP",
                "key_id": "demo-key", "key_secret": "demo-sinch-key-secret",
                "webhook_secret": "demo-sinch-webhook-secret",
            },
            ProviderType.kaleyra: {
                "base_url": f"{self.base_url}/kaleyra", "waba_id": "demo-waba-2", "account_sid": "HXDEMO1",
                "api_key": "demo-kaleyra-api-key",
            },
        }[provider]  # fmt: skip

    def register(self, key: str, name: str, provider: ProviderType, phone: str, receive_url: str) -> None:
        self.lines[key] = Line(provider, key, phone, self.credentials(provider), receive_url)
        self.names[key] = name

    def line_of(self, provider: ProviderType) -> Line | None:
        return next((line for line in self.lines.values() if line.type is provider), None)

    # Customers write ------------------------------------------------------------------------------

    async def customer_writes(self, key: str, mobile: str, name: str, text: str) -> PhoneMessage:
        """Post the provider's webhook for a customer's text to the account's Receive URL."""
        line = self.lines[key]
        number = secrets.token_hex(12)
        message_id = {
            ProviderType.twilio: f"SM{number}{next(self._ids):08d}",
            ProviderType.meta: f"wamid.DEMO{number}",
            ProviderType.sinch_v2: f"01DEMO{number.upper()}",
            ProviderType.kaleyra: f"kaleyra-in-{number}",
        }[line.type]
        message = PhoneMessage(message_id, key, mobile, "from_customer", text, _now(), "sending")
        self.threads[(key, mobile)].append(message)
        answered = await self._post(line.receive_url, wire.inbound(line, message_id, mobile, name, text))
        message.status = "delivered" if 200 <= answered < 300 else f"refused (HTTP {answered})"
        return message

    async def _post(self, url: str, webhook: wire.Webhook) -> int:
        """POST a webhook as a provider does: retried with back-off while refused with 5xx or unanswered."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10)
        code = 0
        for attempt in range(WEBHOOK_ATTEMPTS):
            try:
                response = await self._http.post(url, content=webhook.body, headers=webhook.headers)
                code = response.status_code
                if code < 500:
                    return code
            except httpx.TransportError as error:
                log.info(
                    "webhook to %s failed (%s); retrying", url.split("?", maxsplit=1)[0], type(error).__name__
                )
            await asyncio.sleep(self.retry_seconds * 2**attempt)
        return code

    # The phone reports ----------------------------------------------------------------------------

    def _deliver(self, line: Line, captured: Captured, callback_url: str | None) -> None:
        assert captured.message_id is not None and captured.mobile is not None
        message = PhoneMessage(
            captured.message_id,
            line.key,
            captured.mobile,
            "to_customer",
            captured.text or "",
            _now(),
            "accepted",
        )
        self.threads[(line.key, captured.mobile)].append(message)
        task = asyncio.create_task(self._report(line, captured, message, callback_url))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(
        self, line: Line, captured: Captured, message: PhoneMessage, callback_url: str | None
    ) -> None:
        waited = 0.0
        for state, at in zip(STATES, self.status_delays, strict=True):
            await asyncio.sleep(max(0.0, at - waited))
            waited = at
            webhook = wire.status(line, message.id, message.mobile, state, callback_url)
            code = await self._post(callback_url or line.receive_url, webhook)
            captured.callbacks.append((state, code))
            if 200 <= code < 300:
                message.status = state

    # Provider APIs --------------------------------------------------------------------------------

    async def _capture(
        self, provider: ProviderType, route: str, request: Request, authorized: bool
    ) -> Captured:
        captured = Captured(
            provider, route, request.url.path, dict(request.headers), await request.body(), authorized
        )
        self.sends.append(captured)
        return captured

    def _accept(self, provider: ProviderType, captured: Captured, prefix: str) -> tuple[Line, str] | None:
        """Read the send, give it an id, and start the phone's reports; None if no account matches."""
        line = self.line_of(provider)
        if line is None:
            return None
        send = wire.read_send(provider, captured.body)
        captured.account_key, captured.mobile, captured.text = line.key, send.mobile, send.text
        captured.message_id = f"{prefix}{secrets.token_hex(14)}"
        self._deliver(line, captured, send.status_callback)
        return line, captured.message_id

    async def twilio_send(self, request: Request) -> Response:
        creds = self.credentials(ProviderType.twilio)
        ok = _basic(request, creds["account_sid"], creds["auth_token"]) and (
            request.path_params["sid"] == creds["account_sid"]
        )
        captured = await self._capture(ProviderType.twilio, "twilio.send", request, ok)
        if not ok:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        accepted = self._accept(ProviderType.twilio, captured, "SM")
        if accepted is None:
            return JSONResponse({"code": 20404, "message": "not found", "status": 404}, status_code=404)
        return JSONResponse(
            {"sid": accepted[1], "status": "queued", "error_code": None, "error_message": None},
            status_code=201,
        )

    async def meta_send(self, request: Request) -> Response:
        creds = self.credentials(ProviderType.meta)
        ok = request.headers.get("authorization") == f"Bearer {creds['auth_token']}"
        captured = await self._capture(ProviderType.meta, "meta.send", request, ok)
        if not ok or request.path_params["phone_number_id"] != creds["phone_number_id"]:
            return JSONResponse(
                {"error": {"code": 190, "message": "Invalid OAuth access token", "type": "OAuthException"}},
                status_code=401,
            )
        accepted = self._accept(ProviderType.meta, captured, "wamid.DEMO")
        if accepted is None:
            return JSONResponse({"error": {"code": 100, "message": "Unknown phone number"}}, status_code=400)
        return JSONResponse(
            {"messaging_product": "whatsapp",
             "contacts": [{"input": captured.mobile, "wa_id": captured.mobile}],
             "messages": [{"id": accepted[1]}]}
        )  # fmt: skip

    async def sinch_token(self, request: Request) -> Response:
        creds = self.credentials(ProviderType.sinch_v2)
        ok = _basic(request, creds["key_id"], creds["key_secret"])
        await self._capture(ProviderType.sinch_v2, "sinch.token", request, ok)
        if not ok:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = f"demo-sinch-token-{secrets.token_hex(8)}"
        self._sinch_tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3599, "scope": "", "token_type": "bearer"})

    async def sinch_send(self, request: Request) -> Response:
        creds = self.credentials(ProviderType.sinch_v2)
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        ok = given in self._sinch_tokens and request.path_params["project"] == creds["project_id"]
        captured = await self._capture(ProviderType.sinch_v2, "sinch.send", request, ok)
        if not ok:
            return JSONResponse(
                {"error": {"code": 401, "message": "Invalid token", "status": "UNAUTHENTICATED"}},
                status_code=401,
            )
        accepted = self._accept(ProviderType.sinch_v2, captured, "01DEMO")
        if accepted is None:
            return JSONResponse({"error": {"code": 404, "message": "no app", "status": "NOT_FOUND"}}, 404)
        return JSONResponse({"message_id": accepted[1], "accepted_time": _now()})

    async def kaleyra_send(self, request: Request) -> Response:
        creds = self.credentials(ProviderType.kaleyra)
        ok = request.headers.get("api-key") == creds["api_key"] and (
            request.path_params["sid"] == creds["account_sid"]
        )
        captured = await self._capture(ProviderType.kaleyra, "kaleyra.send", request, ok)
        if not ok:
            return JSONResponse({"error": {"code": "E401", "message": "Invalid API key"}}, status_code=401)
        accepted = self._accept(ProviderType.kaleyra, captured, "kaleyra-out-")
        if accepted is None:
            return JSONResponse({"error": {"code": "E404", "message": "unknown number"}}, status_code=404)
        return JSONResponse({"messages": [{"id": accepted[1]}]}, status_code=202)

    # The phones (for /demo/phone) -----------------------------------------------------------------

    def phone_contacts(self) -> list[dict[str, str]]:
        """The person's phone on each demo account: who they can write as."""
        return [
            {"account_key": key, "account_name": self.names[key], "provider": line.type.value,
             "business_phone": line.phone, "mobile": PERSON_MOBILES[line.type], "name": "You"}
            for key, line in self.lines.items()
        ]  # fmt: skip

    async def contacts(self, request: Request) -> Response:
        return JSONResponse({"rows": self.phone_contacts()})

    async def thread(self, request: Request) -> Response:
        key, mobile = request.query_params.get("account", ""), request.query_params.get("mobile", "")
        if key not in self.lines:
            return JSONResponse({"error": {"code": "not_found", "message": f"no demo account {key!r}"}}, 404)
        return JSONResponse({"rows": [asdict(m) for m in self.threads.get((key, mobile), [])]})

    async def write(self, request: Request) -> Response:
        body = await request.json()
        key, mobile = (
            str(body.get("account") or ""),
            "".join(ch for ch in str(body.get("mobile")) if ch.isdigit()),
        )
        text = str(body.get("text") or "").strip()
        if key not in self.lines:
            return JSONResponse({"error": {"code": "not_found", "message": f"no demo account {key!r}"}}, 404)
        if not mobile or not text or len(text) > 4096 or len(mobile) > 15:
            return JSONResponse(
                {
                    "error": {
                        "code": "invalid",
                        "message": "a mobile (digits) and a text (1 to 4096 characters)",
                    }
                },
                status_code=422,
            )
        message = await self.customer_writes(key, mobile, str(body.get("name") or "You")[:60], text)
        return JSONResponse(asdict(message), status_code=201)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/twilio/2010-04-01/Accounts/{sid}/Messages.json", self.twilio_send, methods=["POST"]),
                Route("/graph/{phone_number_id}/messages", self.meta_send, methods=["POST"]),
                Route("/sinch-auth/oauth2/token", self.sinch_token, methods=["POST"]),
                Route("/sinch/v1/projects/{project}/messages:send", self.sinch_send, methods=["POST"]),
                Route("/kaleyra/v2/{sid}/whatsapp/{number}/messages", self.kaleyra_send, methods=["POST"]),
                Route("/phone/contacts", self.contacts),
                Route("/phone/thread", self.thread),
                Route("/phone/messages", self.write, methods=["POST"]),
            ]
        )

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.aclose()


def _basic(request: Request, user: str, password: str) -> bool:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return secrets.compare_digest(request.headers.get("authorization", ""), expected)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
