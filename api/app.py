"""`create_app()`: the FastAPI application, its lifespan (one engine, one Temporal client) and routers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from temporalio.client import Client

from api import audit, auth, operations
from api.accounts import config as account_config
from api.accounts import forms as account_forms
from api.accounts import router as accounts
from api.agents import router as agents
from api.agents.events import AgentEventHub
from api.deps import Services
from api.directory import contacts, intervals, pauses, queues, users
from api.errors import install_error_handlers
from api.interactions import delete, export, replies, routing, searches, spy, transcript, uploads
from api.interactions import router as interactions
from api.interactions import tools as interaction_tools
from api.interactions.delete import finish_earlier_deletes
from api.logs import install_log_redaction
from api.metrics import ApiMetrics, MetricsMiddleware
from api.pages import mount_pages
from api.security import TokenSigner
from api.supervisor import live, reports
from api.supervisor.live import LiveFeed
from api.webhooks import router as webhooks
from api.webhooks.accounts import WebhookAccounts
from models.db import create_engine, create_sessionmaker
from models.secrets import SecretBox
from settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.sqlalchemy_url)
        # Lazy: the API starts (and /readyz answers 503) while Temporal is still coming up.
        temporal = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace, lazy=True
        )
        assert settings.secret_key is not None
        key = settings.secret_key.get_secret_value()
        events = AgentEventHub(settings.libpq_url)
        await events.start()
        http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
        sessionmaker = create_sessionmaker(engine)
        feed = LiveFeed(sessionmaker, events)
        box = SecretBox(key)
        app.state.services = Services(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            temporal=temporal,
            secrets=box,
            tokens=TokenSigner(key, timedelta(minutes=settings.access_token_minutes)),
            events=events,
            live=feed,
            webhook_accounts=WebhookAccounts(sessionmaker, box, events),
            http=http,
        )
        sweep = asyncio.create_task(finish_earlier_deletes(sessionmaker, settings.media_dir))
        try:
            yield
        finally:
            sweep.cancel()
            await feed.stop()
            await http.aclose()
            await events.stop()
            await engine.dispose()

    app = FastAPI(
        title="Shareline",
        summary="One WhatsApp Business number, many agents, routed like a voice queue.",
        version="0.1.0",
        lifespan=lifespan,
    )
    metrics = ApiMetrics()
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(app)
    for router in (
        operations.router,
        auth.router,
        users.router,
        pauses.router,
        contacts.router,
        intervals.router,
        queues.router,
        accounts.router,
        account_config.router,
        account_forms.router,
        agents.router,
        webhooks.router,
        interactions.router,
        routing.router,
        replies.router,
        interaction_tools.router,
        uploads.router,
        export.router,
        transcript.router,
        searches.router,
        delete.router,
        spy.router,
        audit.router,
        reports.router,
        live.router,
    ):
        app.include_router(router)
    mount_pages(app)  # the agent desk at /desk/, the console at /console/
    if settings.demo:  # `make demo` only: the product never imports demo/ otherwise
        from demo.phone import router as demo_router  # noqa: PLC0415

        app.include_router(demo_router)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    install_log_redaction()  # webhook tokens and stream tickets travel in query strings
    return app
