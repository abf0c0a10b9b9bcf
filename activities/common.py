"""What the activities share: loading an account for its provider, and turning provider errors
into Temporal's retry semantics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models import Account, InteractionEvent, ProviderType
from models.secrets import SecretBox
from providers.accounts import provider_account
from providers.base import ProviderAccount, SendError

PROVIDER_REJECTED = "ProviderRejected"


@dataclass(frozen=True)
class ProviderAccess:
    """What an activity needs to act at a provider on an account's behalf."""

    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    api_bases: Mapping[ProviderType, str]  # providers.api_bases(settings)
    box: SecretBox


async def load_provider_account(session: AsyncSession, box: SecretBox, account_id: int) -> ProviderAccount:
    account = await session.get(Account, account_id)
    if account is None:
        raise ApplicationError(
            f"account {account_id} no longer exists", type="AccountGone", non_retryable=True
        )
    return provider_account(account, box)


def activity_key(part: str = "") -> str:
    """The same for every attempt of one scheduled activity and for no other (its run and activity
    id): the idempotency key of a row it writes, so a retry after a lost completion finds it.
    Local activities are numbered apart from ordinary ones in a run, hence their "L"."""
    info = activity.info()
    local = "L" if info.is_local else ""
    return f"{info.workflow_run_id}/{local}{info.activity_id}/{part}"


async def timeline(
    session: AsyncSession, interaction_id: int, kind: str, data: dict[str, Any], actor_id: int | None = None
) -> None:
    """An event on the interaction's timeline, written once however often the activity runs."""
    await session.execute(
        insert(InteractionEvent)
        .values(
            interaction_id=interaction_id,
            kind=kind,
            actor_id=actor_id,
            data=data,
            activity_key=activity_key(kind),
        )
        .on_conflict_do_nothing(index_elements=["activity_key"])
    )


def retryable(error: SendError) -> ApplicationError:
    """A transient provider failure: let the retry policy try again, after Retry-After if given."""
    delay = timedelta(seconds=error.retry_after) if error.retry_after is not None else None
    return ApplicationError(error.text, error.code, type="ProviderUnavailable", next_retry_delay=delay)
