"""Mustache templates: notifications, canned answers and recontact parameters."""

from __future__ import annotations

from typing import Any

import chevron
from chevron.tokenizer import ChevronError, tokenize

DEFAULT_NOTIFICATION_TEMPLATE = (
    "Account: {{account.name}} {{#queue}}Queue: {{queue.name}} {{/queue}}From: {{contact.mobile}}"
)


def check_mustache(template: str) -> str:
    """Return the template if it parses as mustache, else raise ValueError saying why."""
    try:
        for _ in tokenize(template):
            pass
    except ChevronError as exc:
        raise ValueError(f"is not a valid mustache template: {' '.join(str(exc).split())}") from exc
    return template


def render(template: str, variables: dict[str, Any]) -> str:
    return str(chevron.render(template, variables))
