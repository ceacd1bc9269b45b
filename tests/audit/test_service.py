"""The audit trail on the real databases: appends chain, the database refuses edits, tampering shows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from mesoclinic.audit.service import SYSTEM_ACTOR, Actor, record, record_refusal, verify_chain
from mesoclinic.cli import app as cli_app
from mesoclinic.db import make_engine, make_session_factory, transaction
from mesoclinic.errors import Refusal
from mesoclinic.models import AuditEvent, Patient
from tests.conftest import count
from tests.support import TEST_SECRET_KEY, World, bearer


def audit_verify(database_url: str, tmp_path: Path) -> Result:
    env = {
        "MESOCLINIC_DATABASE_URL": database_url,
        "MESOCLINIC_VAR_DIR": str(tmp_path / "var"),
        "MESOCLINIC_SECRET_KEY": TEST_SECRET_KEY,
        "MESOCLINIC_PRODUCTION": "false",
    }
    return CliRunner().invoke(cli_app, ["audit", "verify"], env=env, catch_exceptions=False)


def events(db: Session) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def drop_append_only_triggers(db: Session, backend: str) -> None:
    """What a DBA (or an intruder with the database password) can do; the hash chain still tells."""
    if backend == "postgresql":
        db.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
    else:
        db.execute(text("DROP TRIGGER audit_event_no_update"))
        db.execute(text("DROP TRIGGER audit_event_no_delete"))
    db.commit()


def test_events_from_requests_and_from_record_form_an_intact_chain(
    client: TestClient, world: World, db: Session, database_url: str
) -> None:
    before = count(db, "audit_event")
    clinician = bearer(client, world.clinician)
    assert client.get(f"/api/v1/patients/{world.patient_a}", headers=clinician).status_code == 200
    colleague = bearer(client, world.colleague)
    assert client.get(f"/api/v1/patients/{world.patient_a}", headers=colleague).status_code == 404
    assert client.get("/api/v1/patients", headers={"Authorization": "Bearer forged"}).status_code == 401
    engine = make_engine(database_url)
    with transaction(make_session_factory(engine)) as session:
        record(
            session,
            Actor(None, "system", "::1", "x" * 400),
            "test.note",
            target_type="patient",
            target_id=world.patient_a,
            patient_id=world.patient_a,
            clinic_id=world.clinic_a,
            details={"name": "Zoë Ångström ✓", "nested": {"ids": [1, 2, 3], "ratio": 0.1, "none": None}},
        )
    engine.dispose()

    trail = events(db)

    assert verify_chain(db) is None
    assert len(trail) > before + 4
    assert {("patient.read", "success"), ("patient.read", "denied"), ("auth.token", "denied")} <= {
        (e.action, e.outcome) for e in trail
    }
    note = trail[-1]
    assert note.details == {
        "name": "Zoë Ångström ✓",
        "nested": {"ids": [1, 2, 3], "ratio": 0.1, "none": None},
    }
    assert (note.target_id, note.user_agent) == (str(world.patient_a), "x" * 300)
    # Every row names its predecessor, so the trail is one line, not a tree.
    assert [e.prev_hash for e in trail[1:]] == [e.row_hash for e in trail[:-1]]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET actor = 'mallory', details = '{}' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_remove_an_audit_row(db: Session, statement: str) -> None:
    first = events(db)[0]
    original = (first.actor, first.details, first.row_hash)

    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text(statement), {"id": first.id})
    db.rollback()

    db.expire_all()
    kept = db.get(AuditEvent, first.id)
    assert kept is not None
    assert (kept.actor, kept.details, kept.row_hash) == original
    assert verify_chain(db) is None


def test_the_database_refuses_an_orm_edit_of_a_loaded_audit_row(db: Session) -> None:
    event = events(db)[-1]
    original_details = dict(event.details)
    event.details = {"role": "patient", "edited": True}

    with pytest.raises(DBAPIError, match="append-only"):
        db.commit()
    db.rollback()

    assert events(db)[-1].details == original_details


def test_postgresql_also_refuses_truncate(db: Session, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    before = count(db, "audit_event")

    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text("TRUNCATE audit_event"))
    db.rollback()

    assert count(db, "audit_event") == before > 0


@pytest.mark.parametrize(
    "change",
    [{"details": {"role": "patient", "edited": True}}, {"actor": "someone-else@a.example"}],
    ids=["details", "actor"],
)
def test_an_edit_behind_the_triggers_back_is_named_by_verify(
    db: Session, backend: str, database_url: str, tmp_path: Path, change: dict[str, object]
) -> None:
    trail = events(db)
    assert len(trail) >= 3
    target = trail[1].id
    drop_append_only_triggers(db, backend)
    db.execute(update(AuditEvent).where(AuditEvent.id == target).values(**change))
    db.commit()

    broken = verify_chain(db)
    result = audit_verify(database_url, tmp_path)

    assert broken is not None
    assert broken.row_id == target
    assert result.exit_code == 1
    assert f"TAMPERED: audit row {target}:" in result.stderr
    assert "chain intact" not in result.stdout


def test_a_row_deleted_behind_the_triggers_back_is_caught_at_the_row_after_it(
    db: Session, backend: str, database_url: str, tmp_path: Path
) -> None:
    trail = events(db)
    drop_append_only_triggers(db, backend)
    db.execute(delete(AuditEvent).where(AuditEvent.id == trail[1].id))
    db.commit()

    broken = verify_chain(db)
    result = audit_verify(database_url, tmp_path)

    assert broken is not None
    assert broken.row_id == trail[2].id
    assert result.exit_code == 1
    assert f"audit row {trail[2].id}:" in result.stderr


def test_audit_verify_reports_an_intact_chain_and_its_length(
    db: Session, database_url: str, tmp_path: Path
) -> None:
    total = count(db, "audit_event")

    result = audit_verify(database_url, tmp_path)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"ok: {total} audit events, chain intact"


def test_the_chain_verifies_in_whatever_time_zone_the_database_session_uses(
    db: Session, backend: str, database_url: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite stores timestamps without a zone")
    engine = make_engine(database_url)
    with transaction(make_session_factory(engine)) as session:
        session.execute(text("SET LOCAL TIME ZONE 'Asia/Kathmandu'"))  # +05:45, no DST
        record(session, SYSTEM_ACTOR, "test.far-east")
    with make_session_factory(engine)() as session:
        session.execute(text("SET TIME ZONE 'America/St_Johns'"))  # -03:30
        assert verify_chain(session) is None
        assert session.scalar(text("SELECT current_setting('TimeZone')")) == "America/St_Johns"
    engine.dispose()


def test_a_refusal_is_kept_while_the_refused_work_is_rolled_back(
    database_url: str, db: Session, world: World
) -> None:
    engine = make_engine(database_url)
    actor = Actor(None, "desk@a.example", "203.0.113.9", "pytest")
    refusal = Refusal("patient.erase", "patient", str(world.patient_a), details={"why": "signed records"})
    with make_session_factory(engine)() as session:
        session.execute(update(Patient).where(Patient.id == world.patient_a).values(family_name="Erased"))
        record(session, actor, "patient.erased", target_type="patient", target_id=world.patient_a)
        session.rollback()  # the refused change goes; the refusal itself is what remains
        record_refusal(session, actor, refusal, status=403, code="not-allowed")
        session.commit()
    engine.dispose()

    trail = events(db)
    denied = trail[-1]
    assert db.get(Patient, world.patient_a).family_name == "Lovelace"  # type: ignore[union-attr]
    assert "patient.erased" not in {e.action for e in trail}
    assert (denied.action, denied.outcome, denied.actor, denied.ip) == (
        "patient.erase",
        "denied",
        "desk@a.example",
        "203.0.113.9",
    )
    assert (denied.target_type, denied.target_id) == ("patient", str(world.patient_a))
    assert denied.details == {"why": "signed records", "status": 403, "code": "not-allowed"}
    assert verify_chain(db) is None


def test_a_refused_request_is_audited_as_denied_by_the_known_caller(
    client: TestClient, world: World, db: Session
) -> None:
    receptionist = bearer(client, world.receptionist)
    response = client.post(
        "/api/v1/users",
        headers=receptionist,
        json={"email": "x@a.example", "full_name": "X", "role": "admin", "password": "p" * 20},
    )

    assert response.status_code == 403
    denied = events(db)[-1]
    assert (denied.action, denied.outcome, denied.actor) == ("auth.permission", "denied", world.receptionist)
    assert count(db, "app_user WHERE email = 'x@a.example'") == 0
    assert verify_chain(db) is None


def test_concurrent_appends_from_several_connections_keep_one_unbroken_chain(
    database_url: str, db: Session
) -> None:
    workers, per_worker = 4, 10
    before = count(db, "audit_event")
    start = Barrier(workers)

    def append(worker: int) -> None:
        engine = make_engine(database_url)
        factory = make_session_factory(engine)
        try:
            start.wait(timeout=30)
            for n in range(per_worker):
                with transaction(factory) as session:
                    record(session, Actor(None, f"worker-{worker}"), "test.concurrent", details={"n": n})
        finally:
            engine.dispose()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in [pool.submit(append, w) for w in range(workers)]:
            outcome.result()

    trail = events(db)
    assert len(trail) == before + workers * per_worker
    assert verify_chain(db) is None
    appended = [e for e in trail if e.action == "test.concurrent"]
    for worker in range(workers):
        mine = [e.details["n"] for e in appended if e.actor == f"worker-{worker}"]
        assert mine == list(range(per_worker))  # each writer's rows land in its own order


def test_the_system_actor_is_recorded_without_a_user(database_url: str, db: Session) -> None:
    engine = make_engine(database_url)
    with transaction(make_session_factory(engine)) as session:
        event_id = record(session, SYSTEM_ACTOR, "test.system").id
    engine.dispose()

    event = events(db)[-1]
    assert (event.id, event.actor_user_id, event.actor, event.outcome) == (
        event_id,
        None,
        "system",
        "success",
    )
