"""No credential that travels in a URL reaches a log line: uvicorn's access log, Shareline's own."""

from __future__ import annotations

import logging

import httpx
from uvicorn.logging import AccessFormatter

from api.app import create_app
from api.logs import RedactSecrets, redact
from tests.fakes.providers import LoopbackServer

SECRETS = ("s3cret-token", "jwt.eyJhbGciOi", "t1cket", "v3rify", "c4llback-sig", "hm4c")
QUERY = (
    "?token=s3cret-token&access_token=jwt.eyJhbGciOi&ticket=t1cket&hub.mode=subscribe"
    "&hub.verify_token=v3rify&hub.challenge=42&X-Amz-Signature=c4llback-sig"
)


def access_record(path: str) -> logging.LogRecord:
    """A record shaped as uvicorn's httptools/h11 protocols log one."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.7:51234", "POST", path, "1.1", 200),
        None,
    )


def test_the_filter_masks_query_credentials_and_keeps_the_record_shape():
    record = access_record(f"/api/whatsapp/accounts/7/notify{QUERY}")
    assert RedactSecrets().filter(record) is True
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s", use_colors=False).format(
        record
    )
    assert not any(secret in line for secret in SECRETS), line
    assert "token=***" in line and "hub.verify_token=***" in line and "ticket=***" in line
    assert "hub.mode=subscribe" in line and "hub.challenge=42" in line  # the rest stays readable
    assert line.startswith("10.0.0.7:51234 POST /api/whatsapp/accounts/7/notify?") and line.endswith(
        " HTTP/1.1 200 OK"
    )


def test_media_capability_links_and_encoded_names_are_masked():
    assert redact("GET /media/12/hm4c-signature?download=1") == "GET /media/12/***?download=1"
    assert redact("/x?hub%2Everify_token=v3rify&page=2") == "/x?hub%2Everify_token=***&page=2"
    record = logging.LogRecord(
        "api.x", logging.WARNING, __file__, 0, "%s failed", (httpx.URL(f"/y{QUERY}"),), None
    )
    RedactSecrets().filter(record)
    assert not any(secret in record.getMessage() for secret in SECRETS)


def test_create_app_installs_the_filter(settings):
    create_app(settings)
    for name in ("uvicorn.access", "uvicorn.error", "api.webhooks.router", "relay.inbound"):
        assert any(isinstance(f, RedactSecrets) for f in logging.getLogger(name).filters), name
    create_app(settings)  # once per logger, however many apps
    assert sum(isinstance(f, RedactSecrets) for f in logging.getLogger("uvicorn.access").filters) == 1


async def test_a_served_request_is_logged_without_its_credentials(app, caplog):
    server = LoopbackServer(app)  # uvicorn configures its logging here, after create_app ran
    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.setLevel(logging.INFO)
    access.addHandler(caplog.handler)
    try:
        async with server as base_url, httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.get(f"/healthz{QUERY}")).status_code == 200
            await http.get(f"/api/whatsapp/accounts/1/notify{QUERY}")
    finally:
        access.removeHandler(caplog.handler)
        access.setLevel(level)
    lines = [record.getMessage() for record in caplog.records if record.name == "uvicorn.access"]
    assert len(lines) == 2, lines
    assert all("token=***" in line for line in lines)
    assert not any(secret in caplog.text for secret in SECRETS), caplog.text
