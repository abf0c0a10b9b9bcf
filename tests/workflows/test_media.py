"""Inbound media: the interaction workflow fetches it into the media store with retries; a
download that cannot succeed is recorded on the message, which is never lost."""

from __future__ import annotations

from tests.fakes.providers import MEDIA_BYTES
from tests.helpers import wait_for
from tests.webhooks import (
    kaleyra_callback,
    make_account,
    meta_envelope,
    post_kaleyra,
    post_meta,
    post_twilio,
    twilio_message,
)


async def media_of(client, admin):
    interaction = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"][0]
    messages = (
        await client.get(f"/api/whatsapp/interactions/{interaction['id']}/messages", headers=admin)
    ).json()["rows"]
    return interaction, messages[0]


async def settled_media(client, admin):
    async def done():
        interaction, message = await media_of(client, admin)
        return (interaction, message) if message["media"]["status"] in {"stored", "failed"} else None

    return await wait_for(done, seconds=20)


async def test_twilio_media_is_fetched_with_basic_auth_and_served(
    api, client, admin, fakes, worker, settings
):
    account = await make_account(api, admin, fakes, "twilio")
    url = f"{fakes.base_url}/twilio/media/ME123"
    params = twilio_message(
        "MM1", "", NumMedia="1", MessageType="image", MediaUrl0=url, MediaContentType0="image/png"
    )
    assert (await post_twilio(client, account, params)).status_code == 200
    interaction, message = await settled_media(client, admin)
    assert message["type"] == "image"
    assert message["media"]["status"] == "stored"
    assert message["media"]["size"] == len(MEDIA_BYTES)
    assert (settings.media_dir / message["media"]["path"]).read_bytes() == MEDIA_BYTES
    assert fakes.of("twilio.media")[0].headers["authorization"].startswith("Basic ")
    served = await client.get(
        f"/api/whatsapp/interactions/{interaction['id']}/messages/{message['id']}/media", headers=admin
    )
    assert (served.status_code, served.content, served.headers["content-type"]) == (
        200,
        MEDIA_BYTES,
        "image/png",
    )
    assert (
        await client.get(f"/api/whatsapp/interactions/{interaction['id']}/messages/{message['id']}/media")
    ).status_code == 401


async def test_meta_media_is_looked_up_by_id_then_downloaded(api, client, admin, fakes, worker):
    account = await make_account(api, admin, fakes, "meta")
    image = {"from": "16505551234", "id": "wamid.IMG", "timestamp": "1732442400", "type": "image",
             "image": {"caption": "receipt", "mime_type": "image/png", "sha256": "x", "id": "1037543291543636"}}  # fmt: skip
    assert (await post_meta(client, account, meta_envelope([image]))).status_code == 200
    _, message = await settled_media(client, admin)
    assert (message["media"]["status"], message["text"]) == ("stored", "receipt")
    assert fakes.of("meta.media_info")[0].path == "/graph/1037543291543636"
    assert fakes.of("meta.media_bytes")[0].headers["authorization"] == "Bearer meta-access-token"


async def test_a_transient_failure_is_retried(api, client, admin, fakes, worker):
    account = await make_account(api, admin, fakes, "kaleyra")
    fakes.fail_next["media"].append((503, {"message": "busy"}, {}))
    body = kaleyra_callback(
        "", type="image", media_url=f"{fakes.base_url}/media/photo.png", mime_type="image/png"
    )
    assert (await post_kaleyra(client, account, body)).status_code == 200
    _, message = await settled_media(client, admin)
    assert message["media"]["status"] == "stored"
    assert len(fakes.of("media")) == 2


async def test_a_permanent_failure_is_recorded_and_the_message_kept(api, client, admin, fakes, worker):
    account = await make_account(api, admin, fakes, "kaleyra")
    fakes.fail_next["media"].append((404, {"message": "gone"}, {}))
    body = kaleyra_callback(
        "caption kept",
        type="document",
        media_url=f"{fakes.base_url}/media/a.pdf",
        mime_type="application/pdf",
    )
    assert (await post_kaleyra(client, account, body)).status_code == 200
    interaction, message = await settled_media(client, admin)
    assert message["media"]["status"] == "failed"
    assert "404" in message["media"]["error"]
    assert message["text"] == "caption kept"
    assert len(fakes.of("media")) == 1  # a 404 is not retried
    served = await client.get(
        f"/api/whatsapp/interactions/{interaction['id']}/messages/{message['id']}/media", headers=admin
    )
    assert served.status_code == 404
