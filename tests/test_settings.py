"""Settings from ``MESOCLINIC_*``: local defaults that just work, and production refusing weak keys."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest

from mesoclinic.errors import ConfigurationError
from mesoclinic.settings import MIN_SECRET_LENGTH, Settings

STRONG_KEY = "k8Qz3xV1mN5pL7tR9wB2yD4fH6jK0sAq-Ur5Tn8Wc"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: no MESOCLINIC_* variable from the shell running the tests."""
    for name in list(os.environ):
        if name.startswith("MESOCLINIC_"):
            monkeypatch.delenv(name)


def test_a_local_key_is_generated_owner_only_on_first_load_and_reused_after(tmp_path: Path) -> None:
    var_dir = tmp_path / "not" / "yet" / "there"

    first = Settings(var_dir=var_dir).secret
    second = Settings(var_dir=var_dir).secret

    key_file = var_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= MIN_SECRET_LENGTH
    assert second == first == key_file.read_bytes().strip()
    assert [p.name for p in var_dir.iterdir()] == ["secret.key"]


def test_separate_installations_get_different_keys(tmp_path: Path) -> None:
    assert Settings(var_dir=tmp_path / "a").secret != Settings(var_dir=tmp_path / "b").secret


def test_concurrent_first_loads_agree_on_one_key(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    workers = 8
    start = Barrier(workers)

    def load(_: int) -> bytes:
        settings = Settings(var_dir=var_dir)
        start.wait(timeout=30)
        return settings.secret

    with ThreadPoolExecutor(max_workers=workers) as pool:
        keys = set(pool.map(load, range(workers)))

    assert keys == {(var_dir / "secret.key").read_bytes().strip()}
    assert [p.name for p in var_dir.iterdir()] == ["secret.key"]  # no drafts left behind


def test_a_configured_key_is_used_and_no_key_file_is_written(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, secret_key=STRONG_KEY)

    assert settings.secret == STRONG_KEY.encode()
    assert not (tmp_path / "secret.key").exists()


def test_production_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, production=True)

    with pytest.raises(ConfigurationError, match="MESOCLINIC_SECRET_KEY is required"):
        _ = settings.secret
    assert not (tmp_path / "secret.key").exists()


def test_production_ignores_a_key_file_left_from_local_use(tmp_path: Path) -> None:
    Settings(var_dir=tmp_path).secret  # noqa: B018 - a development run created var/secret.key

    with pytest.raises(ConfigurationError, match="required"):
        _ = Settings(var_dir=tmp_path, production=True).secret


@pytest.mark.parametrize(
    "weak_key",
    [
        "changeme",
        "changeme-0123456789abcdefghijklmnopqrstuvwxyz",
        "CHANGE-ME-0123456789abcdefghijklmnopqrstuvwxyz",
        "our-clinic-secret-0123456789abcdefghijklmnop",
        "placeholder-0123456789abcdefghijklmnopqrstuv",
        STRONG_KEY[: MIN_SECRET_LENGTH - 1],
        "",
    ],
    ids=["changeme", "changeme-long", "change-me-upper", "secret-word", "placeholder", "one-short", "empty"],
)
def test_production_refuses_a_weak_key(tmp_path: Path, weak_key: str) -> None:
    settings = Settings(var_dir=tmp_path, production=True, secret_key=weak_key)

    with pytest.raises(ConfigurationError, match="weak"):
        _ = settings.secret


@pytest.mark.parametrize("strong_key", [STRONG_KEY, STRONG_KEY[:MIN_SECRET_LENGTH]], ids=["long", "minimum"])
def test_production_accepts_a_strong_key(tmp_path: Path, strong_key: str) -> None:
    settings = Settings(var_dir=tmp_path, production=True, secret_key=strong_key)

    assert settings.secret == strong_key.encode()
    assert settings.secure_cookies


def test_production_settings_are_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESOCLINIC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MESOCLINIC_PRODUCTION", "true")
    monkeypatch.setenv("MESOCLINIC_SECRET_KEY", "changeme")
    with pytest.raises(ConfigurationError, match="weak"):
        _ = Settings().secret

    monkeypatch.setenv("MESOCLINIC_SECRET_KEY", STRONG_KEY)
    assert Settings().secret == STRONG_KEY.encode()


def test_an_empty_key_variable_counts_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. ``MESOCLINIC_SECRET_KEY=${CLINIC_KEY}`` in an env file when CLINIC_KEY was never filled in
    monkeypatch.setenv("MESOCLINIC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MESOCLINIC_SECRET_KEY", "")

    local_key = Settings().secret

    assert local_key == (tmp_path / "secret.key").read_bytes().strip()
    assert len(local_key) >= MIN_SECRET_LENGTH
    monkeypatch.setenv("MESOCLINIC_PRODUCTION", "true")
    with pytest.raises(ConfigurationError, match="required"):
        _ = Settings().secret


def test_development_accepts_a_weak_key_so_local_setups_just_work(tmp_path: Path) -> None:
    assert Settings(var_dir=tmp_path, secret_key="changeme").secret == b"changeme"


def test_the_database_defaults_to_sqlite_under_the_var_directory(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")

    assert settings.database_url == f"sqlite:///{(tmp_path / 'var' / 'mesoclinic.db').resolve()}"
    assert settings.media_path == tmp_path / "var" / "media"
    assert not settings.production
    assert not settings.secure_cookies


def test_the_default_var_directory_is_made_absolute_in_the_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    url = Settings().database_url

    # Absolute, so a later change of working directory does not open a different database.
    assert url == f"sqlite:///{tmp_path.resolve()}/var/mesoclinic.db"


def test_a_configured_database_url_and_media_directory_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESOCLINIC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MESOCLINIC_DATABASE_URL", "postgresql+psycopg://clinic@db.internal/mesoclinic")
    monkeypatch.setenv("MESOCLINIC_MEDIA_DIR", str(tmp_path / "photos"))

    settings = Settings()

    assert settings.var_dir == tmp_path / "var"
    assert settings.database_url == "postgresql+psycopg://clinic@db.internal/mesoclinic"
    assert settings.media_path == tmp_path / "photos"
