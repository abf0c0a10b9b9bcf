"""An upload over SHARELINE_MEDIA_MAX_BYTES is refused as soon as it is known to be, not after the
whole body has been spooled to disk; nothing is stored."""

from __future__ import annotations

import pytest

from tests.helpers import scalar
from tests.webhooks import make_account, post_twilio, twilio_message

LIMIT = 256 * 1024
CHUNK = 64 * 1024
BOUNDARY = "shareline-test-boundary"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"media_max_bytes": LIMIT})


class Body:
    """A multipart upload of `size` file bytes, sent in chunks; counts how many were read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.chunks_read = 0

    async def __aiter__(self):
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        )
        yield head.encode()
        for _ in range(self.size // CHUNK):
            self.chunks_read += 1
            yield b"x" * CHUNK
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    @property
    def all_chunks(self) -> int:
        return self.size // CHUNK


async def upload_path(api, client, admin, fakes) -> str:
    account = await make_account(api, admin, fakes, "twilio")
    assert (await post_twilio(client, account, twilio_message())).status_code == 200
    (interaction,) = (await client.get("/api/whatsapp/interactions", headers=admin)).json()["rows"]
    return f"/api/whatsapp/interactions/{interaction['id']}/messages/upload"


def nothing_stored(settings) -> bool:
    stored = [path for path in settings.media_dir.rglob("*") if path.is_file()]
    return scalar(settings, "SELECT count(*) FROM messages WHERE direction = 'out'") == 0 and not stored


async def test_a_body_running_past_the_limit_is_refused_while_it_streams(api, client, admin, fakes, settings):
    path = await upload_path(api, client, admin, fakes)
    body = Body(size=64 * LIMIT)  # 16 MiB, chunked: no Content-Length to go by
    response = await client.post(
        path, content=body, headers={**admin, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert f"{LIMIT} bytes" in response.json()["error"]["message"]
    assert body.chunks_read <= (LIMIT + 64 * 1024) // CHUNK + 1 < body.all_chunks
    assert nothing_stored(settings)


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    api, client, admin, fakes, settings
):
    path = await upload_path(api, client, admin, fakes)
    body = Body(size=4 * LIMIT)
    headers = {
        **admin,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(4 * LIMIT + 200),
    }
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 413
    assert body.chunks_read == 0
    assert nothing_stored(settings)
