"""The desk on a 390-px-wide phone: an offer taken, the thread read and answered, nothing off-screen."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, expect

from tests.support.floor import inbound
from tests.ui.test_desk import a_floor, go_online, shot, sign_in

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 390, 844


async def nothing_sideways(page: Page) -> None:
    """The page does not scroll sideways: everything fits the phone's width."""
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"the page is {width} px wide"


async def on_screen(*controls: Locator) -> None:
    for control in controls:
        await expect(control).to_be_in_viewport(ratio=1)


async def test_a_conversation_worked_on_a_phone(api, client, admin, fakes, worker, desk_url, new_page):
    floor = await a_floor(api, client, admin, fakes)
    page = await new_page(WIDTH, HEIGHT)
    await sign_in(page, desk_url, "ann")
    await go_online(page)
    await nothing_sideways(page)
    await on_screen(*(page.get_by_role("button", name=name, exact=True)
                      for name in ("Online", "Paused", "Offline", "Sign out")))  # fmt: skip

    await inbound(client, floor, "SM1", body="Hi, I would like to know about my order")
    offer = page.get_by_role("article", name=re.compile("Offer from"))
    await on_screen(
        offer, offer.get_by_role("button", name="Accept"), offer.get_by_role("button", name="Reject")
    )
    await nothing_sideways(page)
    await offer.get_by_role("button", name="Accept").click()

    # The thread takes the screen; the list comes back with "Back to conversations".
    log = page.get_by_role("log", name="Messages")
    await expect(log).to_contain_text("I would like to know about my order")
    await expect(page.get_by_role("navigation", name="Conversations")).to_be_hidden()
    composer = page.get_by_role("textbox", name="Message")
    await composer.fill("Your order left this morning and arrives tomorrow before noon, tracking to follow.")
    await page.get_by_role("button", name="Send", exact=True).click()
    reply = log.get_by_role("listitem").filter(has_text="Your order left this morning")
    await expect(reply).to_contain_text("sent")
    await page.get_by_role("textbox", name="New tag").fill("phone")
    await page.get_by_role("button", name="Add tag").click()
    await expect(log.get_by_role("listitem").filter(has_text="tagged phone")).to_be_visible()
    await nothing_sideways(page)
    await on_screen(reply, composer, *(page.get_by_role("button", name=name, exact=True) for name in (
        "Back to conversations", "Transfer", "Close", "Add tag", "Note", "Canned answers", "Attach", "Send")))  # fmt: skip
    await shot(page, "phone")

    await page.get_by_role("button", name="Back to conversations").click()
    conversation = page.get_by_role("navigation", name="Conversations").get_by_role(
        "button", name=re.compile("Mario Rossi")
    )
    await on_screen(conversation)
    await expect(page.get_by_role("region", name="Thread")).to_be_hidden()
    await nothing_sideways(page)
    await conversation.click()
    await expect(log).to_contain_text("Your order left this morning")
