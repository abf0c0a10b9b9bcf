"""Ownership: whether the owner is there, telling it of new messages, letting go of an absent
owner, giving a transfer nobody took back, closing (with the mandatory disposition's pause), and
moving on messages that reached a closing interaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from activities.common import timeline
from activities.offers import end_pending_offers
from domain import metrics
from domain.dispatch import wake_waiting
from models import (
    Account,
    AgentSession,
    Interaction,
    InteractionStatus,
    Message,
    Offer,
    OfferStatus,
    QueueAgent,
    User,
    UserStatus,
)
from models.db import after_commit
from models.events import notify_agents, notify_relay
from models.routing import PRESENCE_WINDOW, first_accepted, stop_waiting


@dataclass
class OwnerCheck:
    interaction_id: int
    agent_id: int


@dataclass
class OwnerStatus:
    present: bool  # online, with an event stream that sent a heartbeat recently
    queue_id: int | None  # the owner's queue for this interaction, if it has one


@dataclass
class NotifyOwner:
    interaction_id: int
    agent_id: int
    message_ids: list[int]


@dataclass
class Release:
    interaction_id: int


@dataclass
class ReturnToOwner:
    interaction_id: int
    agent_id: int


@dataclass
class MoveOn:
    """Messages signalled to an interaction that closed before it could route them."""

    interaction_id: int
    message_ids: list[int]


@dataclass
class CloseInteraction:
    interaction_id: int
    disposition_id: int | None = None
    actor_id: int | None = None


class OwnershipActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], temporal: Client) -> None:
        self._sessions = sessions
        self._temporal = temporal

    @activity.defn
    async def owner_status(self, request: OwnerCheck) -> OwnerStatus:
        async with self._sessions() as session:
            owner = await session.get(User, request.agent_id)
            fresh = AgentSession.seen_at > func.now() - PRESENCE_WINDOW
            connected = await session.scalar(
                select(exists().where(AgentSession.user_id == request.agent_id, fresh))
            )
            interaction = await session.get(Interaction, request.interaction_id)
            queue_id = interaction.queue_id if interaction is not None else None
            member = (
                queue_id is not None
                and await session.get(QueueAgent, (queue_id, request.agent_id)) is not None
            )
            return OwnerStatus(
                present=owner is not None and owner.status is UserStatus.online and bool(connected),
                queue_id=queue_id if member else None,
            )

    @activity.defn
    async def notify_owner(self, request: NotifyOwner) -> None:
        async with self._sessions() as session, session.begin():
            data = {"interaction_id": request.interaction_id, "message_ids": request.message_ids}
            await notify_agents(session, [request.agent_id], "message", data)

    @activity.defn
    async def release(self, request: Release) -> None:
        """The owner did not come back: the interaction is routed again (it keeps its history)."""
        async with self._sessions() as session, session.begin():
            interaction = await session.get(Interaction, request.interaction_id, with_for_update=True)
            if interaction is None or interaction.owner_id is None:
                return
            previous = interaction.owner_id
            interaction.owner_id = None
            interaction.status = InteractionStatus.open_pending
            await timeline(session, interaction.id, "released", {"owner_id": previous})
            data = {"interaction_id": interaction.id, "owner_id": None, "reason": "owner did not answer"}
            await notify_agents(session, [previous], "interaction_updated", data)

    @activity.defn
    async def return_to_owner(self, request: ReturnToOwner) -> None:
        """Nobody took the transfer: the interaction is the agent's again, marked unread."""
        async with self._sessions() as session, session.begin():
            returned = await session.execute(
                update(Interaction)
                .where(Interaction.id == request.interaction_id)
                .values(owner_id=request.agent_id, status=InteractionStatus.open, read=False)
                .returning(Interaction.id)
            )
            if returned.first() is None:  # deleted meanwhile: nothing to give back
                return
            await stop_waiting(session, request.interaction_id)
            await timeline(
                session, request.interaction_id, "transfer_returned", {"owner_id": request.agent_id}
            )
            data = {
                "interaction_id": request.interaction_id,
                "owner_id": request.agent_id,
                "read": False,
                "reason": "transfer not accepted",
            }
            await notify_agents(session, [request.agent_id], "interaction_updated", data)

    @activity.defn
    async def move_on(self, request: MoveOn) -> None:
        """Messages that reached the workflow as it closed go back to the inbound relay, which
        hands them to the contact's next interaction (the closed one stays closed)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id.in_(request.message_ids), Message.interaction_id == request.interaction_id)
                .values(signalled_at=None)
            )
            await notify_relay(session)

    @activity.defn
    async def close_interaction(self, request: CloseInteraction) -> None:
        """Closed: no more offers, out of any queue; the contact's next message starts a new one.
        A retry of an attempt that committed only wakes what the owner's freed capacity serves."""
        async with self._sessions() as session, session.begin():
            interaction = await session.get(Interaction, request.interaction_id, with_for_update=True)
            if interaction is None:
                return
            owner = interaction.owner_id
            if interaction.status is not InteractionStatus.closed:
                await _close(session, interaction, request)
        if owner is not None:  # capacity freed: the owner may take a waiting interaction now
            await wake_waiting(self._sessions, self._temporal, owner)


async def _close(session: AsyncSession, interaction: Interaction, request: CloseInteraction) -> None:
    interaction.status = InteractionStatus.closed
    interaction.closed_at = closed_at = datetime.now(UTC)
    accepted = await session.scalar(first_accepted(interaction.id))
    if accepted is not None:
        handled = (closed_at - accepted).total_seconds()
        after_commit(session, lambda: metrics.HANDLE.observe(handled))
    if request.disposition_id is not None:
        interaction.disposition_id = request.disposition_id
    elif interaction.owner_id is not None:
        await _pause_until_disposed(session, interaction)
    await stop_waiting(session, interaction.id)
    await end_pending_offers(session, Offer.interaction_id == interaction.id, OfferStatus.rescinded, "closed")
    if interaction.owner_id is not None:
        data = {"interaction_id": interaction.id, "reason": "closed", "status": "closed"}
        await notify_agents(session, [interaction.owner_id], "interaction_updated", data)
    closed = {"disposition_id": request.disposition_id}
    await timeline(session, interaction.id, "closed", closed, request.actor_id)


async def _pause_until_disposed(session: AsyncSession, interaction: Interaction) -> None:
    """Mandatory disposition: the owner goes into the account's pause until it disposes."""
    account = await session.get(Account, interaction.account_id)
    owner = await session.get(User, interaction.owner_id, with_for_update=True)
    if account is None or owner is None or not account.mandatory_disposition:
        return
    if owner.status_before_disposition is None:  # already paused for another: keep the first status
        owner.status_before_disposition = owner.status.value
    owner.status = UserStatus.paused
    owner.pause_id = account.disposition_pause_id
    owner.status_changed_at = datetime.now(UTC)
    data = {
        "interaction_id": interaction.id,
        "status": "paused",
        "pause_id": owner.pause_id,
        "reason": "disposition required",
    }
    await notify_agents(session, [owner.id], "interaction_updated", data)
