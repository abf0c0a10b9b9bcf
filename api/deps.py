"""The dependency chain: services from the app's lifespan → session → current user → role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.agents.events import AgentEventHub
from api.errors import AppError, forbidden
from api.security import TokenSigner
from models import Role, User
from models.secrets import SecretBox
from settings import Settings

if TYPE_CHECKING:
    from api.supervisor.live import LiveFeed
    from api.webhooks.accounts import WebhookAccounts


@dataclass
class Services:
    """What the app's lifespan owns: one engine, one Temporal client, the keys."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    temporal: Client
    secrets: SecretBox
    tokens: TokenSigner
    events: AgentEventHub
    live: LiveFeed  # the supervisors' live view, read once for all their streams
    webhook_accounts: WebhookAccounts  # the Receive URL's accounts, credentials opened
    http: httpx.AsyncClient  # calls to Vidaoo and the assistant's model


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """Commit when the route returns, roll back when it raises: a failed request writes nothing."""
    async with services.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

bearer = HTTPBearer(auto_error=False)


async def user_for_token(services: Services, session: AsyncSession, token: str | None) -> User:
    """The user a bearer token names, if the token is valid and not revoked: a change of password
    or role bumps the user's token_version, and tokens of an older version answer 401."""
    if not token:
        raise AppError(401, "unauthorized", "an Authorization: Bearer token is required")
    claims = services.tokens.claims(token)
    user = await session.get(User, claims.user_id) if claims is not None else None
    if claims is None or user is None or user.token_version != claims.version:
        raise AppError(401, "unauthorized", "the token is invalid, expired or revoked")
    return user


async def get_current_user(
    services: ServicesDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    return await user_for_token(services, session, credentials.credentials if credentials else None)


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], Coroutine[Any, Any, User]]:
    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise forbidden(f"this needs the role {' or '.join(roles)}")
        return user

    return check


AdminUser = Annotated[User, Depends(require_roles(Role.admin))]
STAFF = (Role.admin, Role.supervisor)  # who supervises: all interactions, the live view, reports
StaffUser = Annotated[User, Depends(require_roles(*STAFF))]


@dataclass
class Page:
    limit: int
    offset: int


def get_page(
    limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Annotated[int, Query(ge=0)] = 0
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(get_page)]
