"""The console in a real browser, found by role and visible name: an admin sets up a Meta account
section by section with its plan and agents; a supervisor watches the floor live, searches,
exports, reads a transcript and spies on an interaction while an agent works it."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.conftest import ADMIN_PASSWORD
from tests.ui.conftest import SCREENSHOTS

pytestmark = pytest.mark.slow


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


async def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    await page.goto(f"{base_url}/console/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def test_an_admin_sets_up_a_meta_account_with_its_plan_and_agents(
    api, client, admin, fakes, settings, desk_url, new_page
):
    await api.create(admin, "/api/cm/lists", {"name": "Customers"})
    await api.create(admin, "/api/pauses", {"name": "Wrap-up"})
    await api.create(admin, "/api/whatsapp/queues", {"name": "Sales"})
    for name in ("ann", "bob"):
        await api.user(admin, name)
    page = await new_page(1280, 900)
    await sign_in(page, desk_url, "admin", ADMIN_PASSWORD)
    await page.get_by_role("link", name="Accounts", exact=True).click()
    await expect(page.get_by_role("heading", name="WhatsApp accounts")).to_be_focused()
    await page.get_by_role("link", name="Add WhatsApp Account").click()
    form = page.locator("form.account-form")
    await form.get_by_label("Name", exact=True).fill("Acme support")
    await form.get_by_label("Key", exact=True).fill("TOOLONG")  # refused by the API, shown at the field
    await form.get_by_label("Default contact list").select_option(label="Customers")
    await form.get_by_label("Type").select_option(label="Meta Cloud API")
    await form.get_by_label("account sid").fill("waba-1")
    await form.get_by_label("auth token").fill("meta-access-token")
    await form.get_by_label("app id").fill("app-1")
    await form.get_by_label("phone number id").fill("1234567890")
    await form.get_by_label("app secret").fill("meta-app-secret")
    await form.get_by_label("Phone", exact=True).fill("14155238886")
    await form.get_by_label("Description").fill("The support line")
    await form.get_by_label("Wait for the assigned agent (s)").fill("30")
    await form.get_by_label("Wait for the assigned queue (s)").fill("120")
    await form.get_by_label("Shake").check()
    await form.get_by_label("Notification template (mustache)").fill(
        "{{contact.first_name}} writes to {{account.key}}"
    )
    await expect(form.locator("output.preview")).to_have_text(re.compile("Maria writes to"))
    await form.get_by_label("Transfer to agents").check()
    await form.get_by_label("Agent transfer timeout (s)").fill("45")
    await form.get_by_label("Agents must dispose before the next interaction").check()
    await form.get_by_label("Pause while a disposition is owed").select_option(label="Wrap-up")
    await form.get_by_label("Template name").fill("reopen")
    await form.get_by_label("Parameters (one per line, mustache)").fill("{{contact.first_name}}")
    await form.locator("fieldset", has_text="AI assistant").get_by_label("Enabled").check()
    await form.get_by_label("Model").fill("gpt-4o-mini")
    await form.get_by_label("API key").fill("assistant-key")
    await form.get_by_label("Vidaoo key").fill("vidaoo-key")
    await form.get_by_label("Topic").fill("Support call")
    await form.get_by_label("Metadata (JSON)").fill('{"team": "support"}')
    await form.get_by_role("button", name="Create account").click()
    key = form.get_by_label("Key", exact=True)
    await expect(key).to_have_attribute("aria-invalid", "true")
    await expect(key).to_have_accessible_description(
        re.compile("pattern|match")
    )  # the API's reason, at the field
    await shot(page, "account-error")
    await key.fill("ACME")
    await form.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Edit Acme support")).to_be_visible()

    accounts = (await client.get("/api/whatsapp/accounts", headers=admin)).json()["rows"]
    account = next(a for a in accounts if a["key"] == "ACME")
    assert account["credentials"]["auth_token"] == "***"  # stored sealed, never shown
    assert (account["type"], account["wait_assigned_agent"], account["wait_assigned_queue"]) == (
        "meta",
        30,
        120,
    )
    assert account["notification"]["shake"] and account["transfer"]["agent_timeout"] == 45
    assert account["recontact_template"]["parameters"] == ["{{contact.first_name}}"]
    assert (account["assistant"]["api_key"], account["video"]["metadata"]) == ("***", {"team": "support"})
    await expect(page.get_by_label("Receive URL")).to_have_value(account["receive_url"])
    await expect(page.get_by_label("auth token")).to_have_value("")  # write-only: set, never revealed
    await expect(page.get_by_text("(a secret is set)").first).to_be_visible()

    # Agents, then a plan with a gotoif and a queue step.
    await page.goto(f"{desk_url}/console/#/accounts/{account['id']}/agents")
    await page.get_by_label(re.compile("Users to add")).select_option(label="ann")
    await page.get_by_role("button", name="Add agents").click()
    await expect(page.get_by_role("table", name="Agents of Acme support")).to_contain_text("ann")
    await page.goto(f"{desk_url}/console/#/accounts/{account['id']}")
    plan = page.get_by_role("region", name="Actions (routing)")
    await plan.get_by_label("Application of the new step").select_option(label="Wait in a queue")
    await plan.get_by_role("button", name="Add step").click()
    await plan.get_by_label("Application of the new step").select_option(label="Go to if")
    await plan.get_by_role("button", name="Add step").click()
    gotoif = plan.get_by_role("listitem", name=re.compile("Step 2"))
    rule = gotoif.locator(".rule").first
    await rule.get_by_label("Field").select_option("message.body")
    await rule.get_by_label("Operator").select_option("contains")
    await rule.get_by_label("Value").fill("urgent")
    await gotoif.get_by_label("then go to step").fill("1")
    await gotoif.get_by_label("else go to step").fill("9")  # no such step: refused, shown on the step
    await gotoif.get_by_role(
        "button", name="Move up"
    ).click()  # the gotoif first, from the keyboard's buttons
    await plan.get_by_role("button", name="Save plan").click()
    await expect(
        plan.get_by_role("listitem", name=re.compile("Step 1")).locator(".step-error")
    ).to_contain_text("there is no step 9")
    await plan.get_by_role("listitem", name=re.compile("Step 1")).get_by_label("else go to step").fill("2")
    await plan.get_by_role("button", name="Save plan").click()
    await expect(page.get_by_role("status").first).to_have_text("Plan saved")
    steps = (await client.get(f"/api/whatsapp/accounts/{account['id']}/actions", headers=admin)).json()
    assert [s["application"] for s in steps] == ["gotoif", "queue"]
    saved_rule = steps[0]["params"]["condition"]["rules"][0]
    assert (saved_rule["field"], saved_rule["operator"], saved_rule["value"]) == (
        "message.body",
        "contains",
        "urgent",
    )
    await shot(page, "account")

    await page.get_by_role("link", name="Accounts", exact=True).click()
    await page.get_by_role("button", name="Delete Acme support").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("heading", name="WhatsApp accounts")).to_be_visible()
    await shot(page, "accounts")
