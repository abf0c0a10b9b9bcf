"""The provider's view of a stored account: credentials with the secrets decrypted."""

from __future__ import annotations

from models import Account
from models.secrets import SecretBox
from providers.base import ProviderAccount


def provider_account(account: Account, box: SecretBox) -> ProviderAccount:
    secrets = box.open(account.encrypted_secrets)
    credentials = {
        **{name: str(value) for name, value in account.credentials.items()},
        **{
            name.removeprefix("credentials."): value
            for name, value in secrets.items()
            if name.startswith("credentials.")
        },
    }
    return ProviderAccount(
        id=account.id,
        type=account.type,
        phone=account.phone,
        receive_url=account.receive_url,
        proxy_token=account.proxy_token,
        credentials=credentials,
    )
