"""Account bodies for every provider type, as an admin posts them."""

from __future__ import annotations

CREDENTIALS = {
    "twilio": {"account_sid": "AC0123456789", "auth_token": "twilio-secret-token"},
    "sinch_v2": {
        "base_url": "https://eu.conversation.api.sinch.com",
        "project_id": "proj-1",
        "app_id": "app-1",
        "key_id": "key-1",
        "key_secret": "sinch-key-secret",
        "webhook_secret": "sinch-webhook-secret",
    },
    "meta": {
        "account_sid": "waba-1",
        "auth_token": "meta-access-token",
        "app_id": "app-1",
        "phone_number_id": "1234567890",
        "app_secret": "meta-app-secret",
    },
    "kaleyra": {
        "base_url": "https://api.kaleyra.io",
        "waba_id": "waba-2",
        "account_sid": "HX-sid",
        "api_key": "kaleyra-api-key",
    },
}


def account_body(contact_list, provider="twilio", key="SUP", **extra):
    return {
        "name": f"Support {key}",
        "key": key,
        "list_id": contact_list["id"],
        "type": provider,
        "phone": "+14155238886",
        "credentials": dict(CREDENTIALS[provider]),
        **extra,
    }
