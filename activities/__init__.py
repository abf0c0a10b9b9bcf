"""Class-based activities that hold their dependencies; `build_activities` wires them for a worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.common import ProviderAccess
from activities.media import MediaActivities, MediaStore, media_policy
from activities.messages import MessageActivities
from activities.routing import ROUTING_ACTIVITIES, RoutingActivities
from models.secrets import SecretBox
from providers.base import Endpoints
from settings import Settings


def endpoints_of(settings: Settings) -> Endpoints:
    return Endpoints(
        twilio_api_base=settings.twilio_api_base.rstrip("/"),
        meta_graph_base=settings.meta_graph_base.rstrip("/"),
        sinch_auth_base=settings.sinch_auth_base.rstrip("/"),
    )


def build_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, temporal: Client
) -> list[Callable[..., Any]]:
    assert settings.secret_key is not None
    box = SecretBox(settings.secret_key.get_secret_value())
    access = ProviderAccess(sessions, http, endpoints_of(settings), box)
    media = MediaActivities(access, MediaStore(settings.media_dir), media_policy(settings))
    messages = MessageActivities(access)
    routing = RoutingActivities(sessions, temporal)
    return [
        media.store_media,
        media.record_media_failure,
        messages.queue_message,
        messages.send_message,
        messages.record_send_failure,
        *(getattr(routing, name) for name in ROUTING_ACTIVITIES),
    ]
