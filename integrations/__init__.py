"""Clients of the other companies' services an agent uses from an interaction (not WhatsApp
providers): Vidaoo video meetings and an OpenAI-compatible assistant model.

Every failure is an `ExternalServiceError` that says which service failed and why, as the API
shows it: 504 when the service did not answer in time, 502 for anything else.
"""

from __future__ import annotations

from typing import Any

import httpx


class ExternalServiceError(Exception):
    def __init__(self, status_code: int, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.status_code = status_code
        self.service = service
        self.reason = reason


async def post_json(
    http: httpx.AsyncClient, service: str, url: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST `body` and return the JSON object answered, or raise ExternalServiceError."""
    try:
        response = await http.post(url, json=body, headers=headers)
    except httpx.TimeoutException as error:
        raise ExternalServiceError(504, service, "did not answer in time") from error
    except httpx.HTTPError as error:
        raise ExternalServiceError(502, service, f"is unreachable ({type(error).__name__})") from error
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.is_error:
        raise ExternalServiceError(
            502, service, f"answered {response.status_code}: {_reason(answer, response)}"
        )
    if not isinstance(answer, dict):
        raise ExternalServiceError(502, service, "answered something that is not a JSON object")
    return answer


def _reason(answer: Any, response: httpx.Response) -> str:
    """The service's own words: `error.message`, `message` or `error` (a string), else the text."""
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
        for value in (answer.get("message"), error):
            if isinstance(value, str) and value:
                return value[:500]
    return response.text[:500] or response.reason_phrase
