"""The Receive URL: every provider posts its webhooks for an account here.

Order of work: size and token (the account from this process's cache, api.webhooks.accounts),
content type, signature, parse, then one transaction that stores statuses and messages
idempotently and wakes the inbound relay. The answer is 200 once it
commits: the message is then acknowledged for good, and the relay (relay.inbound, in every
worker) hands it to its workflow, whether or not Temporal is up at this instant.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import ServicesDep
from api.errors import AppError, forbidden
from api.webhooks.accounts import WebhookAccount
from api.webhooks.service import apply_statuses, record_nonce, record_rejected, store_inbound
from domain import metrics
from providers import PROVIDERS
from providers.base import Parsed, WebhookRejected, WebhookRequest

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/whatsapp/accounts", tags=["receive url"])

Token = Annotated[str, Query(max_length=200, description="the account's proxy token")]


def _wrong_token() -> AppError:
    return forbidden("unknown account or wrong token")


async def _account(services: ServicesDep, account_id: int, token: str) -> WebhookAccount:
    account = await services.webhook_accounts.get(account_id)
    if account is None or not account.accepts(token):
        raise _wrong_token()
    return account


@router.get("/{account_id}/notify", response_class=PlainTextResponse)
async def verify_subscription(
    account_id: int,
    services: ServicesDep,
    token: Token = "",
    mode: Annotated[str, Query(alias="hub.mode")] = "",
    verify_token: Annotated[str, Query(alias="hub.verify_token", max_length=200)] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)] = "",
) -> PlainTextResponse:
    """Meta's subscription handshake: the verify token is the account's proxy token."""
    account = await _account(services, account_id, token or verify_token)
    if mode != "subscribe" or not account.accepts(verify_token):
        raise _wrong_token()
    return PlainTextResponse(challenge)


def _verified(
    account: WebhookAccount, token: str, request: Request, body: bytes
) -> tuple[str | None, Parsed]:
    """Content type, signature and shape of the body, or the AppError that says which failed."""
    provider = PROVIDERS[account.type]
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in provider.content_types:
        expected = " or ".join(provider.content_types)
        raise AppError(415, "unsupported_media_type", f"{account.type} webhooks must be {expected}")
    webhook = WebhookRequest(
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
        content_type=content_type,
    )
    try:
        nonce = provider.verify(webhook, account.called_with(token), datetime.now(UTC))
        return nonce, provider.parse(webhook)
    except WebhookRejected as rejected:
        log.info("webhook for account %s rejected: %s", account.id, rejected.code)
        raise AppError(rejected.status_code, rejected.code, rejected.message, rejected.fields) from rejected


@router.post("/{account_id}/notify")
async def receive(account_id: int, request: Request, services: ServicesDep, token: Token = "") -> Response:
    arrived = time.perf_counter()
    limit = services.settings.webhook_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise _too_large(limit)
    body = await _read_limited(request, limit)  # before taking a connection: clients may be slow
    account = await _account(services, account_id, token)
    nonce, parsed = _verified(account, token, request, body)
    # What the webhook carries is stored in one transaction.
    async with services.sessionmaker() as session, session.begin():
        if nonce is not None and not await record_nonce(session, account.id, nonce):
            raise AppError(403, "replayed", "this signature nonce was used already")
        await apply_statuses(session, account.id, parsed.statuses)
        await record_rejected(session, account, parsed.rejected)
        for message in parsed.messages:
            await store_inbound(session, account, message)
    metrics.WEBHOOKS.labels(account.type.value).observe(time.perf_counter() - arrived)

    acknowledgement = PROVIDERS[account.type].acknowledgement
    if acknowledgement is not None:
        return Response(acknowledgement[0], media_type=acknowledgement[1])
    counts = {"messages": len(parsed.messages), "statuses": len(parsed.statuses)}
    if parsed.rejected:  # kept in rejected_webhook_items; answered 200 so the good part is not retried
        log.info("webhook for account %s: %d unreadable items kept", account.id, len(parsed.rejected))
        counts["rejected"] = len(parsed.rejected)
    return JSONResponse(counts)


async def _read_limited(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> AppError:
    return AppError(413, "too_large", f"webhook bodies are limited to {limit} bytes")
