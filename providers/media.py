"""Downloading inbound media without handing a provider's credentials, or our network, to whoever
wrote the webhook.

A media URL arrives in a webhook, and some webhooks are authenticated by the Receive URL's token
alone (Kaleyra, Sinch and Meta accounts without a secret). So a URL is fetched only from the
provider's own media hosts (each provider module declares them; its configured API bases count as
its own) or from a host the operator lists in SHARELINE_MEDIA_ALLOWED_HOSTS; never from a
loopback, private or link-local address unless the operator listed that host; redirects are
followed here, a few at most, each target checked again, and the credentials are dropped once the
origin changes; the body is read as a stream and abandoned past the size limit.

Every refusal is a permanent SendError (code `media_refused` or `media_too_large`): retrying a
forged URL would not make it less forged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from providers.base import SendError, check_response

MAX_REDIRECTS = 3
DEFAULT_PORTS = {"https": 443, "http": 80}
REFUSED = "media_refused"
TOO_LARGE = "media_too_large"


@dataclass(frozen=True)
class MediaHost:
    """A host media may come from: `name` exactly, or any subdomain of it when it starts with '.'.
    `port` None means the URL scheme's default port; `scheme` None means http or https."""

    name: str
    port: int | None = None
    scheme: str | None = "https"

    @classmethod
    def of_url(cls, url: str) -> MediaHost:
        """The origin of a configured API base (`https://api.twilio.com`, an account's base_url)."""
        parts = urlsplit(url)
        return cls((parts.hostname or "").lower(), parts.port, parts.scheme.lower())

    @classmethod
    def parse(cls, entry: str) -> MediaHost:
        """A SHARELINE_MEDIA_ALLOWED_HOSTS entry: `host` or `host:port` (`[::1]:8080` for IPv6)."""
        parts = urlsplit(f"//{entry.strip()}")
        if not parts.hostname or parts.path or parts.query or parts.username is not None:
            raise ValueError(f"{entry!r} is not a host or host:port")
        return cls(parts.hostname.lower(), parts.port, None)

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if self.scheme is not None and self.scheme != scheme:
            return False
        if port != (self.port or DEFAULT_PORTS[scheme]):
            return False
        return host == self.name or (self.name.startswith(".") and host.endswith(self.name))


@dataclass(frozen=True)
class MediaPolicy:
    """What every media download obeys: the size limit (SHARELINE_MEDIA_MAX_BYTES) and the hosts
    the operator allows for every provider (SHARELINE_MEDIA_ALLOWED_HOSTS: regional endpoints,
    fakes on loopback), whose addresses are then not checked."""

    max_bytes: int
    listed: tuple[MediaHost, ...] = ()


async def download(
    http: httpx.AsyncClient,
    policy: MediaPolicy,
    url: str,
    own_hosts: Iterable[MediaHost],
    *,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> tuple[bytes, str | None]:
    """GET `url` from one of `own_hosts` (or a listed host) with the credentials in `headers` and
    `auth`: the body and its content type. Raises SendError (see the module's docstring)."""
    own = tuple(own_hosts)
    sent_headers, sent_auth = dict(headers or {}), auth
    origin: tuple[str, str, int] | None = None
    for _ in range(MAX_REDIRECTS + 1):
        target = await _checked_origin(url, own, policy)
        if origin is not None and target != origin:  # another origin: the credentials stay behind
            sent_headers, sent_auth = {}, None
        origin = target
        try:
            async with http.stream(
                "GET", url, headers=sent_headers, auth=sent_auth, follow_redirects=False
            ) as response:
                if response.is_redirect and response.next_request is not None:
                    url = str(response.next_request.url)
                    continue
                check_response(response, None, response.reason_phrase)
                content = await _read_within(response, policy.max_bytes)
                return content, response.headers.get("content-type")
        except httpx.TransportError as exc:
            raise SendError(f"{type(exc).__name__} fetching the media", retryable=True) from exc
    raise SendError(f"the media URL redirects more than {MAX_REDIRECTS} times", retryable=False, code=REFUSED)


async def _read_within(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > max_bytes:
            raise _too_large(max_bytes)  # leaving the stream closes it: the rest is never read
    return bytes(content)


def _too_large(max_bytes: int) -> SendError:
    return SendError(f"the media is over the {max_bytes} byte limit", retryable=False, code=TOO_LARGE)


async def _checked_origin(url: str, own: tuple[MediaHost, ...], policy: MediaPolicy) -> tuple[str, str, int]:
    """The URL's (scheme, host, port) if media may be fetched from it, else SendError."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError as exc:
        raise _refused(f"the media URL is malformed ({exc})") from exc
    if scheme not in DEFAULT_PORTS or not host:
        raise _refused("the media URL is not an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise _refused("the media URL carries credentials of its own")
    port = port or DEFAULT_PORTS[scheme]
    if any(rule.matches(scheme, host, port) for rule in policy.listed):
        return scheme, host, port  # the operator vouches for it, private address or not
    if not any(rule.matches(scheme, host, port) for rule in own):
        raise _refused(f"{host}:{port} is not one of the provider's media hosts")
    for address in await _addresses(host, port):
        if not _public(address):
            raise _refused(f"{host} is a loopback, private or link-local address ({address})")
    return scheme, host, port


async def _addresses(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise SendError(f"the media host {host} does not resolve ({exc})", retryable=True) from exc
    return [str(info[4][0]) for info in found]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope id is no part of the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _refused(why: str) -> SendError:
    return SendError(f"media download refused: {why}", retryable=False, code=REFUSED)
