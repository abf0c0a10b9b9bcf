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
from providers import api_bases
from settings import Settings


def build_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, temporal: Client
) -> list[Callable[..., Any]]:
    assert settings.secret_key is not None
    box = SecretBox(settings.secret_key.get_secret_value())
    access = ProviderAccess(sessions, http, api_bases(settings), box)
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
