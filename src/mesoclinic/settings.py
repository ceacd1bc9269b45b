"""One settings object, read from ``MESOCLINIC_*`` environment variables.

Local defaults just work (SQLite and media under ``var/``); production mode refuses to start with a
missing or weak secret key, because that key encrypts photos and second-factor secrets.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mesoclinic.errors import ConfigurationError

WEAK_SECRET_MARKERS = ("changeme", "change-me", "secret", "password", "example", "placeholder")
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    # An empty variable (``MESOCLINIC_SECRET_KEY=`` from an unfilled env file) means "not set",
    # not an empty encryption key.
    model_config = SettingsConfigDict(env_prefix="MESOCLINIC_", extra="ignore", env_ignore_empty=True)

    var_dir: Path = Path("var")
    database_url: str = ""
    media_dir: Path | None = None
    secret_key: SecretStr | None = None
    production: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    api_token_days: int = Field(default=90, ge=1, le=366)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    trust_proxy_headers: bool = False
    #: Largest accepted photo upload (bytes); other requests are limited to 1 MiB.
    photo_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024)
    #: Absolute base of links put in messages and calendar-feed URLs (e.g. ``https://clinic.example``);
    #: empty means "the address the request came in on".
    public_base_url: str = ""
    # Messaging: email through a real SMTP server, SMS through an HTTP webhook of the clinic's gateway.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "MesoClinic <no-reply@localhost>"
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    sms_webhook_url: str = ""
    sms_webhook_token: SecretStr | None = None
    sms_timeout_seconds: float = Field(default=10.0, gt=0)
    # The outbox worker.
    worker_poll_seconds: float = Field(default=15.0, gt=0)
    worker_batch_size: int = Field(default=20, ge=1, le=500)
    #: How long a claimed message stays the claimer's before another worker may take it over.
    worker_lease_seconds: int = Field(default=300, ge=10)
    outbox_max_attempts: int = Field(default=6, ge=1, le=50)

    @model_validator(mode="after")
    def _fill_paths(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'mesoclinic.db').resolve()}"
        return self

    @property
    def media_path(self) -> Path:
        return self.media_dir or self.var_dir / "media"

    @property
    def secure_cookies(self) -> bool:
        return self.production

    @cached_property
    def secret(self) -> bytes:
        """The application key; generated into ``var/secret.key`` (mode 0600) on first local run."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            check_secret_strength(value, production=self.production)
            return value.encode()
        if self.production:
            raise ConfigurationError("MESOCLINIC_SECRET_KEY is required in production mode")
        return load_or_create_key_file(self.var_dir / "secret.key")


def check_secret_strength(value: str, *, production: bool) -> None:
    weak = len(value) < MIN_SECRET_LENGTH or any(m in value.lower() for m in WEAK_SECRET_MARKERS)
    if weak and production:
        raise ConfigurationError(
            f"MESOCLINIC_SECRET_KEY is weak: use at least {MIN_SECRET_LENGTH} random characters"
        )


def load_or_create_key_file(path: Path) -> bytes:
    """Create the key atomically (written aside, then linked) so two first starts agree on it."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_bytes().strip()


def get_settings() -> Settings:
    return Settings()
