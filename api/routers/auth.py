from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.deps import ServicesDep, SessionDep
from api.errors import AppError
from api.security import verify_password
from models import User

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (a scheme name, not a secret)


@router.post("/login")
async def login(body: LoginIn, session: SessionDep, services: ServicesDep) -> TokenOut:
    user = await session.scalar(select(User).where(func.lower(User.username) == body.username.lower()))
    if not verify_password(body.password, user.password_hash if user else None) or user is None:
        raise AppError(401, "invalid_credentials", "username or password is wrong")
    return TokenOut(access_token=services.tokens.issue(user.id))
