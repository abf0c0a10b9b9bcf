"""Which contact an inbound message belongs to: the account's own default list, never another's."""

from __future__ import annotations

from tests.helpers import db
from tests.webhooks import make_account, post_twilio, twilio_message

MOBILE = "393331234567"


async def test_a_mobile_in_another_accounts_list_is_not_used(api, client, admin, fakes, settings):
    ours = await make_account(api, admin, fakes, "twilio", key="OURS")
    curated = await api.create(admin, "/api/cm/lists", {"name": "Account B customers"})
    await make_account(api, admin, fakes, "twilio", key="THEIR", list_id=curated["id"])
    await api.create(
        admin,
        f"/api/cm/lists/{curated['id']}/contacts",
        {
            "first_name": "Giulia",
            "last_name": "VIP - owes 3 invoices",
            "mobile": MOBILE,
            "list_id": curated["id"],
        },
    )

    for sid in ("SM1", "SM2"):  # the second finds the contact the first created
        assert (await post_twilio(client, ours, twilio_message(sid, mobile=MOBILE))).status_code == 200

    (interaction,) = (
        await client.get(f"/api/whatsapp/interactions?account_id={ours['id']}", headers=admin)
    ).json()["rows"]
    assert (interaction["contact"]["first_name"], interaction["contact"]["last_name"]) == ("Mario Rossi", "")
    with db(settings) as conn:
        rows = conn.execute(
            "SELECT list_id, first_name, last_name FROM contacts WHERE mobile = %s ORDER BY id", (MOBILE,)
        ).fetchall()
        contact_list = conn.execute(
            "SELECT list_id FROM contacts WHERE id = %s", (interaction["contact"]["id"],)
        ).fetchone()
    assert contact_list == (ours["list_id"],)  # created in this account's list
    assert rows == [
        (curated["id"], "Giulia", "VIP - owes 3 invoices"),  # untouched
        (ours["list_id"], "Mario Rossi", ""),
    ]
