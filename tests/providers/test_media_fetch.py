"""Inbound media is fetched only from the provider's own hosts: a forged or redirected media URL
never receives the provider's credentials, our network's private addresses are out of reach, and
a body over the limit is abandoned while it streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from models import ProviderType
from providers import PROVIDERS
from providers.base import MediaRef, ProviderAccount, SendError
from providers.media import MediaHost, MediaPolicy
from settings import Settings
from tests.fakes.providers import MEDIA_BYTES, Bystander, FakeProviders, LoopbackServer
from tests.webhooks import kaleyra_callback, make_account, post_kaleyra
from tests.workflows.test_media import settled_media


def host_of(base_url: str) -> str:
    return base_url.removeprefix("http://")


@pytest.fixture
def settings(settings: Settings, fakes: FakeProviders) -> Settings:
    """The fakes' host listed, as tests/conftest.py's `settings` should list it for every test."""
    return settings.model_copy(update={"media_allowed_hosts": (host_of(fakes.base_url),)})


@pytest.fixture
async def bystander() -> AsyncIterator[Bystander]:
    """A loopback server no provider owns and no setting lists: the attacker's, or an internal one."""
    server = Bystander()
    async with LoopbackServer(server.app()) as base_url:
        server.base_url = base_url
        yield server


def account(provider: ProviderType, base_url: str, fakes: FakeProviders) -> ProviderAccount:
    credentials = {
        ProviderType.twilio: {"account_sid": fakes.twilio_sid, "auth_token": fakes.twilio_token},
        ProviderType.sinch_v2: {"base_url": f"{base_url}/sinch", "key_id": "k", "key_secret": "s"},
        ProviderType.kaleyra: {"base_url": f"{base_url}/kaleyra", "api_key": fakes.kaleyra_key},
    }[provider]
    return ProviderAccount(1, provider, "14155238886", "https://x.test/notify", "token", credentials)


async def fetch(
    http: httpx.AsyncClient,
    fakes: FakeProviders,
    provider: ProviderType,
    url: str,
    policy: MediaPolicy,
    base_url: str | None = None,
) -> tuple[bytes, str | None]:
    return await PROVIDERS[provider].fetch_media(
        http,
        {
            ProviderType.twilio: f"{fakes.base_url}/twilio",
            ProviderType.sinch_v2: f"{fakes.base_url}/sinch-auth",
        }.get(provider, ""),
        account(provider, base_url or fakes.base_url, fakes),
        MediaRef(url),
        policy,
    )


def carries_credentials(headers: dict[str, str], fakes: FakeProviders) -> bool:
    return "api-key" in headers or "authorization" in headers or fakes.kaleyra_key in str(headers)


# Through the webhook and the worker ---------------------------------------------------------------


async def test_a_kaleyra_media_url_on_a_foreign_host_gets_no_request_and_fails_for_good(
    api, client, admin, fakes, worker, bystander
):
    kaleyra = await make_account(api, admin, fakes, "kaleyra")
    forged = kaleyra_callback("", type="image", media_url=f"{bystander.base_url}/steal.png")
    assert (await post_kaleyra(client, kaleyra, forged)).status_code == 200
    _, message = await settled_media(client, admin)
    assert message["media"]["status"] == "failed"
    assert "not one of the provider's media hosts" in message["media"]["error"]
    assert bystander.requests == []
    assert not any(fakes.kaleyra_key in str(recorded.headers) for recorded in fakes.requests)


async def test_a_redirect_from_a_kaleyra_host_to_a_foreign_one_is_not_followed(
    api, client, admin, fakes, worker, bystander
):
    kaleyra = await make_account(api, admin, fakes, "kaleyra")
    url = f"{fakes.base_url}/redirect/photo.png?to={bystander.base_url}/steal.png"
    assert (
        await post_kaleyra(client, kaleyra, kaleyra_callback("", type="image", media_url=url))
    ).status_code == 200
    _, message = await settled_media(client, admin)
    assert message["media"]["status"] == "failed"
    assert "not one of the provider's media hosts" in message["media"]["error"]
    assert len(fakes.of("redirect")) == 1  # refused for good: not retried
    assert bystander.requests == []


# The download itself ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", [ProviderType.kaleyra, ProviderType.sinch_v2, ProviderType.twilio])
async def test_a_foreign_host_is_refused_before_any_request(fakes, bystander, provider):
    policy = MediaPolicy(max_bytes=1024, listed=(MediaHost.parse(host_of(fakes.base_url)),))
    async with httpx.AsyncClient() as http:
        with pytest.raises(SendError) as refused:
            await fetch(http, fakes, provider, f"{bystander.base_url}/internal/admin", policy)
    assert (refused.value.retryable, refused.value.code) == (False, "media_refused")
    assert bystander.requests == []


@pytest.mark.parametrize(
    ("provider", "route"), [(ProviderType.kaleyra, "redirect"), (ProviderType.twilio, "redirect")]
)
async def test_credentials_stay_behind_when_a_redirect_changes_host(fakes, bystander, provider, route):
    """Both hosts allowed (a provider's API redirecting to its CDN): the bytes arrive, the key does not."""
    listed = (MediaHost.parse(host_of(fakes.base_url)), MediaHost.parse(host_of(bystander.base_url)))
    url = f"{fakes.base_url}/{route}/photo.png?to={bystander.base_url}/cdn/photo.png"
    async with httpx.AsyncClient() as http:
        content, content_type = await fetch(http, fakes, provider, url, MediaPolicy(1024, listed))
    assert (content, content_type) == (MEDIA_BYTES, "image/png")
    (first,) = fakes.of(route)
    assert carries_credentials(first.headers, fakes)  # the provider's own host gets them
    (followed,) = bystander.requests
    assert followed.path == "/cdn/photo.png"
    assert not carries_credentials(followed.headers, fakes)


async def test_redirects_are_followed_a_few_times_only(fakes):
    listed = (MediaHost.parse(host_of(fakes.base_url)),)
    url = f"{fakes.base_url}/media/end.png"
    for hop in range(4):
        url = f"{fakes.base_url}/redirect/{hop}?to={httpx.URL(url)}"
    async with httpx.AsyncClient() as http:
        with pytest.raises(SendError) as refused:
            await fetch(http, fakes, ProviderType.sinch_v2, url, MediaPolicy(1024, listed))
    assert "redirects more than 3 times" in refused.value.text
    assert fakes.of("media") == []


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"{request.url} was requested")


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:8080",
        "http://localhost:8080",  # resolved: every address it has is checked
        "http://10.1.2.3",
        "http://192.168.0.10",
        "http://169.254.169.254",  # the cloud metadata service
        "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]",
        "http://[fd00::1]",
        "http://0.0.0.0",
    ],
)
async def test_loopback_private_and_link_local_targets_are_refused_even_on_the_providers_host(fakes, origin):
    """The account's base_url is the provider's own host, yet an internal address is refused."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(never_called)) as http:
        with pytest.raises(SendError) as refused:
            await fetch(
                http, fakes, ProviderType.kaleyra, f"{origin}/kaleyra-media/x.png", MediaPolicy(1024), origin
            )
    assert (refused.value.retryable, refused.value.code) == (False, "media_refused")
    assert "loopback, private or link-local" in refused.value.text


async def test_a_public_address_of_the_providers_host_is_fetched(fakes):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=MEDIA_BYTES, headers={"content-type": "image/png"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        content, _ = await fetch(
            http,
            fakes,
            ProviderType.kaleyra,
            "https://93.184.216.34/m.png",
            MediaPolicy(1024),
            "https://93.184.216.34",
        )
    assert content == MEDIA_BYTES
    assert seen[0].headers["api-key"] == fakes.kaleyra_key


async def test_an_endless_body_is_cut_off_while_streaming(fakes):
    policy = MediaPolicy(max_bytes=1024 * 1024, listed=(MediaHost.parse(host_of(fakes.base_url)),))
    async with httpx.AsyncClient() as http, asyncio.timeout(10):
        with pytest.raises(SendError) as refused:
            await fetch(http, fakes, ProviderType.sinch_v2, f"{fakes.base_url}/endless/v.mp4", policy)
    assert (refused.value.retryable, refused.value.code) == (False, "media_too_large")
    assert "1048576 byte limit" in refused.value.text


async def test_a_declared_length_over_the_limit_is_refused_unread(fakes):
    def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": str(10**12)}, content=b"")

    async with httpx.AsyncClient(transport=httpx.MockTransport(huge)) as http:
        with pytest.raises(SendError) as refused:
            await fetch(
                http,
                fakes,
                ProviderType.kaleyra,
                "https://93.184.216.34/m.png",
                MediaPolicy(1024),
                "https://93.184.216.34",
            )
    assert refused.value.code == "media_too_large"


@pytest.mark.parametrize(
    ("entry", "url", "allowed"),
    [
        ("media.example.com", "https://media.example.com/x", True),
        ("media.example.com", "https://media.example.com:8443/x", False),
        ("media.example.com:8443", "https://media.example.com:8443/x", True),
        ("[::1]:9000", "http://[::1]:9000/x", True),
    ],
)
def test_listed_hosts_match_host_and_port(entry: str, url: str, allowed: Any):
    parts = httpx.URL(url)
    assert MediaHost.parse(entry).matches(parts.scheme, parts.host, parts.port or 443) is allowed


def test_the_setting_is_comma_separated_and_checked(tmp_path):
    settings = Settings(data_dir=tmp_path, media_allowed_hosts=" Media.Example.com, 127.0.0.1:8080 ,")
    assert settings.media_allowed_hosts == ("media.example.com", "127.0.0.1:8080")
    assert Settings(data_dir=tmp_path).media_allowed_hosts == ()
    with pytest.raises(ValueError, match="MEDIA_ALLOWED_HOSTS"):
        Settings(data_dir=tmp_path, media_allowed_hosts="https://evil.test/path")
