"""Consistent, restorable backups of the database while the application runs.

SQLite: the online backup API (a consistent copy even with writers). PostgreSQL: ``pg_dump`` in
custom format, restored with ``pg_restore``. Photos under the media directory are already
encrypted files; copy that directory alongside (and keep the secret key safe: without it they
cannot be read).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from mesoclinic.errors import ConfigurationError


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database:
        raise ConfigurationError("in-memory SQLite databases cannot be backed up")
    return Path(database)


def _libpq_args(database_url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump/pg_restore; the password goes in the environment, where
    other local users cannot read it from the process list."""
    url = make_url(database_url)
    args = [f"--dbname={url.database}"]
    if url.host:
        args.append(f"--host={url.host}")
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--username={url.username}")
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    return args, env


def pg_tool(name: str) -> str:
    """Prefer the newest server-side binaries so pg_dump is not older than the server."""
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return str(candidates[-1])
    found = shutil.which(name)
    if not found:
        raise ConfigurationError(f"{name} is not installed (apt-get install postgresql-client)")
    return found


def backup(database_url: str, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if database_url.startswith("sqlite"):
        with (
            sqlite3.connect(_sqlite_path(database_url)) as source,
            sqlite3.connect(destination) as target,
        ):
            source.backup(target)
        return destination
    args, env = _libpq_args(database_url)
    subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [
            pg_tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            f"--file={destination}",
            *args,
        ],
        check=True,
        env=env,
    )
    return destination


def restore(database_url: str, source: Path) -> None:
    """Replace the database's contents with a backup (stop the application first)."""
    if not source.is_file():
        raise ConfigurationError(f"no backup file at {source}")
    if database_url.startswith("sqlite"):
        with (
            sqlite3.connect(source) as backup_db,
            sqlite3.connect(_sqlite_path(database_url)) as target,
        ):
            backup_db.backup(target)
        return
    args, env = _libpq_args(database_url)
    subprocess.run(  # noqa: S603
        [
            pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *args,
            str(source),
        ],
        check=True,
        env=env,
    )
