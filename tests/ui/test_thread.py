"""The thread when sending goes wrong: the 24-hour window closed, and a send the provider refuses."""

from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import expect

from tests.support.floor import inbound
from tests.ui.test_desk import a_floor, go_online, provider_id, shot, sign_in, take_the_offer
from tests.webhooks import make_account, meta_envelope, meta_text, post_meta, post_twilio

pytestmark = pytest.mark.slow

CUSTOMER = "16505551234"  # meta_text's sender


async def test_a_closed_window_offers_the_recontact_template(
    api, client, admin, fakes, worker, desk_url, new_page
):
    template = {"name": "come_back", "language": "en_US", "parameters": ["{{contact.mobile}}"]}
    account = await make_account(api, admin, fakes, "meta", recontact_template=template)
    ann_id, _ = await api.user(admin, "ann")
    await client.post(f"/api/whatsapp/accounts/{account['id']}/agents", json={"ids": [ann_id]}, headers=admin)
    plan = [{"application": "agent", "params": {"agent_id": ann_id, "timeout": 600}}]
    await client.put(f"/api/whatsapp/accounts/{account['id']}/actions", json=plan, headers=admin)
    page = await new_page()
    await sign_in(page, desk_url, "ann")
    await go_online(page)

    # The customer wrote 25 hours ago by Meta's clock (a webhook that arrives late).
    written = meta_text("wamid.OLD1", "Is anybody there?")
    written["timestamp"] = str(int(time.time()) - 25 * 3600)
    response = await post_meta(client, account, meta_envelope([written], names={CUSTOMER: "Mario Rossi"}))
    assert response.status_code == 200
    await take_the_offer(page)

    closed = page.get_by_role("status").filter(has_text="24-hour window is closed")
    await expect(closed).to_be_visible()
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    await expect(page.get_by_role("textbox", name="Message")).to_have_attribute(
        "placeholder", re.compile("window is closed")
    )
    await page.get_by_role("textbox", name="Message").fill("Hello?")
    await page.get_by_role("textbox", name="Message").press("Enter")  # refused here, not by the API
    await closed.get_by_role("button", name="Send recontact template").click()
    log = page.get_by_role("log", name="Messages")
    sent = log.get_by_role("listitem").filter(has_text="[template come_back]")
    await expect(sent).to_contain_text("sent")
    await shot(page, "window-closed")

    (request,) = fakes.of("meta.send")  # the template, and nothing else
    assert (request.body["type"], request.body["to"]) == ("template", CUSTOMER)
    assert request.body["template"]["name"] == "come_back"
    assert [p["text"] for p in request.body["template"]["components"][0]["parameters"]] == [CUSTOMER]


async def test_a_refused_send_is_retried_and_its_status_arrives_by_the_stream(
    api, client, admin, fakes, worker, settings, desk_url, new_page
):
    floor = await a_floor(api, client, admin, fakes)
    page = await new_page()
    await sign_in(page, desk_url, "ann")
    await go_online(page)
    await inbound(client, floor, "SM1", body="Is my order on its way?")
    await take_the_offer(page)

    fakes.refusing["twilio.send"] = (
        400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}, {})  # fmt: skip
    composer = page.get_by_role("textbox", name="Message")
    await composer.fill("It left this morning.")
    await composer.press("Enter")
    log = page.get_by_role("log", name="Messages")
    reply = log.get_by_role("listitem").filter(has_text="It left this morning.")
    await expect(reply).to_contain_text("failed")
    await expect(reply).to_contain_text("The 'To' number is not a valid phone number.")
    await shot(page, "failed")

    del fakes.refusing["twilio.send"]  # the provider takes it now
    thread_reads: list[str] = []
    page.on(
        "request",
        lambda r: thread_reads.append(r.url) if r.method == "GET" and "/messages" in r.url else None,
    )
    await reply.get_by_role("button", name="Retry").click()
    await expect(reply).to_contain_text("sent")
    await expect(reply.get_by_role("button", name="Retry")).to_have_count(0)
    await post_twilio(client, floor.account, {
        "MessageSid": provider_id(settings, "It left this morning."), "MessageStatus": "delivered"})  # fmt: skip
    await expect(reply).to_contain_text("delivered")
    assert thread_reads == []  # both statuses came as message_status events: nothing read the thread
    assert [r.body["Body"] for r in fakes.of("twilio.send")] == ["It left this morning."] * 2
