"""Queue waits and wake-ups: an interaction waiting in a queue, or for one named agent, has a row
in `queue_waits` (the dispatch table, models.routing) while it waits, so that an agent who becomes
eligible wakes it (domain.dispatch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from models import Interaction, InteractionStatus, Queue, QueueWait
from models.routing import stop_waiting


@dataclass
class QueueLookup:
    queue_id: int


@dataclass
class QueueInfo:
    queue_id: int
    strategy: str  # a Strategy
    timeout: int  # seconds each agent is offered the interaction (one-at-a-time strategies)


@dataclass
class QueueEntry:
    interaction_id: int
    queue_id: int
    workflow_id: str


@dataclass
class AgentWait:
    interaction_id: int
    agent_id: int
    workflow_id: str


@dataclass
class LeaveQueue:
    interaction_id: int


class QueueWaitActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def queue_info(self, request: QueueLookup) -> QueueInfo | None:
        async with self._sessions() as session:
            queue = await session.get(Queue, request.queue_id)
            return None if queue is None else QueueInfo(queue.id, queue.strategy.value, queue.timeout)

    @activity.defn
    async def enter_queue(self, request: QueueEntry) -> None:
        await self._wait(request.interaction_id, request.workflow_id, queue_id=request.queue_id)

    @activity.defn
    async def wait_for_agent(self, request: AgentWait) -> None:
        """An `agent` step waits for one named agent: woken when that agent becomes eligible."""
        await self._wait(request.interaction_id, request.workflow_id, agent_id=request.agent_id)

    @activity.defn
    async def leave_queue(self, request: LeaveQueue) -> None:
        """The interaction waits no longer (for a queue, or for a named agent)."""
        async with self._sessions() as session, session.begin():
            await stop_waiting(session, request.interaction_id)

    async def _wait(
        self,
        interaction_id: int,
        workflow_id: str,
        *,
        queue_id: int | None = None,
        agent_id: int | None = None,
    ) -> None:
        async with self._sessions() as session, session.begin():
            await stop_waiting(session, interaction_id)
            session.add(
                QueueWait(
                    interaction_id=interaction_id,
                    queue_id=queue_id,
                    agent_id=agent_id,
                    workflow_id=workflow_id,
                    waiting_since=datetime.now(UTC),
                )
            )
            if queue_id is not None:
                await session.execute(
                    update(Interaction)
                    .where(Interaction.id == interaction_id)
                    .values(queue_id=queue_id, status=InteractionStatus.open_pending)
                )
