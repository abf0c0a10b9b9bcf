"""Rotating an account's proxy token: the new one at once, the old one for the overlap only, for
webhooks (Twilio's signature covers the URL, token included) and Meta's handshake alike."""

from __future__ import annotations

from typing import Any

from tests.conftest import error_fields
from tests.helpers import count, db, wait_for
from tests.webhooks import make_account, post_twilio, receive_path, twilio_message


async def rotate(client, admin, account: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/whatsapp/accounts/{account['id']}/rotate-token", json=body or None, headers=admin
    )
    assert response.status_code == 200, response.text
    rotated: dict[str, Any] = response.json()
    return rotated


async def expire_previous_token(client, settings, account: dict[str, Any]) -> None:
    """The overlap ends, in SQL; returns once the Receive URL has heard (its account cache forgets
    the account on the change's NOTIFY): the old token's handshake is refused."""
    with db(settings) as conn:
        conn.execute(
            "UPDATE accounts SET previous_proxy_token_expires_at = now() - interval '1 second' WHERE id = %s",
            (account["id"],),
        )
    path = receive_path(account).split("?")[0]
    params = {"hub.mode": "subscribe", "hub.verify_token": account["proxy_token"], "hub.challenge": "7"}

    async def refused() -> bool:
        return bool((await client.get(path, params=params)).status_code == 403)

    await wait_for(refused)


async def test_old_and_new_tokens_work_during_the_overlap_and_only_the_new_one_after(
    api, client, admin, fakes, settings
):
    old = await make_account(api, admin, fakes, "twilio")
    rotated = await rotate(client, admin, old, overlap_hours=2)
    assert rotated["proxy_token"] != old["proxy_token"]
    assert rotated["receive_url"] == old["receive_url"].replace(old["proxy_token"], rotated["proxy_token"])
    shown = (await client.get(f"/api/whatsapp/accounts/{old['id']}", headers=admin)).json()
    assert (shown["proxy_token"], shown["receive_url"]) == (rotated["proxy_token"], rotated["receive_url"])
    new = {**old, **rotated}

    assert (await post_twilio(client, old, twilio_message("SM1"))).status_code == 200
    assert (await post_twilio(client, new, twilio_message("SM2"))).status_code == 200
    await expire_previous_token(client, settings, old)
    assert (await post_twilio(client, old, twilio_message("SM3"))).status_code == 403
    assert (await post_twilio(client, new, twilio_message("SM4"))).status_code == 200
    assert count(settings, "messages") == 3


async def test_meta_handshake_takes_either_token_during_the_overlap(api, client, admin, fakes, settings):
    account = await make_account(api, admin, fakes, "meta")
    path = receive_path(account).split("?")[0]
    new_token = (await rotate(client, admin, account))["proxy_token"]  # 24 hours by default

    async def handshake(token: str) -> int:
        params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "7"}
        return int((await client.get(path, params=params)).status_code)

    assert await handshake(account["proxy_token"]) == 200
    assert await handshake(new_token) == 200
    await expire_previous_token(client, settings, account)
    assert await handshake(account["proxy_token"]) == 403
    assert await handshake(new_token) == 200


async def test_a_second_rotation_ends_the_first_overlap_and_zero_overlap_ends_it_now(
    api, client, admin, fakes
):
    first = await make_account(api, admin, fakes, "twilio")
    second = {**first, **await rotate(client, admin, first)}
    third = {**first, **await rotate(client, admin, second, overlap_hours=0)}
    assert (await post_twilio(client, first, twilio_message("SM1"))).status_code == 403
    assert (await post_twilio(client, second, twilio_message("SM2"))).status_code == 403
    assert (await post_twilio(client, third, twilio_message("SM3"))).status_code == 200


async def test_only_admins_rotate_and_the_overlap_is_bounded(api, client, admin, fakes):
    account = await make_account(api, admin, fakes, "kaleyra")
    path = f"/api/whatsapp/accounts/{account['id']}/rotate-token"
    _, supervisor = await api.user(admin, "sue", role="supervisor")
    assert (await client.post(path, headers=supervisor)).status_code == 403
    too_long = await client.post(path, json={"overlap_hours": 24 * 30}, headers=admin)
    assert too_long.status_code == 422
    assert "overlap_hours" in error_fields(too_long)
    assert (await client.post("/api/whatsapp/accounts/999/rotate-token", headers=admin)).status_code == 404
