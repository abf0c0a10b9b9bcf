"""Vidaoo video meetings, started by an agent from a WhatsApp interaction.

Vidaoo's meeting API is not publicly documented; this module is the one place that knows its
shape, as Shareline assumes it: `POST {base}/api/v1/meetings` with `Authorization: Bearer
<api key>` and `{"topic", "note", "metadata"}`, answering `{"id", "host_url", "guest_url"}`
(the agent's link and the customer's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from domain.redact import redact
from integrations import ExternalServiceError, post_json

SERVICE = "Vidaoo"


@dataclass
class Meeting:
    id: str
    host_url: str  # the agent joins here
    guest_url: str  # sent to the customer


async def create_meeting(
    http: httpx.AsyncClient, base_url: str, api_key: str, topic: str, note: str, metadata: dict[str, Any]
) -> Meeting:
    try:
        answer = await post_json(
            http,
            SERVICE,
            f"{base_url.rstrip('/')}/api/v1/meetings",
            {"topic": topic, "note": note, "metadata": metadata},
            {"Authorization": f"Bearer {api_key}"},
        )
    except ExternalServiceError as error:  # Vidaoo's words reach the agent: bounded, no key in them
        raise ExternalServiceError(error.status_code, SERVICE, redact(error.reason, [api_key])) from error
    try:
        return Meeting(str(answer["id"]), str(answer["host_url"]), str(answer["guest_url"]))
    except KeyError as missing:
        raise ExternalServiceError(502, SERVICE, f"answered without {missing}") from missing
