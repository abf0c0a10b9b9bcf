"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ServicesDep

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "PostgreSQL or Temporal is unreachable, or agent events are not heard"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    async def database() -> None:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def temporal() -> None:
        await services.temporal.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT))

    async def event_listener() -> None:  # without it offers never reach the agents' streams
        services.events.ensure_listening()

    checks = {"database": database, "temporal": temporal, "event_listener": event_listener}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)
            results[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; the type says which
            results[name] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", **results}, status_code=200 if ready else 503
    )


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, services: ServicesDep) -> Response:
    rendered: Response = await request.app.state.metrics.render(services.sessionmaker)
    return rendered
