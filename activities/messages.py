"""Outbound messages: a stored message is sent through its account's provider exactly once.

The message row is written first (status queued) by whoever asks for the send; this activity
calls the provider and records the provider's message id, or the permanent failure with the
provider's code and text. Status callbacks that arrived before the id was known are applied here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import ProviderAccess, load_provider_account, retryable
from domain.delivery import advances, failure_text
from models import (
    Contact,
    DeliveryStatus,
    Direction,
    Interaction,
    InteractionEvent,
    Message,
    MessageType,
    PendingStatus,
)
from providers import PROVIDERS
from providers.base import OutboundMessage, SendError, Template


@dataclass
class SendMessage:
    message_id: int


@dataclass
class QueueMessage:
    """A text Shareline itself sends in an interaction (an autoreply, a video link...)."""

    interaction_id: int
    text: str
    origin: str


@dataclass
class SendFailure:
    """The send was retried until the policy gave up (provider or network down for long)."""

    message_id: int
    reason: str


@dataclass
class SendOutcome:
    status: DeliveryStatus
    provider_message_id: str | None = None
    error_code: str | None = None
    error_text: str | None = None


class MessageActivities:
    def __init__(self, access: ProviderAccess) -> None:
        self._access = access

    @activity.defn
    async def send_message(self, request: SendMessage) -> SendOutcome:
        async with self._access.sessions() as session:
            message = await session.get(Message, request.message_id)
            if message is None or message.direction is not Direction.outbound:
                raise ApplicationError(f"no outbound message {request.message_id}", non_retryable=True)
            if message.provider_message_id is not None or message.status is DeliveryStatus.failed:
                return _outcome(message)
            mobile = await session.scalar(
                select(Contact.mobile)
                .join(Interaction, Interaction.contact_id == Contact.id)
                .where(Interaction.id == message.interaction_id)
            )
            account = await load_provider_account(session, self._access.box, message.account_id)
            template = message.payload.get("template")
            outbound = OutboundMessage(
                to=str(mobile),
                text=message.text,
                media_url=(message.media or {}).get("url"),
                template=Template(**template) if template else None,
            )
        try:
            result = await PROVIDERS[account.type].send(
                self._access.http, self._access.endpoints, account, outbound
            )
        except SendError as error:
            if error.retryable:
                raise retryable(error) from error
            return await self._record(request.message_id, None, error)
        return await self._record(request.message_id, result.provider_message_id, None)

    @activity.defn
    async def record_send_failure(self, request: SendFailure) -> None:
        """Mark a message still queued as failed, so the agent sees it and may retry it."""
        async with self._access.sessions() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id == request.message_id, Message.status == DeliveryStatus.queued)
                .values(
                    status=DeliveryStatus.failed,
                    error_code="send_gave_up",
                    error_text=request.reason[:1000],
                    status_at=datetime.now(UTC),
                )
            )

    @activity.defn
    async def queue_message(self, request: QueueMessage) -> int:
        """Store the outbound message (status queued) and return its id; `send_message` sends it."""
        async with self._access.sessions() as session, session.begin():
            interaction = await session.get(Interaction, request.interaction_id, with_for_update=True)
            assert interaction is not None
            message = interaction.queued_message(MessageType.text, request.text, request.origin)
            session.add(message)
            interaction.show_last(request.text)
            await session.flush()
            session.add(
                InteractionEvent(
                    interaction_id=interaction.id, kind=request.origin, data={"message_id": message.id}
                )
            )
            return message.id

    async def _record(self, message_id: int, provider_id: str | None, error: SendError | None) -> SendOutcome:
        async with self._access.sessions() as session, session.begin():
            message = await session.get(Message, message_id, with_for_update=True)
            assert message is not None
            now = datetime.now(UTC)
            if error is not None:
                message.status = DeliveryStatus.failed
                message.error_code = error.code
                message.error_text = (failure_text(error.code, error.text) or "")[:1000]
                message.status_at = now
            else:
                message.provider_message_id = provider_id
                message.status = DeliveryStatus.sent
                message.status_at = now
                early = (
                    await session.scalars(
                        select(PendingStatus)
                        .where(
                            PendingStatus.account_id == message.account_id,
                            PendingStatus.provider_message_id == provider_id,
                        )
                        .order_by(PendingStatus.id)
                    )
                ).all()
                for pending in early:
                    if advances(message.status, pending.status):
                        message.status = pending.status
                        message.error_code = pending.error_code
                        message.error_text = pending.error_text
                if early:
                    await session.execute(
                        delete(PendingStatus).where(PendingStatus.id.in_([p.id for p in early]))
                    )
            return _outcome(message)


def _outcome(message: Message) -> SendOutcome:
    assert message.status is not None  # outbound messages always have one
    return SendOutcome(message.status, message.provider_message_id, message.error_code, message.error_text)
