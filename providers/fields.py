"""Reading the fields of a webhook body: a wrong one is refused naming its path and why (400)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from providers.base import WebhookRejected

# What the tables hold: provider ids (messages, pending statuses), error codes, mobiles.
MAX_ID_LENGTH = 200
MAX_ERROR_CODE_LENGTH = 50
MAX_MOBILE_DIGITS = 20


def obj(container: dict[str, Any], key: str) -> dict[str, Any]:
    """container[key] if it is a JSON object, else an empty one."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def malformed(path: str, why: str) -> WebhookRejected:
    """A readable body with a field that is missing or of the wrong type: 400 naming the field."""
    return WebhookRejected(400, "malformed", f"{path} {why}", fields={path: why})


def _path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def optional_object(container: dict[str, Any], key: str, path: str = "") -> dict[str, Any]:
    """container[key] if it is an object, {} if absent or null; anything else is malformed."""
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise malformed(_path(path, key), "must be an object")
    return value


def optional_string(container: dict[str, Any], key: str, path: str = "") -> str | None:
    """container[key] if it is a string, None if absent or null; anything else is malformed."""
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise malformed(_path(path, key), "must be a string")
    return value


def identifier(value: Any, path: str) -> str:
    """A provider's id (of a message, a status's message): a non-empty string or integer that fits."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value in ("", 0):
        raise malformed(path, "must be a non-empty string")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise malformed(path, f"is longer than {MAX_ID_LENGTH} characters")
    return text


def error_code(value: Any, path: str) -> str | None:
    """A provider's error code (a string or an integer), None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise malformed(path, "must be a string or an integer")
    text = str(value)
    if len(text) > MAX_ERROR_CODE_LENGTH:
        raise malformed(path, f"is longer than {MAX_ERROR_CODE_LENGTH} characters")
    return text


def mobile(value: Any, path: str) -> str:
    """The sender's international digits, 1 to MAX_MOBILE_DIGITS of them."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise malformed(path, "must be a phone number")
    found = digits(str(value))
    if not found:
        raise malformed(path, "holds no digits")
    if len(found) > MAX_MOBILE_DIGITS:
        raise malformed(path, f"has more than {MAX_MOBILE_DIGITS} digits")
    return found


def digits(value: str) -> str:
    """International digits from 'whatsapp:+1555…', '+1555…' or '1555…' (ASCII digits only:
    str.isdigit also takes '²' and other scripts' digits)."""
    return "".join(ch for ch in value.removeprefix("whatsapp:") if "0" <= ch <= "9")


def from_unix(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def from_iso(value: Any) -> datetime | None:
    """An ISO 8601 time ('2026-11-24T10:00:00.000Z'); one without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
