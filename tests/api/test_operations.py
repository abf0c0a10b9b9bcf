"""Health, readiness (PostgreSQL, Temporal, the agent-event listener), metrics, and the error shape
for stray requests."""

from __future__ import annotations

import httpx

from api.app import create_app


async def test_healthz_and_readyz(client, app):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    await app.state.services.events.listening.wait()
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "database": "ok", "temporal": "ok", "event_listener": "ok"}


async def _readyz(settings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.get("/readyz")


async def test_readyz_is_503_when_temporal_is_unreachable(settings):
    response = await _readyz(settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["temporal"].startswith("unavailable")


async def test_readyz_is_503_when_postgres_is_unreachable(settings, tmp_path):
    url = f"postgresql+psycopg://postgres@/postgres?host={tmp_path}"  # no server on that socket
    response = await _readyz(settings.model_copy(update={"database_url": url}))
    assert response.status_code == 503
    assert response.json()["database"].startswith("unavailable")
    assert response.json()["temporal"] == "ok"


async def test_metrics_count_requests_by_route(client, admin):
    await client.get("/api/users/12345", headers=admin)
    text = (await client.get("/metrics")).text
    assert 'shareline_http_requests_total{method="GET",route="/api/users/{user_id}",status="404"} 1.0' in text
    assert "shareline_http_request_seconds_bucket" in text


async def test_every_error_has_one_shape(client, admin):
    response = await client.get("/api/nowhere", headers=admin)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    response = await client.delete("/api/auth/login")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    response = await client.get("/api/whatsapp/queues/abc", headers=admin)
    assert response.status_code == 422
    assert "path.queue_id" in response.json()["error"]["fields"]
