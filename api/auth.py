"""Login: argon2 off the event loop, the same work for unknown users, and failed attempts throttled
per username and per client address.

The counters live in PostgreSQL (`login_failures`), so the limit holds however many API processes
run. An attempt is counted before its password is checked (one atomic upsert, so concurrent
guesses cannot all slip in under the limit) and uncounted when it succeeds: a success clears its
username's counter and takes itself off its address's. The address limit is higher because a
contact center's agents often share one public address.
"""

from __future__ import annotations

import math
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ServicesDep
from api.errors import AppError
from api.security import check_password
from models import User
from models.user import LoginFailure

router = APIRouter(prefix="/api/auth", tags=["auth"])

THROTTLE_WINDOW = timedelta(minutes=5)
USER_FAILURE_LIMIT = 10
ADDRESS_FAILURE_LIMIT = 50


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (a scheme name, not a secret)


TOO_MANY = {"description": "too many failed attempts; `Retry-After` says when to try again"}


@router.post("/login", response_model=TokenOut, responses={429: TOO_MANY})
async def login(body: LoginIn, request: Request, services: ServicesDep) -> TokenOut | JSONResponse:
    user_key = f"user:{body.username.lower()}"
    address_key = f"address:{request.client.host if request.client else 'unknown'}"
    # Short transactions: no database connection is held while argon2 runs.
    async with services.sessionmaker() as session, session.begin():
        retry_after = await _count_attempt(
            session, {user_key: USER_FAILURE_LIMIT, address_key: ADDRESS_FAILURE_LIMIT}
        )
        user = await session.scalar(select(User).where(func.lower(User.username) == body.username.lower()))
    if retry_after is not None:
        return JSONResponse(
            {
                "error": {
                    "code": "too_many_attempts",
                    "message": f"too many failed logins; retry in {retry_after} s",
                }
            },
            status_code=429,
            headers={"Retry-After": str(retry_after)},
        )
    if not await check_password(body.password, user.password_hash if user else None) or user is None:
        raise AppError(401, "invalid_credentials", "username or password is wrong")
    async with services.sessionmaker() as session, session.begin():
        await session.execute(delete(LoginFailure).where(LoginFailure.key == user_key))
        await session.execute(
            update(LoginFailure)
            .where(LoginFailure.key == address_key)
            .values(failures=func.greatest(LoginFailure.failures - 1, 0))
        )
    return TokenOut(access_token=services.tokens.issue(user.id, version=user.token_version))


async def _count_attempt(session: AsyncSession, limits: dict[str, int]) -> int | None:
    """Count one attempt against each key; the seconds until the window of a key over its limit
    ends, or None if none is."""
    await session.execute(
        delete(LoginFailure).where(LoginFailure.window_started_at < func.now() - THROTTLE_WINDOW)
    )
    current = LoginFailure.window_started_at > func.now() - THROTTLE_WINDOW
    statement = insert(LoginFailure).values([{"key": key, "failures": 1} for key in sorted(limits)])
    statement = statement.on_conflict_do_update(
        index_elements=[LoginFailure.key],
        set_={
            "failures": case((current, LoginFailure.failures + 1), else_=1),
            "window_started_at": case((current, LoginFailure.window_started_at), else_=func.now()),
        },
    )
    remaining = func.extract("epoch", LoginFailure.window_started_at + THROTTLE_WINDOW - func.now())
    rows = await session.execute(statement.returning(LoginFailure.key, LoginFailure.failures, remaining))
    waits = [float(seconds) for key, failures, seconds in rows if failures > limits[key]]
    return max(1, math.ceil(max(waits))) if waits else None
