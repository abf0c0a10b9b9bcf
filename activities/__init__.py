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
from activities.offers import OfferActivities
from activities.ownership import OwnershipActivities
from activities.plan_facts import PlanActivities
from activities.queue_waits import QueueWaitActivities
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
    offers = OfferActivities(sessions)
    waits = QueueWaitActivities(sessions)
    plan = PlanActivities(sessions)
    ownership = OwnershipActivities(sessions, temporal)
    return [
        media.store_media,
        media.record_media_failure,
        messages.queue_message,
        messages.send_message,
        messages.record_send_failure,
        offers.find_agents,
        offers.make_offers,
        offers.resolve_offers,
        offers.assign,
        waits.queue_info,
        waits.enter_queue,
        waits.wait_for_agent,
        waits.leave_queue,
        plan.load_plan,
        plan.inside_interval,
        plan.condition_holds,
        plan.add_tags,
        plan.is_first_interaction,
        plan.record_event,
        ownership.owner_status,
        ownership.notify_owner,
        ownership.release,
        ownership.return_to_owner,
        ownership.move_on,
        ownership.close_interaction,
    ]
