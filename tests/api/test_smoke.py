async def test_login_and_create_account(api, admin):
    lst = await api.create(admin, "/api/cm/lists", {"name": "Default"})
    account = await api.create(
        admin,
        "/api/whatsapp/accounts",
        {
            "name": "Support",
            "key": "SUP",
            "list_id": lst["id"],
            "type": "twilio",
            "phone": "+1 415 523 8886",
            "credentials": {"account_sid": "AC123", "auth_token": "tok-secret"},
        },
    )
    print(account)
