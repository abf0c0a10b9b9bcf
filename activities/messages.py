"""Outbound messages: a stored message is sent through its account's provider, at least once.

The message row is written first (status queued) by whoever asks for the send; this activity
counts the attempt (committed before the provider is called), calls the provider within
SEND_DEADLINE, and records the provider's message id, or the permanent failure with the
provider's code and text. Status callbacks that arrived before the id was known are applied when
it is recorded (domain.delivery.record_provider_id).

What can still go out twice: a POST the provider received and accepted whose answer Shareline
never got: the deadline passed, the connection broke after the request was written, or the
worker died before the id was committed. The retry POSTs again, and none of the four wire formats
(Twilio Messages.json, Meta Graph /messages, Sinch messages:send, Kaleyra v2 messages) takes an
idempotency key the provider could use to drop it. Such a message shows `attempts` above 1 and,
in `last_error`, why the earlier attempt's outcome is unknown. The deadline is shorter than
SEND_START_TO_CLOSE so that Temporal never starts a retry while a call is still in flight.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import ProviderAccess, activity_key, load_provider_account, retryable, timeline
from domain import metrics
from domain.delivery import failure_text, notify_status, record_provider_id
from models import (
    Account,
    Contact,
    DeliveryStatus,
    Direction,
    Interaction,
    Message,
    MessageType,
)
from models.db import after_commit
from providers import PROVIDERS
from providers.base import OutboundMessage, SendError, Template

# One overall deadline on the provider call (token fetch, connect, upload, answer), whatever the
# HTTP client allows per phase; the workflow gives the activity SEND_START_TO_CLOSE, which leaves
# room for the database work around the call.
SEND_DEADLINE = timedelta(seconds=20)
SEND_START_TO_CLOSE = timedelta(seconds=30)
SEND_OUTCOME_UNKNOWN = "SendOutcomeUnknown"


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
        async with self._access.sessions() as session, session.begin():
            message = await session.get(Message, request.message_id, with_for_update=True)
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
            message.attempts += 1  # committed before the call: a retry after a lost answer shows
        provider = account.type.value
        try:
            async with asyncio.timeout(SEND_DEADLINE.total_seconds()):
                result = await PROVIDERS[account.type].send(
                    self._access.http, self._access.api_bases[account.type], account, outbound
                )
        except TimeoutError as timeout:
            reason = (
                f"no answer from the provider within {SEND_DEADLINE.total_seconds():g} s: "
                "the outcome is unknown (it may have been sent)"
            )
            await self._note_retry(request.message_id, reason)
            metrics.SENDS.labels(provider, "unknown").inc()
            raise ApplicationError(reason, type=SEND_OUTCOME_UNKNOWN) from timeout
        except SendError as error:
            if error.retryable:
                await self._note_retry(request.message_id, error.text)
                metrics.SENDS.labels(provider, "retried").inc()
                raise retryable(error) from error
            outcome = await self._record(request.message_id, None, error)
            metrics.SENDS.labels(provider, "failed").inc()
            return outcome
        outcome = await self._record(request.message_id, result.provider_message_id, None)
        metrics.SENDS.labels(provider, "sent").inc()
        return outcome

    @activity.defn
    async def record_send_failure(self, request: SendFailure) -> None:
        """Mark a message still queued as failed, so the agent sees it and may retry it."""
        async with self._access.sessions() as session, session.begin():
            provider = select(Account.type).where(Account.id == Message.account_id).scalar_subquery()
            failed = (
                await session.execute(
                    update(Message)
                    .where(Message.id == request.message_id, Message.status == DeliveryStatus.queued)
                    .values(
                        status=DeliveryStatus.failed,
                        error_code="send_gave_up",
                        error_text=request.reason[:1000],
                        status_at=datetime.now(UTC),
                    )
                    .returning(Message.id, provider)
                )
            ).first()
            if failed is not None:
                message_id, kind = failed
                await notify_status(session, [message_id])
                after_commit(session, lambda: metrics.SENDS.labels(str(kind), "gave_up").inc())

    @activity.defn
    async def queue_message(self, request: QueueMessage) -> int:
        """Store the outbound message (status queued) and return its id; `send_message` sends it."""
        async with self._access.sessions() as session, session.begin():
            interaction = await session.get(Interaction, request.interaction_id, with_for_update=True)
            if interaction is None:
                raise ApplicationError(f"no interaction {request.interaction_id}", non_retryable=True)
            key = activity_key()
            stored = await session.scalar(select(Message.id).where(Message.activity_key == key))
            if stored is not None:  # a retry of an attempt that committed (under the same row lock)
                return stored
            message = interaction.queued_message(MessageType.text, request.text, request.origin)
            message.activity_key = key
            session.add(message)
            interaction.show_last(request.text)
            await session.flush()
            await timeline(session, interaction.id, request.origin, {"message_id": message.id})
            return message.id

    async def _note_retry(self, message_id: int, reason: str) -> None:
        async with self._access.sessions() as session, session.begin():
            await session.execute(
                update(Message).where(Message.id == message_id).values(last_error=reason[:1000])
            )

    async def _record(self, message_id: int, provider_id: str | None, error: SendError | None) -> SendOutcome:
        async with self._access.sessions() as session, session.begin():
            message = await session.get(Message, message_id, with_for_update=True)
            assert message is not None
            if provider_id is not None:
                await record_provider_id(session, message, provider_id)
            else:
                assert error is not None
                message.status = DeliveryStatus.failed
                message.error_code = error.code
                message.error_text = (failure_text(error.code, error.text) or "")[:1000]
                message.status_at = datetime.now(UTC)
                await session.flush()
                await notify_status(session, [message.id])
            return _outcome(message)


def _outcome(message: Message) -> SendOutcome:
    assert message.status is not None  # outbound messages always have one
    return SendOutcome(message.status, message.provider_message_id, message.error_code, message.error_text)
