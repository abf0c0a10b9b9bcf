"""Agent events over PostgreSQL LISTEN/NOTIFY, so every API process can stream them to its agents.

A notification is sent inside the writer's transaction and delivered only if it commits. The
payload names the agent; each API process forwards it to that agent's open event streams.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "shareline_agent_events"
RELAY_CHANNEL = "shareline_inbound"  # wakes the inbound relay (relay.inbound): messages to hand over
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more


async def notify_agents(
    session: AsyncSession, agent_ids: list[int], event: str, data: dict[str, Any]
) -> None:
    for agent_id in agent_ids:
        payload = json.dumps({"agent_id": agent_id, "event": event, "data": data}, default=str)
        if len(payload.encode()) > MAX_PAYLOAD:  # never silently drop: send a stub the UI can refetch
            payload = json.dumps(
                {
                    "agent_id": agent_id,
                    "event": event,
                    "data": {"truncated": True, "id": data.get("interaction_id")},
                }
            )
        await session.execute(select(func.pg_notify(CHANNEL, payload)))


async def notify_floor(session: AsyncSession) -> None:
    """Tell the live views (api.supervisor.live) that an agent's status or capacity changed once
    this transaction commits. Names no agent or interaction: no stream receives it as an event."""
    await session.execute(select(func.pg_notify(CHANNEL, json.dumps({"floor": True}))))


def relay_wakeup() -> ColumnElement[None]:
    """A NOTIFY that wakes the inbound relays once the transaction commits (PostgreSQL sends a
    transaction's identical notifications once): to select where inbound messages are stored."""
    return func.pg_notify(RELAY_CHANNEL, "")


async def notify_relay(session: AsyncSession) -> None:
    """Wake the inbound relays once this transaction commits: it stored inbound messages."""
    await session.execute(select(relay_wakeup()))
