"""Reminder jobs: one message per appointment, check-in, course and credential, however often they run."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mesoclinic.db import transaction
from mesoclinic.messaging import service
from mesoclinic.models import (
    AftercareCheckin,
    AuditEvent,
    ContactPreference,
    CoursePlan,
    OutboxMessage,
    Qualification,
)
from mesoclinic.settings import Settings
from tests.messaging.conftest import Places, book, user_id_of
from tests.support import World
from tests.treatment.helpers import Ready, clinic_today, ready_patient, token_headers, treat

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # clinic A is in Europe/London: UTC in November
TOMORROW_10 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def messages(db: Session, kind: str) -> list[OutboxMessage]:
    db.rollback()
    return list(
        db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))
    )


def test_it_reminds_of_tomorrows_appointment_once(
    factory: sessionmaker[Session], db: Session, world: World, places: Places
) -> None:
    tomorrow = book(db, places, world.patient_a, TOMORROW_10)
    book(db, places, world.other_patient_a, TOMORROW_10 + timedelta(days=1))  # the day after: not yet
    book(db, places, world.other_patient_a, TOMORROW_10 + timedelta(hours=2), status="cancelled")
    for _ in range(2):
        with transaction(factory) as session:
            report = service.queue_appointment_reminders(session, NOW)
    assert len(report.already_queued) == 1
    assert report.queued == []
    [reminder] = messages(db, "appointment_reminder")
    assert (reminder.channel, reminder.recipient, reminder.patient_id) == (
        "email",
        "ada@example.org",
        world.patient_a,
    )
    assert reminder.payload == {"appointment_id": tomorrow.id}
    assert reminder.due_at == NOW  # past nine o'clock already: goes out now
    assert "Thursday 26 November at 10:00" in reminder.body
    assert "Mesotherapy" not in reminder.body + reminder.subject
    queued = db.scalars(select(AuditEvent).where(AuditEvent.action == "message.queued")).one()
    assert queued.patient_id == world.patient_a
    assert "ada" not in str(queued.details)


def test_an_early_run_schedules_the_reminder_for_nine(
    factory: sessionmaker[Session], db: Session, world: World, places: Places
) -> None:
    book(db, places, world.patient_a, TOMORROW_10)
    with transaction(factory) as session:
        service.queue_appointment_reminders(session, datetime(2026, 11, 25, 0, 5, tzinfo=UTC))
    assert messages(db, "appointment_reminder")[0].due_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_it_respects_opt_outs_and_channel_preferences(
    factory: sessionmaker[Session], db: Session, world: World, places: Places
) -> None:
    db.add_all(
        [
            ContactPreference(patient_id=world.patient_a, reminders_opt_out=True),
            ContactPreference(patient_id=world.other_patient_a, email_allowed=True, sms_allowed=True),
        ]
    )
    db.commit()
    opted_out = book(db, places, world.patient_a, TOMORROW_10)
    book(db, places, world.other_patient_a, TOMORROW_10 + timedelta(hours=1))
    with transaction(factory) as session:
        report = service.queue_appointment_reminders(session, NOW)
    assert [(s.target_id, s.code) for s in report.skipped] == [(opted_out.id, "reminders-opted-out")]
    sent = messages(db, "appointment_reminder")
    assert {(m.channel, m.patient_id) for m in sent} == {
        ("email", world.other_patient_a),
        ("sms", world.other_patient_a),
    }
    sms = next(m for m in sent if m.channel == "sms")
    assert sms.recipient == "+44 7700 900123"
    assert "Mesotherapy" not in sms.body


def test_it_skips_a_patient_with_no_usable_channel(
    factory: sessionmaker[Session], db: Session, world: World, places: Places
) -> None:
    db.add(ContactPreference(patient_id=world.patient_a, email_allowed=False, sms_allowed=False))
    db.commit()
    book(db, places, world.patient_a, TOMORROW_10)
    with transaction(factory) as session:
        report = service.queue_appointment_reminders(session, NOW)
    assert [s.code for s in report.skipped] == ["no-usable-channel"]
    assert messages(db, "appointment_reminder") == []


def test_it_reminds_of_an_expiring_credential_once_per_milestone(
    factory: sessionmaker[Session], db: Session, world: World
) -> None:
    clinician = user_id_of(db, world.clinician)
    today = NOW.date()
    qualification = Qualification(
        user_id=clinician,
        scope="aesthetic_injections",
        title="Registered nurse prescriber",
        licence_number="NMC-1",
        issuer="NMC",
        valid_from=today - timedelta(days=300),
        expires_on=today + timedelta(days=30),
    )
    db.add(qualification)
    db.commit()
    for moment in (NOW, NOW + timedelta(hours=3), NOW + timedelta(days=1)):
        with transaction(factory) as session:
            service.queue_credential_reminders(session, moment)
    [reminder] = messages(db, "credential_expiry")
    assert reminder.recipient == world.clinician
    assert reminder.payload == {"qualification_id": qualification.id, "milestone_days": 30}
    with transaction(factory) as session:  # 7 days before: the next milestone
        service.queue_credential_reminders(session, NOW + timedelta(days=23))
    assert [m.payload["milestone_days"] for m in messages(db, "credential_expiry")] == [30, 7]


@pytest.fixture
def treated(client: TestClient, db: Session, settings: Settings, world: World) -> Ready:
    """Ada had a signed session today (through the real API): her check-ins are scheduled."""
    clinician = token_headers(db, settings, world.clinician)
    ready = ready_patient(client, world, clinician, token_headers(db, settings, world.admin))
    treat(client, clinician, ready)
    return ready


def test_it_prompts_each_checkin_on_its_due_day_once(
    factory: sessionmaker[Session], db: Session, world: World, treated: Ready
) -> None:
    db.rollback()
    checkins = list(
        db.scalars(select(AftercareCheckin).order_by(AftercareCheckin.due_on, AftercareCheckin.id))
    )
    first, second = checkins[0], checkins[1]
    second.completed_at = datetime.now(UTC)
    db.commit()
    for day in (first.due_on, second.due_on):
        for _ in range(2):
            with transaction(factory) as session:
                service.queue_checkin_prompts(session, datetime.combine(day, time(12), tzinfo=UTC))
    prompts = messages(db, "aftercare_checkin")
    assert [m.payload for m in prompts] == [{"aftercare_checkin_id": first.id}]  # not the completed one
    assert "check-in due" in prompts[0].body


def test_it_tells_a_patient_once_when_maintenance_is_due(
    client: TestClient,
    factory: sessionmaker[Session],
    db: Session,
    settings: Settings,
    world: World,
    treated: Ready,
) -> None:
    db.rollback()
    course = db.get_one(CoursePlan, treated.course_id)
    due_on = clinic_today()
    course.status, course.maintenance_due_on = "completed", due_on
    db.commit()
    noon = datetime.combine(due_on, time(12), tzinfo=UTC)
    for moment in (noon, noon + timedelta(hours=1)):
        with transaction(factory) as session:
            service.queue_maintenance_reminders(session, moment)
    [reminder] = messages(db, "maintenance_due")
    assert reminder.payload == {"course_plan_id": course.id}
    assert reminder.patient_id == world.patient_a
    listed = client.get(
        f"/api/v1/clinics/{world.clinic_a}/maintenance-due",
        headers=token_headers(db, settings, world.receptionist),
    )
    assert listed.status_code == 200, listed.text
    assert [(e["patient_id"], e["course_plan_id"], e["status"]) for e in listed.json()] == [
        (world.patient_a, course.id, "due")
    ]
