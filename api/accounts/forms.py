"""What an account form needs beside the account itself (the console's "Add WhatsApp Account"):
each provider type's credential fields, and a notification template rendered as an agent would
see it, from sample variables (the server's renderer, so the preview is what agents get)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from api.accounts.schemas import Mustache
from api.deps import AdminUser
from domain.templating import DEFAULT_NOTIFICATION_TEMPLATE, render
from models import ProviderType
from providers import PROVIDERS
from providers.config import secret_fields

router = APIRouter(prefix="/api/whatsapp", tags=["accounts"])


class CredentialField(BaseModel):
    name: str
    kind: Literal["text", "secret", "url"] = Field(
        description="secret: write-only (an account shows `***` where one is stored)"
    )
    required: bool


class AccountTypeOut(BaseModel):
    type: ProviderType
    credentials: list[CredentialField]
    recontact: bool = Field(description="can send the account's recontact template")


@router.get("/account-types")
async def account_types(_: AdminUser) -> list[AccountTypeOut]:
    """Each provider type with the fields of its `credentials` section, in declaration order."""
    return [
        AccountTypeOut(type=kind, credentials=_fields(provider.credentials), recontact=provider.recontact)
        for kind, provider in PROVIDERS.items()
    ]


def _fields(model: type[BaseModel]) -> list[CredentialField]:
    secrets = secret_fields(model)
    return [
        CredentialField(
            name=name,
            kind="secret" if name in secrets else "url" if "url" in name else "text",
            required=info.is_required(),
        )
        for name, info in model.model_fields.items()
    ]


class PreviewIn(BaseModel):
    template: Mustache | None = Field(default=None, description="null or empty: the default template")
    account_name: Annotated[str, StringConstraints(max_length=200)] = "Support"
    account_key: Annotated[str, StringConstraints(max_length=200)] = "SUP"  # as typed, valid or not yet
    account_phone: Annotated[str, StringConstraints(max_length=20)] = "390212345678"


class PreviewOut(BaseModel):
    text: str
    variables: dict[str, Any] = Field(description="the sample variables it was rendered with")


@router.post("/notification-preview")
async def notification_preview(_: AdminUser, body: PreviewIn) -> PreviewOut:
    """The notification an agent would get with this template, for a sample contact in queue Sales
    (an invalid template is a 422 naming `template` and why)."""
    variables = {
        "account": {"id": 1, "name": body.account_name, "key": body.account_key, "phone": body.account_phone},
        "contact": {
            "id": 1,
            "first_name": "Maria",
            "last_name": "Rossi",
            "mobile": "393331234567",
            "email": "maria.rossi@example.com",
        },
        "queue": {"id": 1, "name": "Sales"},
    }
    return PreviewOut(
        text=render(body.template or DEFAULT_NOTIFICATION_TEMPLATE, variables), variables=variables
    )
