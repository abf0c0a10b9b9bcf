"""Dispatch: waking the interactions that wait for an agent who became eligible.

"Dispatch" in Shareline means this and only this: the `queue_waits` table (models.routing, one row
per interaction waiting in a queue or for a named agent) and the wake-up below, which the API and
the close activity call after an agent goes online, an interaction closes (capacity freed), an
admin changes the agent's capacity, or adds it to an account or queue. It signals `agent_available`
to as many waiting interactions as the agent has free capacity, in `models.routing.waits_for_agent`
order; each re-offers at once, so no interaction waits while an eligible agent sits idle. The
signal is a hint: each workflow re-checks eligibility itself. Not an activity: it runs in the API
and inside activities, wherever an agent's eligibility changed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from models import User, UserStatus
from models.interaction import open_count
from models.routing import waits_for_agent
from workflows import ids
from workflows.signals import AgentAvailable

log = logging.getLogger(__name__)

WAKE_TIMEOUT = timedelta(seconds=5)  # a wake-up is a hint: never worth waiting long for Temporal


async def wake_waiting(sessions: async_sessionmaker[AsyncSession], temporal: Client, agent_id: int) -> int:
    """Signal the interactions `agent_id` should be offered next; return how many were signalled."""
    async with sessions() as session:
        agent = await session.get(User, agent_id)
        if agent is None or agent.status is not UserStatus.online:
            return 0
        owned = await session.scalar(open_count(agent_id))
        free = agent.whatsapp_capacity - (owned or 0)
        if free <= 0:
            return 0
        workflow_ids = (await session.scalars(waits_for_agent(agent_id, free))).all()
    log.info("agent %s became eligible: waking %s", agent_id, list(workflow_ids))
    for workflow_id in workflow_ids:
        try:
            await temporal.get_workflow_handle(workflow_id).signal(
                ids.AGENT_AVAILABLE, AgentAvailable(agent_id), rpc_timeout=WAKE_TIMEOUT
            )
        except RPCError as error:  # finished meanwhile, or Temporal briefly away: the next event retries
            log.info("could not wake %s: %s", workflow_id, error.status)
    return len(workflow_ids)
