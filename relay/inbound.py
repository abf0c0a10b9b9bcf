"""The inbound relay: every stored inbound message reaches its interaction's workflow, exactly once.

The webhook only commits the message (and a NOTIFY on `models.events.RELAY_CHANNEL`) and answers;
this relay, running in every worker, hands each message whose `signalled_at` is null to its
workflow by signal-with-start and then sets `signalled_at`. It is woken by the NOTIFY and sweeps
every SWEEP_SECONDS besides, so a message stored while Temporal was down, or by a process that
died before anyone signalled, is routed as soon as Temporal answers again.

Several relays may run at once: each takes its batch `FOR UPDATE SKIP LOCKED`, so no message is
taken by two. A message can still be signalled twice (its relay dies after the signal, before
the commit); the workflow drops a message id it has seen.

A message never revives a closed interaction: workflows are started with REJECT_DUPLICATE, and a
message whose interaction is closed (or whose workflow has completed) moves to the contact's
active interaction, created if need be, and is signalled there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import psycopg
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.webhooks.service import active_interaction, note_inbound, preview
from models import Account, Contact, Direction, Interaction, InteractionEvent, InteractionStatus, Message
from models.events import RELAY_CHANNEL
from models.interaction import ACTIVE
from settings import Settings
from workflows import ids
from workflows.ids import search_attributes
from workflows.interaction import InteractionInput, InteractionWorkflow
from workflows.signals import MessageArrived

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2.0  # how long a message stored while no NOTIFY got through waits at most
BATCH = 200
SIGNAL_TIMEOUT = timedelta(seconds=5)
RECONNECT_SECONDS = 1.0


class WorkflowGone(Exception):
    """The interaction's workflow has completed: the message belongs to a newer interaction."""


@dataclass(frozen=True)
class Handover:
    message_id: int
    interaction_id: int
    account_id: int
    account_key: str
    contact_id: int
    contact_mobile: str
    has_media: bool

    @property
    def workflow_id(self) -> str:
        return ids.interaction_workflow_id(self.account_id, self.contact_id, self.interaction_id)


class InboundRelay:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], temporal: Client
    ) -> None:
        self._dsn = settings.libpq_url
        self._task_queue = settings.temporal_task_queue
        self._contact_key = settings.temporal_contact_key
        self._sessions = sessions
        self._temporal = temporal
        self._wake = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[InboundRelay]:
        """Relay in the background for as long as the block runs."""
        tasks = [
            asyncio.create_task(self._listen(), name="inbound-relay-listen"),
            asyncio.create_task(self._loop(), name="inbound-relay"),
        ]
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def drain(self) -> int:
        """Hand over every message waiting now; return how many were handed over. Stops early
        (the rest waits for the next sweep) when Temporal cannot be reached."""
        handed = 0
        while True:
            await self._move_on()
            batch, complete, ended = await self._hand_over()
            handed += batch
            if not complete or (batch < BATCH and not ended):
                return handed

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # the database away, the pool full, a bug: said, and swept again
                log.exception("inbound relay could not hand messages over; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SWEEP_SECONDS)

    async def _listen(self) -> None:
        """Wake the relay on every NOTIFY; a lost connection is re-opened (sweeps cover the gap)."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {RELAY_CHANNEL}")
                    self._wake.set()
                    async for _ in conn.notifies():
                        self._wake.set()
            except psycopg.Error as exc:
                log.warning("inbound relay lost its listener (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _move_on(self) -> None:
        """Messages stored in an interaction that closed meanwhile join the contact's next one,
        committed before any of them is signalled there."""
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(
                        Message.id,
                        Message.interaction_id,
                        Message.text,
                        Message.type,
                        Message.sent_at,
                        Interaction.account_id,
                        Interaction.contact_id,
                    )
                    .join(Interaction, Interaction.id == Message.interaction_id)
                    .where(AWAITING, Interaction.status == InteractionStatus.closed)
                    .order_by(Message.id)
                    .limit(BATCH)
                    .with_for_update(of=Message, skip_locked=True)
                )
            ).all()
            for row in rows:
                await _move(session, row)

    async def _hand_over(self) -> tuple[int, bool, bool]:
        """One batch in one transaction: (messages handed over, whether Temporal answered every
        call, whether a workflow had ended: its messages move on in the next round)."""
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(
                        Message.id,
                        Message.interaction_id,
                        Message.media,
                        Interaction.account_id,
                        Interaction.contact_id,
                        Account.key,
                        Contact.mobile,
                    )
                    .join(Interaction, Interaction.id == Message.interaction_id)
                    .join(Account, Account.id == Interaction.account_id)
                    .join(Contact, Contact.id == Interaction.contact_id)
                    .where(AWAITING, ACTIVE)
                    .order_by(Message.id)
                    .limit(BATCH)
                    .with_for_update(of=Message, skip_locked=True)
                )
            ).all()
            handed, gone, complete = await self._signal_all([_handover(row) for row in rows])
            for interaction_id in {handover.interaction_id for handover in gone}:
                await _end(session, interaction_id)
            if handed:
                await session.execute(
                    update(Message).where(Message.id.in_(handed)).values(signalled_at=datetime.now(UTC))
                )
            return len(handed), complete, bool(gone)

    async def _signal_all(self, handovers: list[Handover]) -> tuple[list[int], list[Handover], bool]:
        """Signal each interaction's messages in order, interactions concurrently: (handed over,
        those whose workflow has completed, whether Temporal answered every call)."""
        handed: list[int] = []
        gone: list[Handover] = []
        complete = True

        async def one_interaction(messages: list[Handover]) -> None:
            nonlocal complete
            for handover in messages:
                try:
                    await self._signal(handover)
                except WorkflowGone:
                    gone.append(handover)
                    continue
                except (RPCError, RuntimeError) as error:  # RuntimeError: the bridge could not connect
                    log.warning("Temporal did not take message %s: %s", handover.message_id, error)
                    complete = False
                    return
                handed.append(handover.message_id)

        by_workflow = sorted(handovers, key=lambda handover: (handover.workflow_id, handover.message_id))
        await asyncio.gather(
            *(one_interaction(list(group)) for _, group in groupby(by_workflow, lambda h: h.workflow_id))
        )
        return handed, gone, complete

    async def _signal(self, handover: Handover) -> None:
        """Start the interaction's workflow if it never ran, and signal the message to it. A
        workflow that has completed refuses the start (REJECT_DUPLICATE) and the signal: the
        interaction is over, WorkflowGone. (The plain signal also covers a start that lost a race
        to another relay's, which the server may report as already started.)"""
        arrived = MessageArrived(message_id=handover.message_id, has_media=handover.has_media)
        try:
            await self._temporal.start_workflow(
                InteractionWorkflow.run,
                InteractionInput(handover.interaction_id, handover.account_id, handover.contact_id),
                id=handover.workflow_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                start_signal=ids.MESSAGE_RECEIVED,
                start_signal_args=[arrived],
                search_attributes=search_attributes(
                    handover.account_key,
                    ids.contact_value(handover.contact_mobile, self._contact_key),
                    InteractionStatus.open_pending.value,
                ),
                rpc_timeout=SIGNAL_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            try:
                await self._temporal.get_workflow_handle(handover.workflow_id).signal(
                    ids.MESSAGE_RECEIVED, arrived, rpc_timeout=SIGNAL_TIMEOUT
                )
            except RPCError as error:
                if error.status is RPCStatusCode.NOT_FOUND:
                    raise WorkflowGone(handover.workflow_id) from error
                raise


AWAITING = (Message.direction == Direction.inbound) & Message.signalled_at.is_(None)


def _handover(row: Row[*tuple[Any, ...]]) -> Handover:
    return Handover(
        message_id=row.id,
        interaction_id=row.interaction_id,
        account_id=row.account_id,
        account_key=row.key,
        contact_id=row.contact_id,
        contact_mobile=row.mobile,
        has_media=row.media is not None,
    )


async def _move(session: AsyncSession, row: Row[*tuple[Any, ...]]) -> None:
    """A message that arrived for a closed interaction opens (or joins) the contact's next one."""
    target = await active_interaction(session, row.account_id, row.contact_id)
    await session.execute(update(Message).where(Message.id == row.id).values(interaction_id=target))
    await note_inbound(session, target, row.sent_at, preview(row.text, row.type))
    session.add(
        InteractionEvent(
            interaction_id=row.interaction_id,
            kind="message_moved",
            data={"message_id": row.id, "to_interaction_id": target},
        )
    )


async def _end(session: AsyncSession, interaction_id: int) -> None:
    """The workflow has completed but the interaction is not closed (an operator terminated it):
    it is closed, so the contact's messages open a new one."""
    ended = await session.execute(
        update(Interaction)
        .where(Interaction.id == interaction_id, ACTIVE)
        .values(status=InteractionStatus.closed, closed_at=datetime.now(UTC))
        .returning(Interaction.id)
    )
    if ended.first() is not None:
        log.warning("interaction %s had no running workflow: closed", interaction_id)
        session.add(
            InteractionEvent(interaction_id=interaction_id, kind="closed", data={"reason": "workflow ended"})
        )
