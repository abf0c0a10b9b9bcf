"""The interactions list counts its matches up to a limit (api.interactions.schemas.COUNT_LIMIT):
past it, `count` is the limit and `count_exact` false. Data from tests/support/seeded.py (i1..i4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.interactions import router
from tests.support.seeded import Seeded, seed

LIST = "/api/whatsapp/interactions"


@pytest.fixture
async def data(api, client, admin, fakes, settings) -> Seeded:
    return await seed(api, client, admin, fakes, settings)


async def counted(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> tuple[int, bool, int]:
    response = await client.get(LIST, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["count"], body["count_exact"], len(body["rows"])


async def test_counts_stop_at_the_limit_and_say_so(client, admin, data, monkeypatch):
    a, b = data.accounts["A"]["id"], data.accounts["B"]["id"]
    assert await counted(client, admin, limit=1) == (4, True, 1)  # the default limit is far off

    monkeypatch.setattr(router, "COUNT_LIMIT", 2)
    assert await counted(client, admin, limit=1) == (2, False, 1)  # 4 match
    assert await counted(client, admin, limit=1, account_id=a) == (2, False, 1)  # 3 match
    assert await counted(client, admin, limit=1, offset=3) == (2, False, 1)
    assert await counted(client, admin, account_id=b) == (1, True, 1)

    monkeypatch.setattr(router, "COUNT_LIMIT", 4)
    assert await counted(client, admin, limit=1) == (4, True, 1)  # exactly the limit is exact
    monkeypatch.setattr(router, "COUNT_LIMIT", 3)
    assert await counted(client, admin, limit=1) == (3, False, 1)


async def test_a_last_page_and_a_page_past_the_end_count_alike(client, admin, data, monkeypatch):
    # A page shorter than asked for is the end, and gives the total without a count query.
    assert await counted(client, admin, limit=3, offset=2) == (4, True, 2)
    assert await counted(client, admin, offset=10) == (4, True, 0)
    monkeypatch.setattr(router, "COUNT_LIMIT", 2)
    assert await counted(client, admin, limit=3, offset=2) == (2, False, 2)
    assert await counted(client, admin, offset=10) == (2, False, 0)


async def test_agents_counts_cover_only_their_accounts(client, data, monkeypatch):
    monkeypatch.setattr(router, "COUNT_LIMIT", 2)
    ann, cat = data.agents["ann"].headers, data.agents["cat"].headers  # A's 3 interactions, B's 1
    assert await counted(client, ann, limit=1) == (2, False, 1)
    assert await counted(client, cat, limit=1) == (1, True, 1)
