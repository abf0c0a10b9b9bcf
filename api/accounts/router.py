"""WhatsApp accounts: admins manage them; supervisors read all; agents read the ones they belong to.

Deleting an account deletes what only it owns (agent memberships, canned answers, dispositions,
action plan) and is refused while it has interactions (README, "What deletes what").
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.accounts.schemas import (
    AccountIn,
    AccountOut,
    AccountPatch,
    RotatedTokenOut,
    RotateTokenIn,
)
from api.accounts.service import account_out, apply_account, new_account, visible_account
from api.crud import ListOut, ensure_unreferenced, get_or_404, paginate
from api.deps import AdminUser, CurrentUser, PageDep, Services, ServicesDep, SessionDep
from api.directory.membership import add_member_routes
from models import Account, AccountAgent, Interaction, Role
from models.db import after_commit

router = APIRouter(prefix="/api/whatsapp/accounts", tags=["accounts"])


@router.get("")
async def list_accounts(
    user: CurrentUser, session: SessionDep, services: ServicesDep, page: PageDep
) -> ListOut[AccountOut]:
    query = select(Account).order_by(Account.id)
    if user.role is Role.agent:
        query = query.join(AccountAgent, AccountAgent.account_id == Account.id).where(
            AccountAgent.user_id == user.id
        )
    count, rows = await paginate(session, query, page)
    admin = user.role is Role.admin
    return ListOut(count=count, rows=[account_out(row, services.secrets, admin=admin) for row in rows])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_account(
    body: AccountIn, _: AdminUser, session: SessionDep, services: ServicesDep
) -> AccountOut:
    account = new_account(body, services.secrets, services.settings.public_url)
    session.add(account)
    await session.flush()
    return account_out(account, services.secrets, admin=True)


@router.get("/{account_id}")
async def get_account(
    account_id: int, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> AccountOut:
    account = await visible_account(session, account_id, user)
    return account_out(account, services.secrets, admin=user.role is Role.admin)


@router.patch("/{account_id}")
@router.put("/{account_id}")  # the same update, under its own operation id
async def update_account(
    account_id: int, body: AccountPatch, _: AdminUser, session: SessionDep, services: ServicesDep
) -> AccountOut:
    account = await get_or_404(session, Account, account_id, "account")
    apply_account(account, body, services.secrets)
    await session.flush()
    _forget_when_committed(session, services, account_id)
    return account_out(account, services.secrets, admin=True)


@router.post("/{account_id}/rotate-token")
async def rotate_proxy_token(
    account_id: int,
    _: AdminUser,
    session: SessionDep,
    services: ServicesDep,
    body: RotateTokenIn | None = None,
) -> RotatedTokenOut:
    """A new proxy token (and so Receive URL) for the account. The one it replaces keeps working
    for `overlap_hours`, while the provider's console is updated; a token replaced earlier stops
    at once."""
    overlap = timedelta(hours=(body or RotateTokenIn()).overlap_hours)
    account = await get_or_404(session, Account, account_id, "account", lock=True)
    account.previous_proxy_token = account.proxy_token
    account.previous_proxy_token_expires_at = datetime.now(UTC) + overlap
    account.proxy_token = secrets.token_urlsafe(32)
    await session.flush()
    _forget_when_committed(session, services, account_id)
    return RotatedTokenOut(
        proxy_token=account.proxy_token,
        receive_url=account.receive_url,
        previous_token_expires_at=account.previous_proxy_token_expires_at,
    )


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_account(account_id: int, _: AdminUser, session: SessionDep, services: ServicesDep) -> None:
    account = await get_or_404(session, Account, account_id, "account")
    await ensure_unreferenced(
        session,
        f"account {account.key}",
        [
            (
                "interactions",
                select(Interaction.id).where(Interaction.account_id == account_id).order_by(Interaction.id),
            )
        ],
    )
    await session.delete(account)
    _forget_when_committed(session, services, account_id)


def _forget_when_committed(session: AsyncSession, services: Services, account_id: int) -> None:
    """This process's Receive URL forgets the account as the change commits, so the next
    webhook reads it (other processes hear of it from the change's NOTIFY, migration 0016)."""
    after_commit(session, lambda: services.webhook_accounts.forget(account_id))


add_member_routes(router, Account, AccountAgent, "account_id", "account")
