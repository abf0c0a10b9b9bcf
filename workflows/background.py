"""What an interaction workflow does beside routing: sending its outbox and storing inbound media,
each one message at a time, in order, in a task of its own, so offers never wait on a provider.

Both lists live in the workflow's state (they carry over continue-as-new); the workflow appends
to them and starts the tasks. While `handing_over` is set (continue-as-new is due) neither task
takes a new message: the rest moves to the next run.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.calls import QUICK

with workflow.unsafe.imports_passed_through():
    from activities.common import PROVIDER_REJECTED
    from activities.media import MediaActivities, MediaFailure, StoreMedia
    from activities.messages import SEND_START_TO_CLOSE, MessageActivities, SendFailure, SendMessage

MEDIA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=12,
    non_retryable_error_types=[PROVIDER_REJECTED],
)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=20
)


class Background:
    def __init__(self, outbox: list[int], media: list[int]) -> None:
        self._outbox = outbox  # stored outbound messages, sent in this order
        self._media = media  # inbound messages whose media is to be stored
        self._sender: asyncio.Task[None] | None = None
        self._media_task: asyncio.Task[None] | None = None
        self.handing_over = False  # continue-as-new is due: neither task starts anything new

    # The outbox -----------------------------------------------------------------------------------

    def sender_busy(self) -> bool:
        return self._sender is not None and not self._sender.done()

    def start_sender(self) -> None:
        if not self.sender_busy():
            self._sender = asyncio.create_task(self._send_outbox())

    async def _send_outbox(self) -> None:
        """Send queued messages one at a time, in order. A permanent provider refusal is recorded
        on the message by the activity (the agent may retry it); routing never waits on this."""
        while self._outbox and not self.handing_over:
            message_id = self._outbox[0]
            try:
                await send_message(message_id)
            except ActivityError as error:
                await record_send_failure(message_id, error)
            finally:
                self._outbox.pop(0)

    # Inbound media ---------------------------------------------------------------------------------

    def media_busy(self) -> bool:
        return self._media_task is not None and not self._media_task.done()

    def start_media(self) -> None:
        if not self.media_busy():
            self._media_task = asyncio.create_task(self._store_all_media())

    async def _store_all_media(self) -> None:
        """Fetch inbound media one message at a time, beside routing: offers never wait on it."""
        while self._media and not self.handing_over:
            try:
                await store_media(self._media[0])
            finally:
                self._media.pop(0)


async def send_message(message_id: int) -> None:
    await workflow.execute_activity_method(
        MessageActivities.send_message,
        SendMessage(message_id),
        start_to_close_timeout=SEND_START_TO_CLOSE,
        retry_policy=SEND_RETRY,
    )


async def record_send_failure(message_id: int, error: ActivityError) -> None:
    """Retries ran out (provider or network down for long): failed, for the agent to retry."""
    await workflow.execute_activity_method(
        MessageActivities.record_send_failure,
        SendFailure(message_id, str(error.cause or error)),
        start_to_close_timeout=QUICK,
    )


async def store_media(message_id: int) -> None:
    """Store one message's media; a download that fails for good is recorded on the message."""
    try:
        await workflow.execute_activity_method(
            MediaActivities.store_media,
            StoreMedia(message_id=message_id),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=MEDIA_RETRY,
        )
    except ActivityError as error:
        await workflow.execute_activity_method(
            MediaActivities.record_media_failure,
            MediaFailure(message_id=message_id, reason=str(error.cause or error)),
            start_to_close_timeout=QUICK,
        )
