"""Payloads of the interaction workflow's signals, importable without the workflow (and so
without its activities) by whoever sends them: the inbound relay and dispatch (domain.dispatch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MessageArrived:
    message_id: int
    has_media: bool = False


@dataclass
class AgentAvailable:
    agent_id: int
