"""`GET /api/whatsapp/interactions/{id}/transcript.zip`: the thread and its timeline as text and
HTML, and with `attachments=true` every stored media file under a safe name."""

from __future__ import annotations

import asyncio
import io
import json
import os
import zipfile
from typing import Any

from api.interactions.transcript import attachment_name
from api.interactions.transcript_render import describe
from tests.helpers import db, scalar
from tests.support.asgi import http_scope, receiver
from tests.support.worked import NOTE, REPLY, worked
from tests.webhooks import make_account, post_twilio, twilio_message

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64


def opened(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith('attachment; filename="interaction-')
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None  # every member's CRC checks
    return archive


async def test_the_transcript_reads_as_the_conversation_went(api, client, admin, fakes, worker, temporal_env):
    done = await worked(api, client, admin, fakes, temporal_env)
    archive = opened(await client.get(f"{done.path}/transcript.zip", headers=done.ann.headers))
    assert sorted(archive.namelist()) == ["transcript.html", "transcript.txt"]
    text = archive.read("transcript.txt").decode()
    lines = text.splitlines()

    assert f"Interaction {done.interaction['id']}" in lines[0]
    assert "Contact: Mario Rossi (+393331234567)" in lines
    assert "Status: closed" in lines and "Owner: ann" in lines
    assert "Disposition: Sales / Sold / Upsell" in lines
    assert "Tags: -x, vip" in lines

    def line(part: str) -> str:
        (found,) = [entry for entry in lines if part in entry]
        return found

    inbound, reply, note = line("Mario Rossi: hello"), line(f"ann: {REPLY}"), line(NOTE)
    assert reply.endswith("[sent]")  # its delivery status
    assert "INTERNAL NOTE by ann (not sent to the contact)" in note
    offered, accepted = line("offered to ann via queue"), line("ann accepted the interaction")
    tagged, closed = line("ann tags +-x +vip"), line("ann closed with disposition Upsell")
    in_order = [inbound, offered, accepted, reply, note, tagged, closed]
    assert [lines.index(entry) for entry in in_order] == sorted(lines.index(entry) for entry in in_order)
    assert inbound[:25].endswith("+00:00")  # times in UTC unless asked otherwise

    page = archive.read("transcript.html").decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<b>click</b>" not in page and "&lt;b&gt;click&lt;/b&gt;" in page  # shown, never markup
    assert "<script" not in page
    assert 'class="entry internal"' in page and "Internal note (not sent to the contact)" in page
    assert page.index("Mario Rossi") < page.index("&lt;b&gt;click") < page.index(NOTE)

    kolkata = opened(await client.get(f"{done.path}/transcript.zip?time_zone=Asia/Kolkata", headers=admin))
    assert "+05:30  Mario Rossi: hello" in kolkata.read("transcript.txt").decode()


async def test_who_may_read_a_transcript(api, client, admin, fakes, worker, temporal_env):
    done = await worked(api, client, admin, fakes, temporal_env)
    url = f"{done.path}/transcript.zip"
    _, supervisor = await api.user(admin, "sue", role="supervisor")
    _, outsider = await api.user(admin, "olga")  # an agent of no account
    assert (await client.get(url, headers=done.bob.headers)).status_code == 200  # of the account
    assert (await client.get(url, headers=supervisor)).status_code == 200
    assert (await client.get(url, headers=outsider)).status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (
        await client.get("/api/whatsapp/interactions/999999/transcript.zip", headers=admin)
    ).status_code == 404
    assert (await client.get(f"{url}?time_zone=Nowhere/Land", headers=admin)).status_code == 422


async def media_message(
    client, settings, account, sid: str, media: dict[str, str], content: bytes | None
) -> int:
    """An inbound media message whose download stored `content` (None: nothing on disk)."""
    params = twilio_message(
        sid, "see attached", NumMedia="1", MessageType="image", MediaUrl0=f"https://api.twilio.com/media/{sid}",
        MediaContentType0="image/png",
    )  # fmt: skip
    assert (await post_twilio(client, account, params)).status_code == 200
    message_id = int(scalar(settings, "SELECT id FROM messages WHERE provider_message_id = %s", sid))
    if content is not None:
        path = settings.media_dir / str(account["id"]) / f"{message_id}-stored.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        media = {"path": f"{account['id']}/{path.name}", **media}
    with db(settings) as conn:
        conn.execute(
            "UPDATE messages SET media = media || %s::jsonb WHERE id = %s", (json.dumps(media), message_id)
        )
    return message_id


async def test_attachments_are_in_the_zip_under_safe_names(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "twilio")
    secret = settings.media_dir.parent / "secret.txt"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("not for the zip")
    evil = await media_message(client, settings, account, "MM1", {"filename": "../../etc/passwd"}, PNG)
    windows = await media_message(client, settings, account, "MM2", {"filename": "..\\..\\boot.ini"}, b"ini")
    hidden = await media_message(client, settings, account, "MM3", {"filename": ".bashrc"}, b"rc")
    unnamed = await media_message(client, settings, account, "MM4", {}, b"png")
    outside = await media_message(client, settings, account, "MM5", {"path": "../secret.txt"}, None)
    missing = await media_message(client, settings, account, "MM6", {"path": "1/gone.png"}, None)
    (interaction,) = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"]
    url = f"/api/whatsapp/interactions/{interaction['id']}/transcript.zip"

    archive = opened(await client.get(f"{url}?attachments=true", headers=admin))
    names = {
        evil: f"attachments/{evil}-passwd.png",
        windows: f"attachments/{windows}-boot.ini",
        hidden: f"attachments/{hidden}-bashrc.png",
        unnamed: f"attachments/{unnamed}-media.png",
    }
    assert sorted(archive.namelist()) == sorted(["transcript.html", "transcript.txt", *names.values()])
    for name in archive.namelist():
        assert not name.startswith(("/", ".")) and ".." not in name and "\\" not in name
    assert archive.read(names[evil]) == PNG
    assert archive.getinfo(names[evil]).compress_type == zipfile.ZIP_STORED
    assert (archive.read(names[windows]), archive.read(names[hidden])) == (b"ini", b"rc")
    text = archive.read("transcript.txt").decode()
    for name in names.values():
        assert f"[attachment: {name}]" in text
    not_stored = [line for line in text.splitlines() if "[attachment: image, not stored]" in line]
    assert len(not_stored) == 2  # the path outside the store, and the file that is gone
    assert outside not in names and missing not in names

    without = opened(await client.get(f"{url}?attachments=false", headers=admin))
    assert sorted(without.namelist()) == ["transcript.html", "transcript.txt"]
    assert without.read("transcript.txt").decode().count("not included (attachments=false)") == 4
    assert opened(await client.get(url, headers=admin)).namelist() == without.namelist()  # the default


def test_attachment_names_keep_no_directory():
    assert attachment_name(7, {"filename": "../../x.pdf"}) == "attachments/7-x.pdf"
    assert attachment_name(7, {"filename": "a b/c:d*e?.txt"}) == "attachments/7-c_d_e_.txt"
    assert attachment_name(7, {"filename": "..", "path": "1/7-ab.jpg"}) == "attachments/7-media.jpg"
    assert attachment_name(7, {"filename": "\x00\n\r.exe"}) == "attachments/7-exe"


def test_timeline_events_in_words():
    assert describe("transfer", {"from": 1, "agent_id": 2}, "bob", None, None) == "transferred to bob"
    assert (
        describe("transfer", {"from": 1, "queue_id": 3}, None, "Sales", None) == "transferred to queue Sales"
    )
    assert (
        describe("transfer_returned", {"owner_id": 1}, "ann", None, None) == "transfer not taken: back to ann"
    )
    assert describe("disposed", {"disposition_id": 4}, None, None, "Sold") == "disposition Sold"
    assert describe("closed", {"reason": "workflow ended"}, None, None, None) == "closed: workflow ended"
    assert (
        describe("plan_error", {"step": 2, "reason": "loops"}, None, None, None)
        == "plan error: step 2, reason loops"
    )


async def test_a_long_thread_and_a_large_file_arrive_in_chunks(api, app, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "twilio")
    content = os.urandom(3 * 1024 * 1024)  # incompressible, as media is
    media_id = await media_message(client, settings, account, "MM1", {"filename": "scan.pdf"}, content)
    interaction_id = int(scalar(settings, "SELECT interaction_id FROM messages WHERE id = %s", media_id))
    with db(settings) as conn:
        conn.execute(
            "INSERT INTO messages (account_id, interaction_id, direction, type, text, payload, status) "
            "SELECT %s, %s, 'in', 'text', 'line ' || g, '{}', 'received' FROM generate_series(1, 3000) g",
            (account["id"], interaction_id),
        )
    url = f"/api/whatsapp/interactions/{interaction_id}/transcript.zip?attachments=true"
    request = client.build_request("GET", url, headers=admin)
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            chunks.append(message["body"])

    finished = asyncio.Event()
    await app(http_scope(request), receiver(b"", finished), send)
    finished.set()
    assert len(chunks) > len(content) // (512 * 1024)  # sent as it was written, not whole at the end
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    assert archive.read(f"attachments/{media_id}-scan.pdf") == content
    text = archive.read("transcript.txt").decode()
    assert text.count(": line ") == 3000 and "Mario Rossi: line 3000" in text
