"""Settings are validated at start: secrets, URLs, production rules."""

from __future__ import annotations

import stat

import pytest
from pydantic import ValidationError

from settings import Settings


def test_development_generates_a_private_key_once(tmp_path, monkeypatch):
    monkeypatch.delenv("SHARELINE_SECRET_KEY", raising=False)
    first = Settings(data_dir=tmp_path)
    second = Settings(data_dir=tmp_path)
    assert first.secret_key is not None and second.secret_key is not None
    assert first.secret_key.get_secret_value() == second.secret_key.get_secret_value()
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_production_refuses_to_start_without_a_key_or_database(tmp_path, monkeypatch):
    monkeypatch.delenv("SHARELINE_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SHARELINE_SECRET_KEY is required"):
        Settings(env="production", data_dir=tmp_path, database_url="postgresql://db/x")
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(ValidationError, match="SHARELINE_DATABASE_URL is required"):
        Settings(env="production", secret_key="A" * 43 + "=")


def test_bad_key_and_database_url_are_refused(tmp_path):
    with pytest.raises(ValidationError, match="32 url-safe base64"):
        Settings(secret_key="changeme", data_dir=tmp_path)
    settings = Settings(database_url="mysql://x/y", data_dir=tmp_path)
    with pytest.raises(ValueError, match="postgresql://"):
        _ = settings.sqlalchemy_url
    assert (
        Settings(database_url="postgres://u@h/d", data_dir=tmp_path).sqlalchemy_url
        == "postgresql+psycopg://u@h/d"
    )


def test_environment_variables_use_the_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("SHARELINE_PUBLIC_URL", "https://wa.example.com")
    monkeypatch.setenv("SHARELINE_DATA_DIR", str(tmp_path))
    assert Settings().public_url == "https://wa.example.com"
