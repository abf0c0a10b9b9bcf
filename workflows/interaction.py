"""One interaction (a contact's conversation on an account) as one Temporal workflow.

The webhook stores each inbound message, then signals it here with signal-with-start; duplicate
signals (webhook retries) are dropped by message id. The workflow fetches inbound media into
Shareline's media store through an activity with retries; a download that keeps failing is
recorded on the message, which is never lost.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.ids import MESSAGE_RECEIVED

with workflow.unsafe.imports_passed_through():
    from activities.common import PROVIDER_REJECTED
    from activities.media import MediaActivities, MediaFailure, StoreMedia

# Remember this many recent message ids to drop duplicate signals (retried webhooks).
SEEN_WINDOW = 500
IDLE_CHECK = timedelta(hours=1)
MEDIA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=12,
    non_retryable_error_types=[PROVIDER_REJECTED],
)


@dataclass
class MessageArrived:
    message_id: int
    has_media: bool = False


@dataclass
class InteractionState:
    """Everything the workflow carries across continue-as-new."""

    seen_message_ids: list[int] = field(default_factory=list)
    pending: list[MessageArrived] = field(default_factory=list)
    messages_handled: int = 0


@dataclass
class InteractionInput:
    interaction_id: int
    account_id: int
    contact_id: int
    state: InteractionState | None = None


@dataclass
class InteractionResult:
    interaction_id: int
    messages_handled: int


@dataclass
class InteractionSummary:
    """What an operator (or a test) can ask a running interaction without changing it."""

    messages_handled: int
    messages_pending: int


@workflow.defn
class InteractionWorkflow:
    @workflow.init
    def __init__(self, start: InteractionInput) -> None:
        self._state = start.state or InteractionState()

    @workflow.signal(name=MESSAGE_RECEIVED)
    def message_received(self, arrived: MessageArrived) -> None:
        if arrived.message_id in self._state.seen_message_ids:
            return
        self._state.seen_message_ids = [*self._state.seen_message_ids, arrived.message_id][-SEEN_WINDOW:]
        self._state.pending.append(arrived)

    @workflow.query
    def summary(self) -> InteractionSummary:
        return InteractionSummary(
            messages_handled=self._state.messages_handled, messages_pending=len(self._state.pending)
        )

    @workflow.run
    async def run(self, start: InteractionInput) -> InteractionResult:
        while True:
            with suppress(TimeoutError):  # nothing arrived for a while: a chance to continue-as-new
                await workflow.wait_condition(lambda: bool(self._state.pending), timeout=IDLE_CHECK)
            while self._state.pending:
                arrived = self._state.pending.pop(0)
                if arrived.has_media:
                    await self._store_media(arrived.message_id)
                self._state.messages_handled += 1
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    InteractionInput(start.interaction_id, start.account_id, start.contact_id, self._state)
                )

    async def _store_media(self, message_id: int) -> None:
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
                start_to_close_timeout=timedelta(seconds=30),
            )
