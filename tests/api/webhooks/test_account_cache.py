"""The Receive URL keeps its accounts (api.webhooks.accounts): a webhook reads its account once,
and every change is seen, through the API by the very next webhook, in SQL once its NOTIFY
arrives (migration 0016)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from tests.helpers import db, wait_for
from tests.webhooks import make_account, post_twilio, receive_path, twilio_message, twilio_signature


def account_reads(app: Any) -> Callable[[], int]:
    """How many statements that read the accounts table the app has run since this call."""
    seen = [0]

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM accounts" in statement:
            seen[0] += 1

    event.listen(app.state.services.engine.sync_engine, "before_cursor_execute", counted)
    return lambda: seen[0]


async def test_a_webhook_reads_its_account_once_and_sees_every_change(
    api, client, admin, fakes, settings, app
):
    account = await make_account(api, admin, fakes, "twilio")
    reads = account_reads(app)
    for sid in ("SM1", "SM2", "SM3"):
        assert (await post_twilio(client, account, twilio_message(sid))).status_code == 200
    assert reads() == 1

    path = f"/api/whatsapp/accounts/{account['id']}"
    changed = await client.patch(path, json={"credentials": {"auth_token": "new-token"}}, headers=admin)
    assert changed.status_code == 200, changed.text
    params = twilio_message("SM4")
    assert (await post_twilio(client, account, params)).status_code == 403  # the old token's signature
    signed = twilio_signature(account["receive_url"], params, token="new-token")
    assert (await post_twilio(client, account, params, signature=signed)).status_code == 200

    with db(settings) as conn:  # an operator's change in SQL, behind the API's back
        conn.execute("UPDATE accounts SET proxy_token = 'changed-in-sql' WHERE id = %s", (account["id"],))
    handshake = receive_path(account).split("?")[0]
    params = {"hub.mode": "subscribe", "hub.verify_token": "changed-in-sql", "hub.challenge": "7"}

    async def accepted() -> bool:
        await asyncio.sleep(0.05)
        return bool((await client.get(handshake, params=params)).status_code == 200)

    await wait_for(accepted)


async def test_unknown_accounts_are_refused_every_time(api, client, admin, fakes, app):
    account = await make_account(api, admin, fakes, "twilio")
    reads = account_reads(app)
    missing = {**account, "id": account["id"] + 1000}
    missing["receive_url"] = account["receive_url"].replace(f"/{account['id']}/", f"/{missing['id']}/")
    for sid in ("SM1", "SM2"):
        assert (await post_twilio(client, missing, twilio_message(sid))).status_code == 403
    assert reads() == 2  # nothing kept for an id that names no account
