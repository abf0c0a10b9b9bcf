"""Building, changing and showing WhatsApp accounts: the rules that span several fields.

Every nested section (credentials, notification, transfer, assistant, video) is handled the same
way: its current values (secrets decrypted) overlaid with what the client sent, validated whole
by the section's model, then written back with the secrets split out and sealed.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from api.accounts.schemas import (
    ASSISTANT_DESTINATIONS,
    MASK,
    AccountIn,
    AccountOut,
    AccountPatch,
    Assistant,
    AssistantOut,
    Notification,
    NotificationOut,
    RecontactTemplate,
    Transfer,
    Video,
    VideoOut,
)
from api.crud import get_or_404
from api.deps import SessionDep
from api.errors import invalid, not_found, pydantic_error
from domain.templating import DEFAULT_NOTIFICATION_TEMPLATE
from models import Account, AccountAgent, Role, User
from models.secrets import SecretBox
from providers import PROVIDERS

SectionT = TypeVar("SectionT", bound=BaseModel)

SCALAR_FIELDS = (
    "name", "key", "list_id", "motion_domain", "phone", "description", "wait_assigned_agent",
    "wait_assigned_queue", "mandatory_disposition", "disposition_pause_id", "service_level_seconds",
)  # fmt: skip
NULLABLE_FIELDS = frozenset({"disposition_pause_id"})


def new_account(body: AccountIn, box: SecretBox, public_url: str) -> Account:
    account = Account(
        proxy_token=secrets.token_urlsafe(32),  # 256 random bits, generated once
        motion_domain=public_url.rstrip("/"),
        description="",
        credentials={},
        notification_sound=True,
        notification_shake=False,
        notification_template=DEFAULT_NOTIFICATION_TEMPLATE,
        transfer_agent_enabled=False,
        transfer_agent_timeout=10,
        transfer_queue_enabled=False,
        transfer_queue_timeout=10,
        mandatory_disposition=False,
        assistant={},
        video_enabled=False,
        video_note="",
        video_metadata={},
        encrypted_secrets=box.seal({}),
    )
    apply_account(account, body, box)
    return account


def apply_account(account: Account, body: AccountPatch, box: SecretBox) -> None:
    """Write what `body` carries onto `account`, enforcing every cross-field rule (422 if broken)."""
    stored = box.open(account.encrypted_secrets)
    sent = body.model_fields_set

    for name in SCALAR_FIELDS:
        if name in sent:
            value = getattr(body, name)
            if value is None and name not in NULLABLE_FIELDS:
                raise invalid({name: "may not be null"})
            setattr(account, name, value)

    provider = body.type or account.type
    current = _sections_of(account, stored)
    if body.type is not None and body.type != account.type:
        if body.credentials is None:
            raise invalid({"credentials": f"changing type to {provider} needs that type's credentials"})
        current["credentials"] = {}  # the old type's credentials mean nothing to the new one
    account.type = provider

    models: dict[str, type[BaseModel]] = {
        "credentials": PROVIDERS[provider].credentials,
        "notification": Notification,
        "transfer": Transfer,
        "assistant": Assistant,
        "video": Video,
    }
    destinations = {
        "credentials": PROVIDERS[provider].secret_destinations,
        "assistant": ASSISTANT_DESTINATIONS,
    }
    sections: dict[str, BaseModel] = {}
    for name, model in models.items():
        given = getattr(body, name) if name in sent else None
        if name in sent and given is None:
            raise invalid({name: "may not be null"})
        sections[name] = _overlay(name, model, current[name], given, destinations.get(name, {}))

    if "recontact_template" in sent:
        account.recontact_template = (
            body.recontact_template.model_dump() if body.recontact_template is not None else None
        )
    if account.recontact_template is not None and not PROVIDERS[provider].recontact:
        takers = ", ".join(kind for kind, each in PROVIDERS.items() if each.recontact)
        raise invalid({"recontact_template": f"only {takers} accounts send a recontact template"})

    video = sections["video"]
    assert isinstance(video, Video)
    if video.enabled and not (video.topic and video.api_key):
        raise invalid({"video": "an enabled video call needs topic and api_key"})
    if account.mandatory_disposition and account.disposition_pause_id is None:
        raise invalid({"disposition_pause_id": "is required when mandatory_disposition is on"})

    new_secrets = _write_sections(account, sections, PROVIDERS[provider].secret_fields)
    account.encrypted_secrets = box.seal(new_secrets)


def _overlay(
    name: str,
    model: type[SectionT],
    current: dict[str, Any],
    given: Any,
    destinations: Mapping[str, frozenset[str]],
) -> SectionT:
    changes = given.model_dump(exclude_unset=True) if isinstance(given, BaseModel) else dict(given or {})
    changes = {key: value for key, value in changes.items() if value != MASK}  # "***" keeps the secret
    try:
        section = model.model_validate({**current, **changes})
    except ValidationError as exc:
        raise pydantic_error(exc, prefix=(name,)) from exc
    for address, secrets_sent in destinations.items():
        moved = getattr(section, address) is not None and getattr(section, address) != current.get(address)
        kept = sorted(secret for secret in secrets_sent if current.get(secret) and secret not in changes)
        if moved and kept:
            raise invalid(
                {
                    f"{name}.{secret}": f"must be sent again when {address} changes "
                    "(the stored one is never sent to a new address)"
                    for secret in kept
                }
            )
    return section


def _sections_of(account: Account, stored: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each section's current values, secrets included (decrypted), as the section models read them."""
    credentials = {
        **account.credentials,
        **{name.split(".", 1)[1]: value for name, value in stored.items() if name.startswith("credentials.")},
    }
    return {
        "credentials": credentials,
        "notification": {
            "sound": account.notification_sound,
            "shake": account.notification_shake,
            "template": account.notification_template,
        },
        "transfer": _transfer_of(account),
        "assistant": {**account.assistant, "api_key": stored.get("assistant.api_key")},
        "video": {
            "enabled": account.video_enabled,
            "topic": account.video_topic,
            "note": account.video_note,
            "metadata": account.video_metadata,
            "api_key": stored.get("video.api_key"),
        },
    }


def _write_sections(
    account: Account, sections: dict[str, Any], secret_credentials: frozenset[str]
) -> dict[str, str]:
    """Store the sections' plain values on `account`; return the secrets to seal."""
    values = sections["credentials"].model_dump(mode="json")
    account.credentials = {k: v for k, v in values.items() if k not in secret_credentials}
    new_secrets = {f"credentials.{k}": v for k, v in values.items() if k in secret_credentials and v}
    notification: Notification = sections["notification"]
    account.notification_sound = notification.sound
    account.notification_shake = notification.shake
    account.notification_template = notification.template or DEFAULT_NOTIFICATION_TEMPLATE
    transfer: Transfer = sections["transfer"]
    account.transfer_agent_enabled = transfer.agent_enabled
    account.transfer_agent_timeout = transfer.agent_timeout
    account.transfer_queue_enabled = transfer.queue_enabled
    account.transfer_queue_timeout = transfer.queue_timeout
    assistant: Assistant = sections["assistant"]
    account.assistant = assistant.model_dump(mode="json", exclude={"api_key"})
    if assistant.api_key:
        new_secrets["assistant.api_key"] = assistant.api_key
    video: Video = sections["video"]
    account.video_enabled = video.enabled
    account.video_topic = video.topic
    account.video_note = video.note
    account.video_metadata = video.metadata
    if video.api_key:
        new_secrets["video.api_key"] = video.api_key
    return new_secrets


def _transfer_of(account: Account) -> dict[str, Any]:
    return {
        "agent_enabled": account.transfer_agent_enabled,
        "agent_timeout": account.transfer_agent_timeout,
        "queue_enabled": account.transfer_queue_enabled,
        "queue_timeout": account.transfer_queue_timeout,
    }


def account_out(account: Account, box: SecretBox, *, admin: bool) -> AccountOut:
    stored = box.open(account.encrypted_secrets)

    def mask(name: str) -> Any:
        return MASK if name in stored else None

    credentials = dict(account.credentials)
    for name in PROVIDERS[account.type].secret_fields:
        credentials[name] = mask(f"credentials.{name}")
    assistant = Assistant.model_validate(account.assistant)
    return AccountOut(
        id=account.id,
        name=account.name,
        key=account.key,
        list_id=account.list_id,
        motion_domain=account.motion_domain,
        type=account.type,
        phone=account.phone,
        description=account.description,
        credentials=credentials,
        wait_assigned_agent=account.wait_assigned_agent,
        wait_assigned_queue=account.wait_assigned_queue,
        receive_url=account.receive_url if admin else None,
        proxy_token=account.proxy_token if admin else None,
        notification=NotificationOut(
            sound=account.notification_sound,
            shake=account.notification_shake,
            template=account.notification_template,
        ),
        transfer=Transfer.model_validate(_transfer_of(account)),
        mandatory_disposition=account.mandatory_disposition,
        disposition_pause_id=account.disposition_pause_id,
        service_level_seconds=account.service_level_seconds,
        recontact_template=RecontactTemplate.model_validate(account.recontact_template)
        if account.recontact_template
        else None,
        assistant=AssistantOut(
            **assistant.model_dump(exclude={"api_key"}), api_key=mask("assistant.api_key")
        ),
        video=VideoOut(
            enabled=account.video_enabled,
            api_key=mask("video.api_key"),
            topic=account.video_topic,
            note=account.video_note,
            metadata=account.video_metadata,
        ),
    )


async def visible_account(session: SessionDep, account_id: int, user: User) -> Account:
    """The account, if `user` may see it (agents: only their accounts); else 404."""
    account = await get_or_404(session, Account, account_id, "account")
    if user.role is Role.agent and await session.get(AccountAgent, (account_id, user.id)) is None:
        raise not_found("account", account_id)
    return account
