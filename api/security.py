"""Passwords (argon2id) and bearer tokens (HS256 JWT signed with a key derived from the secret key)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import anyio.to_thread
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash to verify against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("shareline-timing-equaliser")
# argon2 takes tens of milliseconds and 64 MiB per verification: it runs in worker threads, off
# the event loop, and a few at a time, so a burst of logins queues instead of exhausting memory
# or the thread pool that other blocking work shares.
_PASSWORD_WORKERS = anyio.CapacityLimiter(4)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def check_password(password: str, password_hash: str | None) -> bool:
    """`verify_password` in a worker thread; None (an unknown user) still costs a verification."""
    return await anyio.to_thread.run_sync(verify_password, password, password_hash, limiter=_PASSWORD_WORKERS)


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    version: int  # the user's token_version when the token was issued


class TokenSigner:
    def __init__(self, secret_key: str, ttl: timedelta) -> None:
        # The token key is derived, so a leaked token key never reveals the secrets' encryption key.
        self._key = hmac.new(secret_key.encode(), b"shareline-access-token", hashlib.sha256).digest()
        self._ttl = ttl

    def issue(self, user_id: int, *, version: int, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims = {"sub": str(user_id), "ver": version, "iat": issued, "exp": issued + self._ttl}
        return jwt.encode(claims, self._key, algorithm="HS256")

    def claims(self, token: str) -> TokenClaims | None:
        """Whom a valid, unexpired token names and under which version, else None. Tokens without
        a version (issued before sessions could be revoked) are refused."""
        try:
            claims = jwt.decode(
                token, self._key, algorithms=["HS256"], options={"require": ["exp", "sub", "ver"]}
            )
            return TokenClaims(user_id=int(claims["sub"]), version=int(claims["ver"]))
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
