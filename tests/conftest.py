"""Real databases for every test: SQLite and PostgreSQL, schema built by the migrations.

A template database per backend is migrated and given the test world once; each test gets its own
copy (a file copy for SQLite, ``CREATE DATABASE … TEMPLATE`` for PostgreSQL), so tests commit for
real and never see each other's data. ``MESOCLINIC_TEST_DATABASES=sqlite`` narrows a local run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from mesoclinic.app import create_app
from mesoclinic.db import make_engine, make_session_factory, transaction
from mesoclinic.migrations import upgrade_database
from mesoclinic.settings import Settings
from tests.pg_cluster import PgCluster
from tests.support import TEST_SECRET_KEY, World, build_world

# CI replays the same examples every run (no flaky discoveries on a loaded machine, no deadline);
# local runs keep exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

BACKENDS = [
    b.strip() for b in os.environ.get("MESOCLINIC_TEST_DATABASES", "sqlite,postgresql").split(",") if b
]


@dataclass
class Template:
    url: str
    world: World
    location: str  # SQLite file path or PostgreSQL database name


def _build(url: str) -> World:
    upgrade_database(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as db:
        world = build_world(db)
    engine.dispose()  # closing SQLite's last connection checkpoints the WAL into the file we copy
    return world


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    return Template(url, _build(url), str(path))


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> Template:
    with psycopg.connect(pg_cluster.admin_url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("CREATE DATABASE mc_template")
    url = pg_cluster.url("mc_template")
    return Template(url, _build(url), "mc_template")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Template = request.getfixturevalue("sqlite_template")
        target = tmp_path / "test.db"
        shutil.copyfile(template.location, target)
        yield f"sqlite:///{target}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    template = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin_dsn = cluster.admin_url.replace("+psycopg", "")
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE {template.location}')
    yield cluster.url(name)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def world(backend: str, request: pytest.FixtureRequest) -> World:
    template: Template = request.getfixturevalue(f"{'sqlite' if backend == 'sqlite' else 'pg'}_template")
    return template.world


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, var_dir=tmp_path / "var", secret_key=TEST_SECRET_KEY)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    """A separate connection for arranging and checking data, as another process would see it.

    On SQLite it uses the driver's deferred transactions (not the app's BEGIN IMMEDIATE), so an
    observer that has read something does not hold the write lock the app under test needs.
    Tests that write through it commit.
    """
    engine = create_engine(database_url) if database_url.startswith("sqlite") else make_engine(database_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def count(db: Session, table: str) -> int:
    db.rollback()  # see the latest committed state
    return int(db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - test-owned names
