"""Mustache templates: notifications, canned answers and recontact parameters."""

from __future__ import annotations

from typing import Any

import chevron
from chevron.tokenizer import ChevronError, tokenize

from models import Account, Contact, Queue, User

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
    """Plain text, not HTML: what is rendered goes to WhatsApp or an agent's UI (which escapes for
    itself), so `{{name}}` inserts values as they are, like `{{{name}}}` would."""
    tokens = [("no escape", key) if kind == "variable" else (kind, key) for kind, key in tokenize(template)]
    return str(chevron.render(tokens, variables))


def variables(
    account: Account, contact: Contact, agent: User | None = None, queue: Queue | None = None
) -> dict[str, Any]:
    """The mustache variables of notifications, canned answers and recontact parameters."""
    values: dict[str, Any] = {
        "account": {"id": account.id, "name": account.name, "key": account.key, "phone": account.phone},
        "contact": {
            "id": contact.id,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "mobile": contact.mobile,
            "email": contact.email,
        },
    }
    if agent is not None:
        values["agent"] = {"id": agent.id, "username": agent.username, "full_name": agent.full_name}
    if queue is not None:
        values["queue"] = {"id": queue.id, "name": queue.name}
    return values
