"""Upstream text made fit for an agent's screen: bounded, and stripped of anything that looks like
a credential.

Providers, Vidaoo and assistant models answer errors in their own words, and those words are
stored on messages and shown to agents. Some services echo the request back (an `api-key`, a
bearer token, a signed URL); none of that is an agent's business, so every piece of upstream text
that reaches an agent passes through `redact` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LIMIT = 300
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter "secrets" would blank out ordinary words

_SCHEMES = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# `name=value`, `name: value`, `"name": "value"` for the names credentials travel under.
_NAMED = re.compile(
    r"""\b((?:x-)?(?:api[-_]?key|access[-_]?token|auth[-_]?token|refresh[-_]?token|id[-_]?token|
    client[-_]?secret|secret|password|passwd|token|key|signature|sig|authorization)
    ["']?\s*[:=]\s*["']?)([^\s"'&,;)}\]]+)""",
    re.IGNORECASE | re.VERBOSE,
)
# A long run of base64 / hex characters holding both letters and digits: a key, a token, a hash.
_LONG_RUN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")


def redact(text: str | None, secrets: Iterable[str | None] = (), limit: int = LIMIT) -> str:
    """`text` on one line, at most `limit` characters, with the given secrets and anything that
    looks like a credential replaced by "[redacted]"."""
    cleaned = " ".join(str(text or "").split())
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        cleaned = cleaned.replace(secret, REDACTED)
    cleaned = _SCHEMES.sub(lambda match: f"{match.group(1)} {REDACTED}", cleaned)
    cleaned = _NAMED.sub(lambda match: match.group(1) + REDACTED, cleaned)
    cleaned = _LONG_RUN.sub(_long_run, cleaned)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def _long_run(match: re.Match[str]) -> str:
    run = match.group(0)
    has_letter = any(ch.isalpha() for ch in run)
    has_digit = any(ch.isdigit() for ch in run)
    return REDACTED if has_letter and has_digit else run
