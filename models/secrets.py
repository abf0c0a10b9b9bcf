"""Encryption at rest for account secrets: one Fernet token holding a JSON object of them."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, secrets: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode())

    def open(self, token: bytes) -> dict[str, str]:
        try:
            opened: dict[str, str] = json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise RuntimeError("stored secrets cannot be decrypted: SHARELINE_SECRET_KEY changed?") from exc
        return opened
