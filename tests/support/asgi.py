"""Calling the ASGI app directly, as a server would, for tests that must see a response as it
is sent (a stream that never ends, or one read a chunk at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx


def http_scope(request: httpx.Request) -> dict[str, Any]:
    """The ASGI scope of `request` (built with an httpx client's `build_request`); header names
    lower-cased, as ASGI has them."""
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
        "scheme": "http", "path": request.url.path, "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query, "root_path": "", "server": ("shareline.test", 80),
        "client": ("127.0.0.1", 1), "headers": [(name.lower(), value) for name, value in request.headers.raw],
    }  # fmt: skip


def receiver(body: bytes, hung_up: asyncio.Event) -> Callable[[], Awaitable[MutableMapping[str, Any]]]:
    """The ASGI `receive` of one request: its body, then a disconnect once `hung_up` is set."""
    sent_body = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await hung_up.wait()
        return {"type": "http.disconnect"}

    return receive
