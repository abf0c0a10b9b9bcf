"""The Receive URL: every provider posts its webhooks for an account here.

Order of work: size and token, content type, signature, parse, then one transaction that stores
statuses and messages idempotently and wakes the inbound relay. The answer is 200 once it
commits: the message is then acknowledged for good, and the relay (relay.inbound, in every
worker) hands it to its workflow, whether or not Temporal is up at this instant.
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ServicesDep
from api.errors import AppError, forbidden
from api.webhooks.service import apply_statuses, record_nonce, record_rejected, store_inbound
from domain import metrics
from models import Account
from models.events import notify_relay
from providers import PROVIDERS
from providers.accounts import provider_account
from providers.base import Parsed, WebhookRejected, WebhookRequest

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/whatsapp/accounts", tags=["receive url"])

Token = Annotated[str, Query(max_length=200, description="the account's proxy token")]


def _wrong_token() -> AppError:
    return forbidden("unknown account or wrong token")


async def _account(session: AsyncSession, account_id: int, token: str) -> Account:
    account = await session.get(Account, account_id)
    if account is None or not _accepts(account, token):
        raise _wrong_token()
    return account


def _accepts(account: Account, token: str) -> bool:
    """The current proxy token, or the one it replaced while the rotation's overlap lasts; both
    are compared in constant time, whichever matches."""
    current = hmac.compare_digest(token.encode(), account.proxy_token.encode())
    previous = account.previous_proxy_token or ""
    overlapping = (
        account.previous_proxy_token_expires_at is not None
        and account.previous_proxy_token_expires_at > datetime.now(UTC)
    )
    matches_previous = hmac.compare_digest(token.encode(), previous.encode()) and bool(previous)
    return current or (matches_previous and overlapping)


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
    async with services.sessionmaker() as session:
        account = await _account(session, account_id, token or verify_token)
    if mode != "subscribe" or not _accepts(account, verify_token):
        raise _wrong_token()
    return PlainTextResponse(challenge)


def _verified(
    account: Account, token: str, request: Request, body: bytes, services: ServicesDep
) -> tuple[str | None, Parsed]:
    """Content type, signature and shape of the body, or the AppError that says which failed.
    A signature over the URL (Twilio's) is checked against the URL called, with the token used:
    during a rotation's overlap that may be the previous one."""
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
        called = replace(
            provider_account(account, services.secrets),
            receive_url=account.receive_url_with(token),
            proxy_token=token,
        )
        nonce = provider.verify(webhook, called, datetime.now(UTC))
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
    # One connection for the whole webhook: authenticate, verify, store, in one transaction.
    async with services.sessionmaker() as session, session.begin():
        account = await _account(session, account_id, token)
        nonce, parsed = _verified(account, token, request, body, services)
        if nonce is not None and not await record_nonce(session, account.id, nonce):
            raise AppError(403, "replayed", "this signature nonce was used already")
        await apply_statuses(session, account.id, parsed.statuses)
        await record_rejected(session, account, parsed.rejected)
        stored = [await store_inbound(session, account, message) for message in parsed.messages]
        if any(stored):
            await notify_relay(session)
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
