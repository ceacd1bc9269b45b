"""The operator's command line, run in-process against real databases."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from mesoclinic.app import create_app
from mesoclinic.audit.service import SYSTEM_ACTOR, record, verify_chain
from mesoclinic.cli import app as cli_app
from mesoclinic.db import make_engine, make_session_factory, transaction
from mesoclinic.migrations import alembic_config
from mesoclinic.models import AuditEvent, Clinic, ClinicMembership, Patient, Qualification, User
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.pg_cluster import PgCluster
from tests.support import TEST_SECRET_KEY, World

STRONG_PASSWORD = "plum-orchard-lantern-42"


@pytest.fixture
def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, as on an operator's first run."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"e_{uuid.uuid4().hex[:12]}"
    admin_dsn = cluster.admin_url.replace("+psycopg", "")
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield cluster.url(name)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def environment(database_url: str, var_dir: Path, **overrides: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "MESOCLINIC_DATABASE_URL": database_url,
        "MESOCLINIC_VAR_DIR": str(var_dir),
        "MESOCLINIC_SECRET_KEY": TEST_SECRET_KEY,
        "MESOCLINIC_PRODUCTION": "false",
        "MESOCLINIC_MEDIA_DIR": None,
    }
    env.update(overrides)
    return env


def run(args: list[str], env: dict[str, str | None], input: str | None = None, catch: bool = False) -> Result:
    return CliRunner().invoke(cli_app, args, env=env, input=input, catch_exceptions=catch)


@contextmanager
def session_on(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def printed_logins(output: str) -> list[tuple[str, str, str]]:
    """``(role, email, password)`` rows from the login table ``demo`` prints."""
    rows = []
    for line in output.split("Demo logins", 1)[1].splitlines():
        if line.startswith("  "):
            role, email, password = line.split()[:3]
            rows.append((role, email, password))
    return rows


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# db upgrade


def test_db_upgrade_builds_the_schema_and_is_idempotent(empty_database_url: str, tmp_path: Path) -> None:
    env = environment(empty_database_url, tmp_path / "var")

    first = run(["db", "upgrade"], env)
    second = run(["db", "upgrade"], env)

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert "database is up to date" in second.stdout
    engine = make_engine(empty_database_url)
    assert {"audit_event", "clinic", "patient", "app_user"} <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        applied = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert applied == [ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()]
    engine.dispose()


def test_db_upgrade_creates_a_private_secret_key_when_none_is_configured(
    empty_database_url: str, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"

    result = run(["db", "upgrade"], environment(empty_database_url, var_dir, MESOCLINIC_SECRET_KEY=None))

    assert result.exit_code == 0, result.output
    key_file = var_dir / "secret.key"
    assert mode(key_file) == 0o600
    assert len(key_file.read_bytes().strip()) >= 32
    assert (var_dir / "media").is_dir()


def test_db_upgrade_in_production_without_a_key_refuses_before_touching_the_database(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = environment(
        empty_database_url, tmp_path / "var", MESOCLINIC_SECRET_KEY=None, MESOCLINIC_PRODUCTION="true"
    )

    result = run(["db", "upgrade"], env, catch=True)

    assert result.exit_code == 2
    assert "MESOCLINIC_SECRET_KEY" in result.stderr
    assert not (tmp_path / "var" / "secret.key").exists()
    engine = make_engine(empty_database_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


# demo


def test_demo_seeds_an_empty_database_and_keeps_its_logins_private(
    empty_database_url: str, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"

    result = run(["demo"], environment(empty_database_url, var_dir))

    assert result.exit_code == 0, result.output
    assert "seeded the demo clinic" in result.stdout
    today = date.today()
    with session_on(empty_database_url) as db:
        assert set(db.scalars(select(Clinic.slug))) == {"lumen-marylebone", "lumen-manchester"}
        assert db.scalar(select(func.count()).select_from(Patient)) == 50
        roles = sorted(db.scalars(select(User.role)))
        assert roles == ["admin", "patient", "practitioner", "practitioner", "practitioner", "receptionist"]
        credentials = {
            email: (q.valid_from <= today <= q.expires_on, q.scope)
            for q, email in db.execute(
                select(Qualification, User.email).join(User, User.id == Qualification.user_id)
            )
        }
        assert credentials == {
            "nurse.vogel@lumen.example": (False, "mesotherapy"),
            "dr.hart@lumen.example": (True, "mesotherapy"),
            "dr.nasser@lumen.example": (True, "mesotherapy"),
        }
        portal = db.scalars(select(User).where(User.role == "patient")).one()
        linked = db.scalars(select(Patient).where(Patient.user_id == portal.id)).one()
        assert linked.email == portal.email
        receptionist_clinics = db.scalars(
            select(Clinic.slug)
            .join(ClinicMembership, ClinicMembership.clinic_id == Clinic.id)
            .join(User, User.id == ClinicMembership.user_id)
            .where(User.role == "receptionist")
        ).all()
        assert receptionist_clinics == ["lumen-marylebone"]
        assert verify_chain(db) is None
        assert count(db, "audit_event WHERE action = 'user.created'") == 6

    logins_file = var_dir / "demo-logins.json"
    assert mode(logins_file) == 0o600
    saved = [(item["role"], item["email"], item["password"]) for item in json.loads(logins_file.read_text())]
    assert saved == printed_logins(result.stdout)
    assert sorted(role for role, _, _ in saved) == roles
    assert all(password.startswith("demo-") and len(password) > 16 for _, _, password in saved)
    assert str(logins_file) in result.stdout


def test_every_printed_demo_login_signs_in(empty_database_url: str, tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    result = run(["demo"], environment(empty_database_url, var_dir))
    assert result.exit_code == 0, result.output
    printed = [(email, password) for _, email, password in printed_logins(result.stdout)]
    assert len(printed) == 6

    app = create_app(Settings(database_url=empty_database_url, var_dir=var_dir, secret_key=TEST_SECRET_KEY))
    with TestClient(app) as client:
        statuses = {
            email: client.post("/api/v1/auth/tokens", json={"email": email, "password": password}).status_code
            for email, password in printed
        }
        wrong = client.post("/api/v1/auth/tokens", json={"email": printed[0][0], "password": "demo-guess"})

    assert statuses == {email: 201 for email, _ in printed}
    assert wrong.status_code == 401


def test_demo_if_empty_seeds_once_and_then_reprints_the_same_logins(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = environment(empty_database_url, tmp_path / "var")

    first = run(["demo", "--if-empty"], env)
    with session_on(empty_database_url) as db:
        events_after_first = count(db, "audit_event")
    second = run(["demo", "--if-empty"], env)

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert "seeded the demo clinic" in first.stdout
    assert "seeded" not in second.stdout
    assert printed_logins(second.stdout) == printed_logins(first.stdout)
    assert len(printed_logins(second.stdout)) == 6
    with session_on(empty_database_url) as db:
        assert count(db, "clinic") == 2
        assert count(db, "patient") == 50
        assert count(db, "app_user") == 6
        assert count(db, "audit_event") == events_after_first


def test_demo_rewrites_a_stale_world_readable_logins_file_as_owner_only(
    empty_database_url: str, tmp_path: Path
) -> None:
    # e.g. the database was deleted to start over, but var/ was kept from an older install
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    stale = var_dir / "demo-logins.json"
    stale.write_text("[]")
    stale.chmod(0o644)

    result = run(["demo"], environment(empty_database_url, var_dir))

    assert result.exit_code == 0, result.output
    assert len(json.loads(stale.read_text())) == 6
    assert mode(stale) == 0o600


def test_demo_without_if_empty_refuses_a_database_that_holds_data(
    database_url: str, db: Session, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"
    clinics = count(db, "clinic")

    result = run(["demo"], environment(database_url, var_dir))

    assert result.exit_code == 1
    assert "already holds data" in result.stderr
    assert count(db, "clinic") == clinics
    assert count(db, "clinic WHERE slug LIKE 'lumen-%'") == 0
    assert not (var_dir / "demo-logins.json").exists()


def test_demo_is_refused_in_production_mode(empty_database_url: str, tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    strong_key = "k" + "8Qz3xV1mN5pL7tR9wB2yD4fH6jK0sA" * 2

    result = run(
        ["demo"],
        environment(
            empty_database_url, var_dir, MESOCLINIC_PRODUCTION="true", MESOCLINIC_SECRET_KEY=strong_key
        ),
    )

    assert result.exit_code == 2
    assert "production" in result.stderr
    assert not (var_dir / "demo-logins.json").exists()
    engine = make_engine(empty_database_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


# user create


def user_create(database_url: str, tmp_path: Path, email: str, password_input: str, *clinics: str) -> Result:
    args = ["user", "create", "--email", email, "--name", "Nia Okoro", "--role", "practitioner"]
    for slug in clinics:
        args += ["--clinic", slug]
    return run(args, environment(database_url, tmp_path / "var"), input=password_input)


def test_user_create_prompts_for_the_password_and_the_new_user_can_sign_in(
    database_url: str, db: Session, world: World, client: TestClient, tmp_path: Path
) -> None:
    result = user_create(
        database_url,
        tmp_path,
        "Nia.Okoro@A.example",
        f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n",
        "clinic-a",
        "clinic-b",
    )

    assert result.exit_code == 0, result.output
    db.rollback()
    user = db.scalars(select(User).where(User.email == "nia.okoro@a.example")).one()
    assert f"created user {user.id} <nia.okoro@a.example> as practitioner" in result.stdout
    assert STRONG_PASSWORD not in result.output
    memberships = set(
        db.scalars(select(ClinicMembership.clinic_id).where(ClinicMembership.user_id == user.id))
    )
    assert memberships == {world.clinic_a, world.clinic_b}
    created = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.created")).all()[-1]
    assert (created.actor, created.target_id) == ("system", str(user.id))
    signed_in = client.post(
        "/api/v1/auth/tokens", json={"email": "nia.okoro@a.example", "password": STRONG_PASSWORD}
    )
    assert signed_in.status_code == 201


def test_user_create_refuses_a_weak_password_and_creates_nothing(
    database_url: str, db: Session, tmp_path: Path
) -> None:
    users, events = count(db, "app_user"), count(db, "audit_event")

    result = user_create(database_url, tmp_path, "weak@a.example", "pw\npw\n", "clinic-a")

    assert result.exit_code == 2
    assert "refused: Password must be at least 12 characters" in result.stderr
    assert (count(db, "app_user"), count(db, "audit_event")) == (users, events)


def test_user_create_refuses_an_unknown_clinic_slug_and_creates_nothing(
    database_url: str, db: Session, tmp_path: Path
) -> None:
    users, events = count(db, "app_user"), count(db, "audit_event")

    result = user_create(
        database_url,
        tmp_path,
        "nia@a.example",
        f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n",
        "clinic-a",
        "nowhere",
    )

    assert result.exit_code == 2
    assert "unknown clinic slug(s): nowhere" in result.stderr
    assert (count(db, "app_user"), count(db, "audit_event")) == (users, events)


def test_user_create_refuses_an_email_already_in_use(
    database_url: str, db: Session, world: World, tmp_path: Path
) -> None:
    users = count(db, "app_user")

    result = user_create(
        database_url, tmp_path, world.clinician.upper(), f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n", "clinic-a"
    )

    assert result.exit_code == 2
    assert "refused: A user with that email already exists" in result.stderr
    assert count(db, "app_user") == users


# backup and restore


def test_restore_brings_back_the_state_at_backup_time(
    database_url: str, db: Session, world: World, tmp_path: Path
) -> None:
    env = environment(database_url, tmp_path / "var")
    backup_file = tmp_path / "backups" / "before.dump"
    events_at_backup = count(db, "audit_event")

    backed_up = run(["backup", str(backup_file)], env)
    assert backed_up.exit_code == 0, backed_up.output
    assert backup_file.is_file()
    assert str(backup_file) in backed_up.stdout

    db.execute(update(Patient).where(Patient.id == world.patient_a).values(family_name="Byron"))
    db.add(Clinic(name="Clinic C", slug="clinic-c"))
    record(db, SYSTEM_ACTOR, "test.after-backup")
    db.commit()
    assert count(db, "clinic") == 3
    db.close()  # the operator stops the application before restoring

    restored = run(["restore", str(backup_file), "--yes"], env)

    assert restored.exit_code == 0, restored.output
    assert f"restored from {backup_file}" in restored.stdout
    assert db.get(Patient, world.patient_a).family_name == "Lovelace"  # type: ignore[union-attr]
    assert count(db, "clinic WHERE slug = 'clinic-c'") == 0
    assert count(db, "audit_event") == events_at_backup
    assert verify_chain(db) is None
    db.close()

    # The restored database takes new writes where it left off (ids, sequences and the chain).
    engine = make_engine(database_url)
    with transaction(make_session_factory(engine)) as session:
        session.add(Clinic(name="Clinic D", slug="clinic-d"))
        record(session, SYSTEM_ACTOR, "test.after-restore")
    engine.dispose()
    assert count(db, "audit_event") == events_at_backup + 1
    assert verify_chain(db) is None
    assert run(["audit", "verify"], env).exit_code == 0


def test_restore_without_yes_refuses_and_keeps_the_current_data(
    database_url: str, db: Session, world: World, tmp_path: Path
) -> None:
    env = environment(database_url, tmp_path / "var")
    backup_file = tmp_path / "before.dump"
    assert run(["backup", str(backup_file)], env).exit_code == 0
    db.execute(update(Patient).where(Patient.id == world.patient_a).values(family_name="Byron"))
    db.commit()
    db.close()

    result = run(["restore", str(backup_file)], env)

    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert db.get(Patient, world.patient_a).family_name == "Byron"  # type: ignore[union-attr]


def test_restore_refuses_a_missing_backup_file_and_keeps_the_current_data(
    database_url: str, db: Session, tmp_path: Path
) -> None:
    events = count(db, "audit_event")
    db.close()

    result = run(
        ["restore", str(tmp_path / "nothing-here.dump"), "--yes"],
        environment(database_url, tmp_path),
        catch=True,
    )

    assert result.exit_code == 2
    assert "no backup file" in result.stderr
    assert count(db, "audit_event") == events
