"""Fake Twilio, Meta Graph, Sinch and Kaleyra APIs, a fake Vidaoo and a fake OpenAI-compatible
chat-completions endpoint, on loopback, speaking their wire formats.

Every request is recorded (path, headers, parsed body) so tests assert what Shareline sent.
A test scripts failures by pushing (status, json body, headers) onto `fail_next[route]` (one
request each), refuses every request to a route with `refusing[route] = (status, body, headers)`
until it deletes the entry, and scripts a hang by putting seconds in `hang_next[route]`.
Credentials are checked the way the real APIs check them; a wrong one gets the real error shape.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

MEDIA_BYTES = b"\x89PNG\r\n\x1a\nfake-image-bytes"


@dataclass
class Recorded:
    route: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeProviders:
    twilio_sid: str = "AC0123456789"
    twilio_token: str = "twilio-secret-token"
    meta_token: str = "meta-access-token"
    sinch_key: tuple[str, str] = ("key-1", "sinch-key-secret")
    kaleyra_key: str = "kaleyra-api-key"
    vidaoo_key: str = "vidaoo-api-key"
    llm_key: str = "llm-api-key"
    requests: list[Recorded] = field(default_factory=list)
    fail_next: dict[str, deque[tuple[int, Any, dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    refusing: dict[str, tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    hang_next: dict[str, float] = field(default_factory=dict)
    issued_tokens: list[str] = field(default_factory=list)
    revoked_tokens: set[str] = field(default_factory=set)
    base_url: str = ""
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def twilio_sid_for(self, number: int) -> str:
        return f"SM{number:032d}"

    def of(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    async def _scripted_hang(self, route: str) -> None:
        if route in self.hang_next:
            await asyncio.sleep(self.hang_next.pop(route))

    def _scripted(self, route: str) -> Response | None:
        if self.fail_next[route]:
            status, body, headers = self.fail_next[route].popleft()
            return JSONResponse(body, status_code=status, headers=headers)
        if route in self.refusing:
            status, body, headers = self.refusing[route]
            return JSONResponse(body, status_code=status, headers=headers)
        return None

    async def _record(self, route: str, request: Request) -> Recorded:
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            body: Any = json.loads(raw)
        elif "form" in content_type:
            body = {
                k: v if len(v) > 1 else v[0]
                for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()
            }
        else:
            body = raw
        recorded = Recorded(route, request.url.path, dict(request.headers), body)
        self.requests.append(recorded)
        return recorded

    # Twilio ---------------------------------------------------------------------------------------
    async def twilio_send(self, request: Request) -> Response:
        await self._record("twilio.send", request)
        if (
            not _basic_ok(request, self.twilio_sid, self.twilio_token)
            or request.path_params["sid"] != self.twilio_sid
        ):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        await self._scripted_hang("twilio.send")
        if scripted := self._scripted("twilio.send"):
            return scripted
        sid = self.twilio_sid_for(self.next_id())
        return JSONResponse(
            {"sid": sid, "status": "queued", "error_code": None, "error_message": None}, status_code=201
        )

    async def twilio_media(self, request: Request) -> Response:
        await self._record("twilio.media", request)
        if not _basic_ok(request, self.twilio_sid, self.twilio_token):
            return Response(status_code=401)
        await self._scripted_hang("twilio.media")
        if scripted := self._scripted("twilio.media"):
            return scripted
        return Response(MEDIA_BYTES, media_type="image/png")

    # Meta -----------------------------------------------------------------------------------------
    async def meta_send(self, request: Request) -> Response:
        await self._record("meta.send", request)
        if request.headers.get("authorization") != f"Bearer {self.meta_token}":
            return JSONResponse(
                {"error": {"code": 190, "message": "Invalid OAuth access token", "type": "OAuthException"}},
                status_code=401,
            )
        if scripted := self._scripted("meta.send"):
            return scripted
        body = json.loads(await request.body())
        return JSONResponse(
            {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
             "messages": [{"id": f"wamid.FAKE{self.next_id()}"}]}
        )  # fmt: skip

    async def meta_media_info(self, request: Request) -> Response:
        await self._record("meta.media_info", request)
        if request.headers.get("authorization") != f"Bearer {self.meta_token}":
            return JSONResponse(
                {"error": {"code": 190, "message": "Invalid OAuth access token"}}, status_code=401
            )
        if scripted := self._scripted("meta.media_info"):
            return scripted
        media_id = request.path_params["media_id"]
        return JSONResponse(
            {"url": f"{self.base_url}/meta-cdn/{media_id}", "mime_type": "image/png", "id": media_id}
        )

    async def meta_media_bytes(self, request: Request) -> Response:
        await self._record("meta.media_bytes", request)
        if request.headers.get("authorization") != f"Bearer {self.meta_token}":
            return Response(status_code=401)
        return Response(MEDIA_BYTES, media_type="image/png")

    # Sinch ----------------------------------------------------------------------------------------
    async def sinch_token(self, request: Request) -> Response:
        await self._record("sinch.token", request)
        if not _basic_ok(request, *self.sinch_key):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = f"sinch-token-{self.next_id()}"
        self.issued_tokens.append(token)
        return JSONResponse({"access_token": token, "expires_in": 3599, "scope": "", "token_type": "bearer"})

    async def sinch_send(self, request: Request) -> Response:
        await self._record("sinch.send", request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.issued_tokens or token in self.revoked_tokens:
            return JSONResponse(
                {"error": {"code": 401, "message": "Unauthorized", "status": "UNAUTHENTICATED"}},
                status_code=401,
            )
        if scripted := self._scripted("sinch.send"):
            return scripted
        return JSONResponse(
            {"message_id": f"01SINCH{self.next_id():020d}", "accepted_time": "2026-11-24T10:00:00Z"}
        )

    async def plain_media(self, request: Request) -> Response:
        await self._record("media", request)
        if scripted := self._scripted("media"):
            return scripted
        return Response(MEDIA_BYTES, media_type="image/png")

    async def redirect(self, request: Request) -> Response:
        """A media host that sends the client on to `?to=` (a CDN, or somewhere it should not go)."""
        await self._record("redirect", request)
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def endless_media(self, request: Request) -> Response:
        """A body that never ends: only a client that counts what it reads stops."""
        await self._record("endless", request)

        async def forever() -> Any:
            while True:
                yield b"\0" * 65536
                await asyncio.sleep(0)

        return StreamingResponse(forever(), media_type="video/mp4")

    # Kaleyra --------------------------------------------------------------------------------------
    async def kaleyra_send(self, request: Request) -> Response:
        await self._record("kaleyra.send", request)
        if request.headers.get("api-key") != self.kaleyra_key:
            return JSONResponse({"error": {"code": "E401", "message": "Invalid API key"}}, status_code=401)
        if scripted := self._scripted("kaleyra.send"):
            return scripted
        return JSONResponse({"messages": [{"id": f"kaleyra-{self.next_id()}"}]}, status_code=202)

    async def kaleyra_media(self, request: Request) -> Response:
        await self._record("kaleyra.media", request)
        if request.headers.get("api-key") != self.kaleyra_key:
            return Response(status_code=401)
        return Response(MEDIA_BYTES, media_type="image/png")

    # Vidaoo ---------------------------------------------------------------------------------------
    async def vidaoo_meeting(self, request: Request) -> Response:
        recorded = await self._record("vidaoo.meeting", request)
        if request.headers.get("authorization") != f"Bearer {self.vidaoo_key}":
            return JSONResponse({"message": "Invalid API token"}, status_code=401)
        await self._scripted_hang("vidaoo.meeting")
        if scripted := self._scripted("vidaoo.meeting"):
            return scripted
        number = self.next_id()
        topic = recorded.body["topic"]
        return JSONResponse(
            {"id": f"meet-{number}", "topic": topic,
             "host_url": f"https://meet.vidaoo.test/{number}?role=host",
             "guest_url": f"https://meet.vidaoo.test/{number}"},
            status_code=201,
        )  # fmt: skip

    # OpenAI-compatible chat completions ----------------------------------------------------------
    async def chat_completions(self, request: Request) -> Response:
        recorded = await self._record("llm.chat", request)
        if request.headers.get("authorization") != f"Bearer {self.llm_key}":
            return JSONResponse(
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
                status_code=401,
            )
        await self._scripted_hang("llm.chat")
        if scripted := self._scripted("llm.chat"):
            return scripted
        last = recorded.body["messages"][-1]["content"]
        return JSONResponse(
            {"id": f"chatcmpl-{self.next_id()}", "object": "chat.completion", "model": recorded.body["model"],
             "choices": [{"index": 0, "finish_reason": "stop",
                          "message": {"role": "assistant", "content": f"Suggested reply to: {last}"}}]}
        )  # fmt: skip

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/twilio/2010-04-01/Accounts/{sid}/Messages.json", self.twilio_send, methods=["POST"]),
                Route("/twilio/media/{name}", self.twilio_media),
                Route("/graph/{phone_number_id}/messages", self.meta_send, methods=["POST"]),
                Route("/graph/{media_id}", self.meta_media_info),
                Route("/meta-cdn/{media_id}", self.meta_media_bytes),
                Route("/sinch-auth/oauth2/token", self.sinch_token, methods=["POST"]),
                Route("/sinch/v1/projects/{project}/messages:send", self.sinch_send, methods=["POST"]),
                Route("/kaleyra/v2/{sid}/whatsapp/{number}/messages", self.kaleyra_send, methods=["POST"]),
                Route("/kaleyra-media/{name}", self.kaleyra_media),
                Route("/media/{name}", self.plain_media),
                Route("/redirect/{name}", self.redirect),
                Route("/endless/{name}", self.endless_media),
                Route("/vidaoo/api/v1/meetings", self.vidaoo_meeting, methods=["POST"]),
                Route("/llm/v1/chat/completions", self.chat_completions, methods=["POST"]),
            ]
        )


def _basic_ok(request: Request, user: str, password: str) -> bool:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return request.headers.get("authorization") == expected


@dataclass
class Bystander:
    """Another server on loopback that no provider owns (an attacker, an internal service):
    answers every request with a small image and records what reached it."""

    requests: list[Recorded] = field(default_factory=list)
    base_url: str = ""

    async def anything(self, request: Request) -> Response:
        self.requests.append(
            Recorded("bystander", request.url.path, dict(request.headers), await request.body())
        )
        return Response(MEDIA_BYTES, media_type="image/png")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.anything)])


class LoopbackServer:
    """An ASGI app served by uvicorn on 127.0.0.1 and a free port, inside the test's event loop."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *_: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await self.task
