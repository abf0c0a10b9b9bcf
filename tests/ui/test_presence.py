"""Presence when a mandatory disposition is owed: the banner says so and the disposition is given
from it, before and after a reload."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.helpers import db
from tests.support.floor import inbound, the_interaction
from tests.ui.test_desk import a_floor, go_online, sign_in, take_the_offer

pytestmark = pytest.mark.slow


async def test_an_owed_disposition_is_given_from_the_banner(
    api, client, admin, fakes, worker, settings, desk_url, new_page
):
    floor = await a_floor(api, client, admin, fakes)  # the account demands a disposition
    ann = floor.agents["ann"]
    page = await new_page()
    await sign_in(page, desk_url, "ann")
    await go_online(page)
    await inbound(client, floor, "SM1", body="Thanks, that was all")
    await take_the_offer(page)
    interaction = await the_interaction(client, admin)

    # Closed without a disposition elsewhere (another client of the API): the desk hears of it.
    closed = await client.post(
        f"/api/whatsapp/interactions/{interaction['id']}/close", json={}, headers=ann.headers
    )
    assert closed.status_code == 200, closed.text
    banner = page.get_by_role("alert").filter(has_text="disposition is owed")
    await expect(banner).to_be_visible()
    await expect(page.get_by_role("button", name="Paused")).to_have_attribute("aria-pressed", "true")

    await page.get_by_role("button", name="Offline").click()  # refused: 409 disposition_required
    await expect(page.get_by_role("button", name="Paused")).to_have_attribute("aria-pressed", "true")
    await page.reload()
    await expect(banner).to_be_visible()  # GET /api/agents/me lists what is owed

    await banner.get_by_role("button", name="Dispose").click()
    dialog = page.get_by_role("dialog", name="Dispose")
    await dialog.get_by_label("Disposition").select_option(label="Information")
    await dialog.get_by_role("button", name="Save disposition").click()
    await expect(banner).to_be_hidden()
    await expect(page.get_by_role("button", name="Online", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    with db(settings) as conn:
        row = conn.execute(
            "SELECT d.name FROM interactions i JOIN dispositions d ON d.id = i.disposition_id WHERE i.id = %s",
            (interaction["id"],),
        ).fetchone()
    assert row == ("Information",)
