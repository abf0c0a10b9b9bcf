"""The pages Shareline serves beside its API: the agent desk at `/desk/`, the console (admins and
supervisors) at `/console/`, and what both load from `/common/`.

Static files from the top-level `web/` folder, no build step. Every answer carries a Content
Security Policy that allows this origin only (no CDN, no inline script, no framing), and
`Cache-Control: no-cache`: a browser keeps the files but revalidates them (ETag, 304), so a
deploy reaches every desk on its next load without versioned file names.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

# blob: for images the desk fetches with its token (the media route needs Authorization).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "cache-control": "no-cache",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class PageFiles(StaticFiles):
    """StaticFiles whose every answer (200, 304, 404) carries PAGE_HEADERS."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.decode().lower() not in PAGE_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, with_headers)


PAGES = ("desk", "console", "common")


def mount_pages(app: FastAPI, root: Path = WEB_ROOT) -> None:
    """Serve each of `root`'s PAGES folders at its name (`/desk` is redirected to `/desk/`)."""
    for page in PAGES:
        app.mount(f"/{page}", PageFiles(directory=root / page, html=True), name=page)
