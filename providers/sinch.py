"""Sinch Conversation API ("Sinch V2"): JSON callbacks, optional HMAC with nonce and timestamp,
OAuth2 client-credentials tokens cached until they expire."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from models import DeliveryStatus, MessageType, ProviderType
from providers.base import (
    InboundMessage,
    MediaRef,
    OutboundMessage,
    Parsed,
    Provider,
    ProviderAccount,
    SendError,
    SendResult,
    StatusUpdate,
    WebhookRejected,
    WebhookRequest,
    check_response,
    guess_mime,
    media_type_for,
    request,
    response_json,
    same_signature,
)
from providers.config import BaseUrl, Credentials, Secret, Text
from providers.fields import (
    error_code,
    from_iso,
    identifier,
    malformed,
    mobile,
    obj,
    optional_object,
    optional_string,
)
from providers.media import MediaHost, MediaPolicy, download

if TYPE_CHECKING:
    from settings import Settings

# Where Sinch serves inbound media: the Conversation API's storage under sinch.com (the exact
# host is UNCONFIRMED in Sinch's docs), and the account's base_url. No credentials are sent.
MEDIA_HOSTS = (MediaHost(".sinch.com"),)
SIGNATURE_WINDOW_SECONDS = 300
MAX_TIMESTAMP_DIGITS = 12  # unix seconds until the year 33658: more digits are outside any window
MAX_NONCE_LENGTH = 200  # what webhook_nonces holds
TOKEN_EARLY_REFRESH_SECONDS = 60
STATUSES = {
    "QUEUED_ON_CHANNEL": DeliveryStatus.sent,
    "DELIVERED": DeliveryStatus.delivered,
    "READ": DeliveryStatus.read,
    "FAILED": DeliveryStatus.failed,
}


def signature(secret: str, body: bytes, nonce: str, timestamp: str) -> str:
    signed = body + b"." + nonce.encode() + b"." + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


class SinchCredentials(Credentials):
    base_url: BaseUrl
    project_id: Text
    app_id: Text
    key_id: Text
    key_secret: Secret
    webhook_secret: Secret | None = None


class SinchProvider(Provider):
    type = ProviderType.sinch_v2
    credentials = SinchCredentials
    secret_destinations = {"base_url": frozenset({"key_secret"})}  # the tokens it buys go there
    templates = False

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (auth base, key id) → (token, expiry)
        self._token_lock = asyncio.Lock()

    def api_base(self, settings: Settings) -> str:
        return settings.sinch_auth_base.rstrip("/")  # its OAuth server; the API's address is a credential

    def verify(self, request: WebhookRequest, account: ProviderAccount, now: datetime) -> str | None:
        secret = account.credentials.get("webhook_secret")
        if not secret:
            return None  # no webhook secret configured: the Receive URL's token is the guard
        given = request.headers.get("x-sinch-webhook-signature", "")
        nonce = request.headers.get("x-sinch-webhook-signature-nonce", "")
        timestamp = request.headers.get("x-sinch-webhook-signature-timestamp", "")
        if not (given and nonce and timestamp.isascii() and timestamp.isdigit()):
            raise WebhookRejected(403, "bad_signature", "the x-sinch-webhook-signature headers are missing")
        if len(nonce) > MAX_NONCE_LENGTH:
            raise WebhookRejected(403, "bad_signature", "x-sinch-webhook-signature-nonce is too long")
        if (
            len(timestamp) > MAX_TIMESTAMP_DIGITS
            or abs(now.timestamp() - int(timestamp)) > SIGNATURE_WINDOW_SECONDS
        ):
            raise WebhookRejected(
                403, "stale_signature", "the signature timestamp is outside the 5-minute window"
            )
        if not same_signature(signature(secret, request.body, nonce, timestamp), given):
            raise WebhookRejected(403, "bad_signature", "x-sinch-webhook-signature does not match")
        return nonce

    def parse(self, request: WebhookRequest) -> Parsed:
        body = request.json()
        if not isinstance(body, dict):
            raise malformed("body", "must be a JSON object")
        if isinstance(message := body.get("message"), dict):
            if message.get("direction") != "TO_APP":
                return Parsed()
            return Parsed(messages=[_inbound(message)])
        if isinstance(report := body.get("message_delivery_report"), dict):
            update = _status(report)
            return Parsed(statuses=[update] if update else [])
        return Parsed()  # other Conversation API events: acknowledged, nothing to store

    async def send(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        message: OutboundMessage,
    ) -> SendResult:
        if message.template is not None:
            raise SendError("Sinch V2 accounts carry no templates", retryable=False, code="no_templates")
        content: dict[str, Any] = (
            {"media_message": {"url": message.media_url}}
            if message.media_url
            else {"text_message": {"text": message.text}}
        )
        payload = {
            "app_id": account.credentials["app_id"],
            "recipient": {
                "identified_by": {
                    "channel_identities": [{"channel": "WHATSAPP", "identity": f"+{message.to}"}]
                }
            },
            "message": content,
        }
        url = (
            f"{account.credentials['base_url']}/v1/projects/{account.credentials['project_id']}/messages:send"
        )
        response = None
        for refresh in (False, True):  # a 401 means the cached token was revoked: fetch one and retry once
            token = await self._token(http, api_base, account, refresh=refresh)
            response = await request(
                http, "POST", url, json=payload, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 401:
                break
        assert response is not None
        body = response_json(response)
        error = obj(body, "error")
        code = error.get("status") or (str(error["code"]) if error.get("code") is not None else None)
        check_response(response, code, str(error.get("message") or response.reason_phrase))
        if not body.get("message_id"):
            raise SendError("Sinch answered without a message_id", retryable=False)
        return SendResult(provider_message_id=str(body["message_id"]))

    async def fetch_media(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        media: MediaRef,
        policy: MediaPolicy,
    ) -> tuple[bytes, str | None]:
        hosts = (*MEDIA_HOSTS, MediaHost.of_url(account.credentials["base_url"]))
        content, content_type = await download(http, policy, media.reference, hosts)
        return content, content_type or media.mime_type

    async def _token(
        self, http: httpx.AsyncClient, auth_base: str, account: ProviderAccount, *, refresh: bool
    ) -> str:
        key = (auth_base, account.credentials["key_id"])
        async with self._token_lock:
            cached = self._tokens.get(key)
            if cached and not refresh and cached[1] > time.monotonic():
                return cached[0]
            response = await request(
                http,
                "POST",
                f"{auth_base}/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(account.credentials["key_id"], account.credentials["key_secret"]),
            )
            body = response_json(response)
            check_response(
                response, "oauth", str(body.get("error_description") or body.get("error") or "token refused")
            )
            if not body.get("access_token"):
                raise SendError("Sinch gave no access_token", retryable=False, code="oauth")
            lifetime = float(body.get("expires_in") or 3600)
            expiry = time.monotonic() + max(0.0, lifetime - TOKEN_EARLY_REFRESH_SECONDS)
            self._tokens[key] = (str(body["access_token"]), expiry)
            return str(body["access_token"])


def _inbound(message: dict[str, Any]) -> InboundMessage:
    identity = optional_object(message, "channel_identity", "message").get("identity")
    contact_message = message.get("contact_message")
    if not message.get("id") or not identity or not isinstance(contact_message, dict):
        missing = next(
            name
            for name, present in (
                ("message.id", message.get("id")),
                ("message.channel_identity.identity", identity),
                ("message.contact_message", isinstance(contact_message, dict)),
            )
            if not present
        )
        raise malformed(missing, "is missing (an object with id, channel_identity and contact_message)")
    message_id = identifier(message["id"], "message.id")
    sender = mobile(identity, "message.channel_identity.identity")
    text, media, message_type = "", None, MessageType.unsupported
    if isinstance(content := contact_message.get("text_message"), dict):
        message_type, text = MessageType.text, str(content.get("text") or "")
    elif isinstance(content := contact_message.get("media_message"), dict) and content.get("url"):
        url = str(content["url"])
        mime = guess_mime(url)
        message_type = media_type_for(mime)
        filename = optional_string(content, "filename_override", "message.contact_message.media_message")
        media = MediaRef(reference=url, mime_type=mime, filename=filename)
    elif isinstance(content := contact_message.get("location_message"), dict):
        message_type = MessageType.location
        text = str(content.get("title") or content.get("label") or "")
    elif isinstance(content := contact_message.get("choice_response_message"), dict):
        message_type, text = MessageType.interactive, str(content.get("postback_data") or "")
    return InboundMessage(
        provider_message_id=message_id,
        mobile=sender,
        profile_name=str(message.get("contact_name") or ""),
        type=message_type,
        text=text,
        media=media,
        payload=message,
        sent_at=from_iso(message.get("accept_time")),
    )


def _status(report: dict[str, Any]) -> StatusUpdate | None:
    where = "message_delivery_report"
    if not report.get("message_id"):
        raise malformed(f"{where}.message_id", "is missing")
    message_id = identifier(report["message_id"], f"{where}.message_id")
    status = STATUSES.get(str(report.get("status")))
    if status is None:
        return None  # SWITCHING_CHANNEL and the like
    reason = optional_object(report, "reason", where)
    return StatusUpdate(
        provider_message_id=message_id,
        status=status,
        error_code=error_code(reason.get("code"), f"{where}.reason.code"),
        error_text=optional_string(reason, "description", f"{where}.reason"),
    )
