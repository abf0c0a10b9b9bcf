"""Shareline's one settings class: environment variables prefixed ``SHARELINE_``, validated at start.

Settings enter the code through constructors and FastAPI dependencies; nothing below reads the
environment on its own.
"""

from __future__ import annotations

import base64
import hashlib
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRET_KEY_FILE = "secret.key"  # noqa: S105 (a file name)


class Environment(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHARELINE_", extra="ignore")

    env: Environment = Environment.development
    data_dir: Path = Path(".shareline")
    media_path: Path | None = None

    # External servers; the embedded stack (`make run`) fills these in for its children.
    database_url: str | None = None
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "shareline"
    # True: the ShareContact search attribute holds a keyed hash of the mobile, not the number
    # (Temporal's UI has no per-account access control); `python -m stack.find_contact` finds one.
    temporal_contact_hash: bool = False

    public_url: str = "http://localhost:8000"
    admin_password: SecretStr | None = None
    secret_key: SecretStr | None = None
    access_token_minutes: int = Field(default=12 * 60, ge=1)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = Field(default=1, ge=1, le=64)  # uvicorn processes of the embedded stack
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # The worker serves its Prometheus metrics (domain.metrics) on this port, all interfaces; off when unset.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    media_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    # Hosts inbound media may also come from, for every provider (`host` or `host:port`, comma
    # separated): regional endpoints, or fakes on loopback, whose addresses are then not checked.
    media_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    webhook_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    http_timeout_seconds: float = Field(default=30.0, gt=0)

    twilio_api_base: str = "https://api.twilio.com"
    meta_graph_base: str = "https://graph.facebook.com/v23.0"
    sinch_auth_base: str = "https://auth.sinch.com"
    vidaoo_api_base: str = "https://api.vidaoo.com"
    assistant_base_url: str | None = None
    assistant_model: str | None = None
    assistant_api_key: SecretStr | None = None
    # `make demo` only: the simulated provider's URL. Set, it turns demo mode on (the /demo pages
    # and their API, proxied to the simulator); unset (always, outside the demo), no demo route exists.
    demo_simulator_url: str | None = None

    @field_validator("media_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list | tuple):
            return entries
        hosts = tuple(str(entry).strip().lower() for entry in entries if str(entry).strip())
        for host in hosts:
            _check_host(host)
        return hosts

    @model_validator(mode="after")
    def _require_secret_key(self) -> Self:
        """Production refuses to start without a key; development keeps one in the data dir."""
        if self.secret_key is None:
            if self.env is Environment.production:
                raise ValueError("SHARELINE_SECRET_KEY is required in production")
            self.secret_key = SecretStr(_development_key(self.data_dir))
        _check_fernet_key(self.secret_key.get_secret_value())
        if self.env is Environment.production and self.database_url is None:
            raise ValueError("SHARELINE_DATABASE_URL is required in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with psycopg 3 as the driver, whatever scheme the operator wrote."""
        if self.database_url is None:
            raise RuntimeError("SHARELINE_DATABASE_URL is not set (the embedded stack sets it: `make run`)")
        url = self.database_url
        for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        raise ValueError("SHARELINE_DATABASE_URL must be a postgresql:// URL")

    @property
    def libpq_url(self) -> str:
        """The database URL for a plain psycopg connection (LISTEN, outside SQLAlchemy)."""
        return libpq_url(self.sqlalchemy_url)

    def purpose_key(self, purpose: str) -> bytes:
        """A key derived from the secret key for one use only (signing media links, hashing
        contacts...), so no two uses share a key and none of them is the encryption key."""
        assert self.secret_key is not None
        secret = self.secret_key.get_secret_value().encode()
        return hashlib.sha256(b"shareline " + purpose.encode() + b"\0" + secret).digest()

    @property
    def temporal_contact_key(self) -> bytes | None:
        """The key ShareContact values are hashed with, or None to store mobiles as they are."""
        return self.purpose_key("temporal contact hash") if self.temporal_contact_hash else None

    @property
    def demo(self) -> bool:
        return self.demo_simulator_url is not None

    @property
    def media_dir(self) -> Path:
        """Shareline's media store (SHARELINE_MEDIA_PATH, else media/ under the data dir)."""
        return self.media_path or self.data_dir / "media"


def _check_host(entry: str) -> None:
    try:
        parts = urlsplit(f"//{entry}")
        valid = bool(parts.hostname) and not (parts.path or parts.query or parts.username) and parts.port != 0
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"SHARELINE_MEDIA_ALLOWED_HOSTS: {entry!r} is not a host or host:port")


def _check_fernet_key(key: str) -> None:
    try:
        if len(base64.urlsafe_b64decode(key.encode())) != 32:
            raise ValueError
    except ValueError as exc:
        raise ValueError(
            "SHARELINE_SECRET_KEY must be 32 url-safe base64-encoded bytes "
            '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
        ) from exc


def _development_key(data_dir: Path) -> str:
    path = data_dir / SECRET_KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def libpq_url(sqlalchemy_url: str) -> str:
    """A SQLAlchemy psycopg URL as plain psycopg (libpq) takes it."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
