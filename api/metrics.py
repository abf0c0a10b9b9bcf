"""Prometheus metrics for the API process: requests by route template, status and latency, and
the contact center's (domain.metrics), with the interactions waiting per queue read from the
database at each scrape.

Every label value comes from a bounded set, whatever a client sends: the method is one of
KNOWN_METHODS or "other", the route is the matched route's template (`/api/users/{user_id}`,
never the raw path) or "unmatched", and the status is the one the app answered.
"""

from __future__ import annotations

import logging
import time

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain import metrics as domain_metrics
from models import Queue, QueueWait

log = logging.getLogger(__name__)

AGENT_WAITS = "(agent)"  # the queue label of interactions waiting for one named agent

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(scope: Scope) -> str:
    method = scope.get("method")
    return method if method in KNOWN_METHODS else "other"


def route_label(scope: Scope) -> str:
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) and template else "unmatched"


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shareline_http_requests_total",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shareline_http_request_seconds",
            "HTTP request latency until the response starts",
            ["method", "route"],
            registry=self.registry,
        )

    async def render(self, sessions: async_sessionmaker[AsyncSession]) -> Response:
        """Every metric; the waiting gauge only while the database answers (the rest is the
        process's own and is served whatever the database does)."""
        domain_metrics.WAITING.clear()  # a queue nobody waits in any more, or renamed, is gone
        try:
            async with sessions() as session:
                waiting = (
                    await session.execute(
                        select(func.coalesce(Queue.name, AGENT_WAITS), func.count())
                        .select_from(QueueWait)
                        .outerjoin(Queue, Queue.id == QueueWait.queue_id)
                        .group_by(Queue.name)
                    )
                ).all()
        except (SQLAlchemyError, OSError) as error:
            log.warning("metrics: waiting interactions not read (%s)", type(error).__name__)
            waiting = []
        for queue, count in waiting:
            domain_metrics.WAITING.labels(queue).set(count)
        body = generate_latest(self.registry) + generate_latest(domain_metrics.REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Plain ASGI middleware (not BaseHTTPMiddleware) so streaming responses such as SSE pass through."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_and_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                route, method = route_label(scope), method_label(scope)
                self.metrics.requests.labels(method, route, str(message["status"])).inc()
                self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, send_and_count)
