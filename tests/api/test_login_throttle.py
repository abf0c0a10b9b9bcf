"""Login under attack: failed attempts throttled per username and per client address (429 with
Retry-After, counted in PostgreSQL), reset by a success, and argon2 run off the event loop for
unknown users too."""

from __future__ import annotations

import threading

from api import auth, security
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import db


async def log_in(client, username: str, password: str):
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_failed_logins_are_throttled_per_username(api, client, admin, settings):
    await api.user(admin, "ann")
    for _ in range(auth.USER_FAILURE_LIMIT):
        assert (await log_in(client, "ann", "wrong-password")).status_code == 401
    throttled = await log_in(client, "ANN", "password-123")  # even the right password, any case
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 300
    assert (await log_in(client, "admin", ADMIN_PASSWORD)).status_code == 200  # another user is not
    with db(settings) as conn:  # the window has passed
        conn.execute("UPDATE login_failures SET window_started_at = now() - interval '6 minutes'")
    assert (await log_in(client, "ann", "password-123")).status_code == 200


async def test_a_success_resets_the_count_for_that_user(api, client, admin):
    await api.user(admin, "ann")
    for _ in range(2):
        for _ in range(auth.USER_FAILURE_LIMIT - 1):
            assert (await log_in(client, "ann", "wrong-password")).status_code == 401
        assert (await log_in(client, "ann", "password-123")).status_code == 200


async def test_failed_logins_are_throttled_per_address(api, client, admin, monkeypatch):
    monkeypatch.setattr(auth, "ADDRESS_FAILURE_LIMIT", 3)
    for name in ("ghost-1", "ghost-2", "ghost-3"):  # one guess each: no username reaches its limit
        assert (await log_in(client, name, "guess")).status_code == 401
    throttled = await log_in(client, "admin", ADMIN_PASSWORD)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1


class SpyHasher:
    """The real hasher, noting each verification and the thread it ran on."""

    def __init__(self) -> None:
        self.real = security._hasher
        self.verified: list[tuple[str, threading.Thread]] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append((password_hash, threading.current_thread()))
        return self.real.verify(password_hash, password)


async def test_an_unknown_user_costs_a_verification_off_the_event_loop(client, admin, monkeypatch):
    spy = SpyHasher()
    monkeypatch.setattr(security, "_hasher", spy)
    response = await log_in(client, "nobody", "whatever")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    ((verified_hash, thread),) = spy.verified
    assert verified_hash == security._DUMMY_HASH
    assert thread is not threading.current_thread()  # not the event loop's
    assert (await log_in(client, "admin", ADMIN_PASSWORD)).status_code == 200
    assert spy.verified[1][1] is not threading.current_thread()
