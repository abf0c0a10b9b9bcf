"""Credentials never reach a log line: query-string secrets and capability paths are masked.

Providers can only authenticate to the Receive URL by `?token=` (and Meta's handshake by
`?hub.verify_token=`), and uvicorn's access log writes every path with its query string. The
filter masks the value of any query parameter whose name says it is a credential, and the
signature in a `/media/{message}/{signature}` link, in the message and in each argument, keeping
the arguments' shape (uvicorn's access formatter unpacks them).

`install_log_redaction()` puts one filter on the loggers that write URLs (uvicorn's, httpx's) and
on Shareline's own. A filter on a logger survives uvicorn's `dictConfig` (which replaces handlers,
not filters), so it holds whether the app is built before or after uvicorn sets up logging.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

MASK = "***"
# token, access_token, ticket, hub.verify_token (also URL-encoded), signature, X-Amz-Signature,
# sig, client_secret, password, api_key...
_SECRET_PARAM = re.compile(
    r"(?P<name>(?<=[?&;])[\w.%\-]*?(?:token|ticket|signature|sig|secret|password|api[_-]?key))="
    r"(?P<value>[^&#\s\"']*)",
    re.IGNORECASE,
)
_MEDIA_LINK = re.compile(r"(?P<path>/media/\d+/)[^/?#\s\"']+")
SHARELINE_LOGGERS = ("api", "activities", "relay", "providers", "integrations", "workflows", "shareline")
URL_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn.asgi", "httpx")


def redact(text: str) -> str:
    text = _SECRET_PARAM.sub(lambda match: f"{match['name']}={MASK}", text)
    return _MEDIA_LINK.sub(lambda match: f"{match['path']}{MASK}", text)


class RedactSecrets(logging.Filter):
    """Masks credentials in a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_argument(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_argument(value) for value in record.args)
        return True


def _redact_argument(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float | bytes):
        return value  # numbers stay numbers: `%d` formats them
    text = str(value)  # a URL object, an exception naming a URL
    masked = redact(text)
    return value if masked == text else masked


def install_log_redaction() -> RedactSecrets:
    """Idempotent: a logger gets the filter once however many apps are built in the process."""
    existing = logging.root.manager.loggerDict
    names = [*URL_LOGGERS, *SHARELINE_LOGGERS]
    # Module loggers (`api.webhooks.router`...) do not inherit their parents' filters.
    names += [name for name in existing if name.split(".", 1)[0] in SHARELINE_LOGGERS]
    installed = RedactSecrets()
    for name in dict.fromkeys(names):
        logger = logging.getLogger(name)
        if not any(isinstance(existing_filter, RedactSecrets) for existing_filter in logger.filters):
            logger.addFilter(installed)
    return installed
