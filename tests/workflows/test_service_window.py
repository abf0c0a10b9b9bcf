"""The 24-hour window runs from when the customer wrote (the provider's timestamp), not from when
the webhook reached Shareline: a provider retrying a webhook for a day must not reopen it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.conversations import CONTACT, owned
from tests.webhooks import INBOUND, meta_envelope, meta_text, post_meta

HOUR = 3600


def written(wamid: str, hours_ago: float) -> dict[str, Any]:
    message = meta_text(wamid, "hi", sender=CONTACT)
    message["timestamp"] = str(int(time.time() - hours_ago * HOUR))
    return meta_envelope([message])


async def post_written(client, account, wamid: str, hours_ago: float) -> None:
    assert (await post_meta(client, account, written(wamid, hours_ago))).status_code == 200


async def last_inbound_at(client, floor) -> datetime:
    interaction = (await client.get(floor.path, headers=floor.ann.headers)).json()
    return datetime.fromisoformat(interaction["last_inbound_at"])


async def test_a_message_written_25_hours_ago_leaves_the_window_closed(
    api, client, admin, fakes, worker, temporal_env, monkeypatch
):
    monkeypatch.setitem(INBOUND, "meta", (post_meta, lambda: written("wamid.OLD", hours_ago=25)))
    floor = await owned(api, client, admin, fakes, temporal_env, "meta")
    refused = await client.post(f"{floor.path}/messages", json={"text": "hi?"}, headers=floor.ann.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "outside_service_window"

    await post_written(client, floor.account, "wamid.RECENT", hours_ago=1)
    allowed = await client.post(f"{floor.path}/messages", json={"text": "hi!"}, headers=floor.ann.headers)
    assert allowed.status_code == 202, allowed.text


async def test_a_late_older_message_or_a_clock_ahead_never_moves_the_window(
    api, client, admin, fakes, worker, temporal_env, monkeypatch
):
    monkeypatch.setitem(INBOUND, "meta", (post_meta, lambda: written("wamid.HOUR", hours_ago=1)))
    floor = await owned(api, client, admin, fakes, temporal_env, "meta")
    wrote = await last_inbound_at(client, floor)
    assert abs(wrote - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(minutes=1)

    await post_written(client, floor.account, "wamid.LATE", hours_ago=30)  # delivered a day late
    assert await last_inbound_at(client, floor) == wrote

    before = datetime.now(UTC)
    await post_written(client, floor.account, "wamid.AHEAD", hours_ago=-2)  # the provider's clock
    assert before - timedelta(seconds=1) <= await last_inbound_at(client, floor) <= datetime.now(UTC)
