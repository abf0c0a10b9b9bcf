"""`/demo/phone`: play a customer of the demo accounts. Included by create_app only in demo mode
(SHARELINE_DEMO_SIMULATOR_URL set by `make demo`); without it none of these routes exists.

The page is static (demo/static/); its API is the simulator's `/phone/...`, passed through at this
origin: the simulator holds the phones (what each customer sent, what Shareline sent them and
the delivery reports), in the demo's own process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Query
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from api.deps import ServicesDep
from api.errors import AppError

STATIC = Path(__file__).resolve().parent / "static"
FILES = {"phone.js": "text/javascript", "phone.css": "text/css"}
HEADERS = {
    "cache-control": "no-cache",
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
}

router = APIRouter(prefix="/demo", tags=["demo"], include_in_schema=False)


@router.get("/", response_class=RedirectResponse)
async def demo_home() -> RedirectResponse:
    return RedirectResponse("/demo/phone")


@router.get("/phone", response_class=FileResponse)
async def phone_page() -> FileResponse:
    return FileResponse(STATIC / "phone.html", media_type="text/html", headers=HEADERS)


@router.get("/static/{name}", response_class=FileResponse)
async def phone_file(name: str) -> FileResponse:
    if name not in FILES:
        raise AppError(404, "not_found", f"no demo file {name!r}")
    return FileResponse(STATIC / name, media_type=FILES[name], headers=HEADERS)


async def _simulator(services: ServicesDep, method: str, path: str, **kwargs: Any) -> JSONResponse:
    base = services.settings.demo_simulator_url
    assert base is not None  # the router exists only in demo mode
    try:
        response = await services.http.request(method, f"{base}{path}", timeout=20, **kwargs)
    except httpx.HTTPError as error:
        raise AppError(
            503, "simulator_unavailable", f"the demo's simulator does not answer ({error})"
        ) from error
    return JSONResponse(response.json(), status_code=response.status_code)


@router.get("/api/contacts")
async def contacts(services: ServicesDep) -> JSONResponse:
    """The person's phone on each demo account: {rows: [{account_key, account_name, provider,
    business_phone, mobile, name}]}."""
    return await _simulator(services, "GET", "/phone/contacts")


@router.get("/api/thread")
async def thread(
    services: ServicesDep,
    account: Annotated[str, Query(max_length=10)],
    mobile: Annotated[str, Query(max_length=20)],
) -> JSONResponse:
    """What this customer's phone shows: {rows: [{id, direction, text, at, status}]}, oldest first."""
    return await _simulator(services, "GET", "/phone/thread", params={"account": account, "mobile": mobile})


@router.post("/api/messages", status_code=201)
async def write(services: ServicesDep, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Send `{account, mobile, name?, text}` as that customer: the provider's signed webhook."""
    return await _simulator(services, "POST", "/phone/messages", json=body)
