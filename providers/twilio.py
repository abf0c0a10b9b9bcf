"""Twilio Programmable Messaging (WhatsApp sender): form-encoded webhooks signed with HMAC-SHA1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

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
    media_type_for,
    request,
    response_json,
    same_signature,
    storable_text,
)
from providers.config import Credentials, Secret, Text
from providers.fields import error_code, identifier, malformed, mobile
from providers.media import MediaHost, MediaPolicy, download

if TYPE_CHECKING:
    from settings import Settings

# Where Twilio serves media: its API (…/Messages/MM…/Media/ME…, basic auth), which redirects to
# its CDN (the credentials stay behind), and SHARELINE_TWILIO_API_BASE.
MEDIA_HOSTS = (MediaHost("api.twilio.com"), MediaHost(".twiliocdn.com"))
FORM = "application/x-www-form-urlencoded"
STATUSES = {
    "sent": DeliveryStatus.sent,
    "delivered": DeliveryStatus.delivered,
    "read": DeliveryStatus.read,
    "failed": DeliveryStatus.failed,
    "undelivered": DeliveryStatus.failed,
}
# queued, sending, accepted, scheduled: nothing the agent needs to see yet.
PENDING_STATUSES = frozenset({"queued", "sending", "accepted", "scheduled", "canceled"})
DEFAULT_PORTS = {"https": 443, "http": 80}


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """base64(HMAC-SHA1(token, url + name+value of every parameter sorted by name, then value))."""
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL as configured, and with the default port added or removed (Twilio signs either)."""
    parts = urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is None and default:
        other = parts._replace(netloc=f"{host}:{default}")
    elif parts.port == default:
        other = parts._replace(netloc=host)
    else:
        return [url]
    return [url, urlunsplit(other)]


class TwilioCredentials(Credentials):
    account_sid: Text
    auth_token: Secret


class TwilioProvider(Provider):
    type = ProviderType.twilio
    credentials = TwilioCredentials
    content_types = frozenset({FORM})
    acknowledgement = ("<Response/>", "text/xml")  # empty TwiML: reply with nothing

    def api_base(self, settings: Settings) -> str:
        return settings.twilio_api_base.rstrip("/")

    def verify(self, request: WebhookRequest, account: ProviderAccount, now: datetime) -> str | None:
        given = request.headers.get("x-twilio-signature", "")
        params = _form(request)
        token = account.credentials["auth_token"]
        # Signed over the public Receive URL the provider called, not whatever URL a proxy forwarded.
        if not given or not any(
            same_signature(signature(token, url, params), given) for url in url_variants(account.receive_url)
        ):
            raise WebhookRejected(403, "bad_signature", "X-Twilio-Signature does not match")
        return None

    def parse(self, request: WebhookRequest) -> Parsed:
        fields = {storable_text(name): storable_text(value) for name, value in _form(request)}
        sid_field = "MessageSid" if fields.get("MessageSid") else "SmsSid"
        if not fields.get(sid_field):
            raise malformed("MessageSid", "is missing")
        sid = identifier(fields[sid_field], sid_field)
        status = fields.get("MessageStatus")
        if status is not None and status != "received":
            if status in PENDING_STATUSES:
                return Parsed()
            if status not in STATUSES:
                raise WebhookRejected(400, "malformed", f"unknown MessageStatus {status!r}")
            error = error_code(fields.get("ErrorCode"), "ErrorCode")
            return Parsed(
                statuses=[
                    StatusUpdate(
                        provider_message_id=sid,
                        status=STATUSES[status],
                        error_code=error,
                        error_text=fields.get("ErrorMessage") or (f"Twilio error {error}" if error else None),
                    )
                ]
            )
        sender_field = "WaId" if fields.get("WaId") else "From"
        if not fields.get(sender_field):
            raise malformed("From", "is missing")
        sender = mobile(fields[sender_field], sender_field)
        message_type, media = _content(fields)
        return Parsed(
            messages=[
                InboundMessage(
                    provider_message_id=sid,
                    mobile=sender,
                    profile_name=fields.get("ProfileName", ""),
                    type=message_type,
                    text=fields.get("Body") or fields.get("ButtonText") or "",
                    media=media,
                    payload=fields,
                )
            ]
        )

    async def send(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        message: OutboundMessage,
    ) -> SendResult:
        sid = account.credentials["account_sid"]
        form: dict[str, str] = {
            "From": f"whatsapp:+{account.phone}",
            "To": f"whatsapp:+{message.to}",
            "StatusCallback": account.receive_url,
        }
        if message.template is not None:
            form["ContentSid"] = message.template.name
            variables = {str(i): value for i, value in enumerate(message.template.parameters, start=1)}
            form["ContentVariables"] = json.dumps(variables)
        else:
            form["Body"] = message.text
            if message.media_url:
                form["MediaUrl"] = message.media_url
        response = await request(
            http,
            "POST",
            f"{api_base}/2010-04-01/Accounts/{sid}/Messages.json",
            data=form,
            auth=(sid, account.credentials["auth_token"]),
        )
        body = response_json(response)
        check_response(response, _str(body.get("code")), str(body.get("message") or response.reason_phrase))
        if not body.get("sid"):
            raise SendError("Twilio answered without a message sid", retryable=False)
        return SendResult(provider_message_id=str(body["sid"]))

    async def fetch_media(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        account: ProviderAccount,
        media: MediaRef,
        policy: MediaPolicy,
    ) -> tuple[bytes, str | None]:
        auth = (account.credentials["account_sid"], account.credentials["auth_token"])
        hosts = (*MEDIA_HOSTS, MediaHost.of_url(api_base))
        content, content_type = await download(http, policy, media.reference, hosts, auth=auth)
        return content, content_type or media.mime_type


def _form(request: WebhookRequest) -> list[tuple[str, str]]:
    """The form's fields, signed as sent; parse() stores them with NUL made storable."""
    try:
        return parse_qsl(request.body.decode(), keep_blank_values=True, strict_parsing=bool(request.body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, "malformed", "the body is not a valid form") from exc


def _num_media(fields: dict[str, str]) -> bool:
    """Whether NumMedia says the message carries media; it must be a whole number."""
    count = fields.get("NumMedia") or "0"
    if not (count.isascii() and count.isdigit()):
        raise malformed("NumMedia", "must be a whole number")
    return count.strip("0") != ""


def _content(fields: dict[str, str]) -> tuple[MessageType, MediaRef | None]:
    declared = (fields.get("MessageType") or "").lower()
    if _num_media(fields) and fields.get("MediaUrl0"):
        mime = fields.get("MediaContentType0")
        media_kinds = {"image", "video", "audio", "document", "sticker"}
        message_type = MessageType(declared) if declared in media_kinds else media_type_for(mime)
        return message_type, MediaRef(
            reference=fields["MediaUrl0"], mime_type=mime, caption=fields.get("Body") or None
        )
    if fields.get("Latitude") and fields.get("Longitude"):
        return MessageType.location, None
    if declared in {"text", ""}:
        return MessageType.text, None
    try:
        return MessageType(declared), None
    except ValueError:
        return MessageType.unsupported, None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
