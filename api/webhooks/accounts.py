"""The accounts the Receive URL serves, kept by each API process with their credentials opened.

A webhook then costs no account read and no decryption before its one transaction. An entry is
trusted only while the event hub listens: every change or delete of an account is notified as it
commits (migration 0016) and forgets the entry at once. An entry read before the hub's latest
(re)connection, in whose gap a change may have gone unheard, is read again, as is one older than
MAX_AGE_SECONDS. Unknown account ids are never kept, so probing ids fills nothing.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.agents.events import AgentEventHub
from models import Account, ProviderType
from models.account import receive_url
from models.secrets import SecretBox
from providers.accounts import provider_account
from providers.base import ProviderAccount

MAX_AGE_SECONDS = 60.0


@dataclass(frozen=True)
class WebhookAccount:
    """What a webhook needs of its account."""

    id: int
    type: ProviderType
    list_id: int
    proxy_token: str
    previous_proxy_token: str | None
    previous_proxy_token_expires_at: datetime | None
    provider: ProviderAccount  # the credentials, opened
    motion_domain: str

    def accepts(self, token: str) -> bool:
        """The current proxy token, or the one it replaced while the rotation's overlap lasts;
        both are compared in constant time, whichever matches."""
        current = hmac.compare_digest(token.encode(), self.proxy_token.encode())
        previous = self.previous_proxy_token or ""
        overlapping = (
            self.previous_proxy_token_expires_at is not None
            and self.previous_proxy_token_expires_at > datetime.now(UTC)
        )
        matches_previous = hmac.compare_digest(token.encode(), previous.encode()) and bool(previous)
        return current or (matches_previous and overlapping)

    def called_with(self, token: str) -> ProviderAccount:
        """The provider's view of the account as this request called it: a signature over the
        URL (Twilio's) is checked against the URL with the token used, during a rotation's
        overlap perhaps the previous one."""
        called = receive_url(self.motion_domain, self.id, token)
        return replace(self.provider, receive_url=called, proxy_token=token)


@dataclass
class _Entry:
    account: WebhookAccount
    epoch: int  # the hub's connection it was read under
    read_at: float


class WebhookAccounts:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, events: AgentEventHub
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._events = events
        self._entries: dict[int, _Entry] = {}
        self._forgotten: dict[int, int] = {}  # how often each account was forgotten, for reads in flight
        events.on_account_change(self.forget)

    def forget(self, account_id: int) -> None:
        self._entries.pop(account_id, None)
        self._forgotten[account_id] = self._forgotten.get(account_id, 0) + 1

    async def get(self, account_id: int) -> WebhookAccount | None:
        epoch = self._events.epoch
        listening = self._events.listening.is_set()
        entry = self._entries.get(account_id)
        if (
            entry is not None
            and listening
            and entry.epoch == epoch
            and time.monotonic() - entry.read_at < MAX_AGE_SECONDS
        ):
            return entry.account
        forgotten = self._forgotten.get(account_id, 0)
        read_at = time.monotonic()
        async with self._sessions() as session:
            account = await session.get(Account, account_id)
            found = None if account is None else self._snapshot(account)
        # Kept only if no change was heard while it was read (the read may predate it).
        if found is not None and listening and self._forgotten.get(account_id, 0) == forgotten:
            self._entries[account_id] = _Entry(found, epoch, read_at)
        return found

    def _snapshot(self, account: Account) -> WebhookAccount:
        return WebhookAccount(
            id=account.id,
            type=account.type,
            list_id=account.list_id,
            proxy_token=account.proxy_token,
            previous_proxy_token=account.previous_proxy_token,
            previous_proxy_token_expires_at=account.previous_proxy_token_expires_at,
            provider=provider_account(account, self._box),
            motion_domain=account.motion_domain,
        )
