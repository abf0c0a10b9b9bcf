"""Passwords (argon2id) and bearer tokens (HS256 JWT signed with a key derived from the secret key)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash to verify against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("shareline-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class TokenSigner:
    def __init__(self, secret_key: str, ttl: timedelta) -> None:
        # The token key is derived, so a leaked token key never reveals the secrets' encryption key.
        self._key = hmac.new(secret_key.encode(), b"shareline-access-token", hashlib.sha256).digest()
        self._ttl = ttl

    def issue(self, user_id: int, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims = {"sub": str(user_id), "iat": issued, "exp": issued + self._ttl}
        return jwt.encode(claims, self._key, algorithm="HS256")

    def user_id(self, token: str) -> int | None:
        """The user a valid, unexpired token names, else None."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"], options={"require": ["exp", "sub"]})
            return int(claims["sub"])
        except (jwt.PyJWTError, ValueError):
            return None
