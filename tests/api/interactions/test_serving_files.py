"""Files Shareline serves: inbound media to the desk (a download unless its bytes are an image),
and uploaded media to providers (a signed link that expires)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from api.interactions.uploads import media_link
from tests.helpers import db, scalar
from tests.support.conversations import owned
from tests.webhooks import make_account, post_twilio, twilio_message

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
HTML = b"<html><script>fetch('/api/users').then(r => r.text()).then(steal)</script></html>"


async def stored_inbound_media(api, client, admin, fakes, settings, content: bytes, claimed: str) -> str:
    """An inbound media message whose download stored `content`, typed as the provider said."""
    account = await make_account(api, admin, fakes, "twilio")
    params = twilio_message(
        "MM1", "", NumMedia="1", MessageType="image", MediaUrl0=f"{fakes.base_url}/twilio/media/ME1",
        MediaContentType0=claimed,
    )  # fmt: skip
    assert (await post_twilio(client, account, params)).status_code == 200
    (interaction,) = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"]
    message_id = scalar(settings, "SELECT id FROM messages WHERE interaction_id = %s", interaction["id"])
    path = settings.media_dir / str(account["id"]) / f"{message_id}-stored.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    stored = {"path": f"{account['id']}/{path.name}", "content_type": claimed, "status": "stored"}
    with db(settings) as conn:
        conn.execute(
            "UPDATE messages SET media = media || %s::jsonb WHERE id = %s", (json.dumps(stored), message_id)
        )
    return f"/api/whatsapp/interactions/{interaction['id']}/messages/{message_id}/media"


@pytest.mark.parametrize(
    ("content", "claimed", "served_as", "disposition"),
    [
        (HTML, "image/png", "image/png", "attachment"),  # claims an image, is a page
        (HTML, "text/html", "text/html; charset=utf-8", "attachment"),
        (b"%PDF-1.7 minutes", "application/pdf", "application/pdf", "attachment"),
        (PNG, "text/html", "image/png", "inline"),  # an image, whatever it claims
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg", "image/jpeg", "inline"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif", "image/gif", "inline"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp", "image/webp", "inline"),
    ],
)
async def test_inbound_media_is_a_download_unless_its_bytes_are_an_image(
    api, client, admin, fakes, settings, content, claimed, served_as, disposition
):
    path = await stored_inbound_media(api, client, admin, fakes, settings, content, claimed)
    served = await client.get(path, headers=admin)
    assert (served.status_code, served.content) == (200, content)
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-type"] == served_as
    assert served.headers["content-disposition"].split(";")[0] == disposition


def old_style_link(settings, message_id: int) -> str:
    """A link as Shareline signed them before links expired: `/media/{id}/{signature}`."""
    secret = settings.secret_key.get_secret_value().encode()
    key = hashlib.sha256(b"shareline outbound media links\0" + secret).digest()
    return f"/media/{message_id}/{hmac.new(key, str(message_id).encode(), hashlib.sha256).hexdigest()[:32]}"


async def test_upload_links_expire_and_links_that_never_did_are_refused(
    api, client, admin, fakes, worker, temporal_env, settings
):
    floor = await owned(api, client, admin, fakes, temporal_env)
    response = await client.post(
        f"{floor.path}/messages/upload",
        files={"file": ("menu.pdf", b"%PDF-1.7 a small menu", "application/pdf")},
        headers=floor.ann.headers,
    )
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]
    url = response.json()["media"]["url"]
    _, media, linked_id, expires, _signature = url.removeprefix(floor.account["motion_domain"]).split("/")
    assert (media, int(linked_id)) == ("media", message_id)
    assert abs(int(expires) - (time.time() + 24 * 3600)) < 60  # a day for providers to fetch it
    assert (await client.get(f"/media/{message_id}/{expires}/{_signature}")).status_code == 200

    later = int(expires) + 3600  # the expiry is signed: moving it breaks the signature
    assert (await client.get(f"/media/{message_id}/{later}/{_signature}")).status_code == 404
    expired = await client.get(media_link(settings, message_id, int(time.time()) - 1))
    assert (expired.status_code, expired.json()["error"]["code"]) == (410, "link_expired")
    assert (await client.get(old_style_link(settings, message_id))).status_code == 404
