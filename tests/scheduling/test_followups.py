"""Issue 4 follow-ups: re-planning a course when a session moves, reminders of changed appointments,
and the narrow calendar loading giving the same proposals as the whole calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.db import utcnow
from mesoclinic.messaging import service as messaging
from mesoclinic.models import (
    Appointment,
    AppointmentEvent,
    Clinic,
    ConsentRecord,
    ConsentText,
    CoursePlan,
    Intake,
    OutboxMessage,
    Patient,
    ScreeningResult,
    TreatmentSession,
)
from mesoclinic.scheduling import busy_time, rules, service
from tests.scheduling.conftest import LONDON, Cal, at
from tests.scheduling.test_api import booking
from tests.support import World, bearer


def book_course(client: TestClient, world: World, cal: Cal, headers: dict[str, str]) -> list[int]:
    made = []
    for n in range(3):
        response = client.post(
            "/api/v1/appointments",
            json={
                **booking(cal, world.patient_a, at(cal.day + timedelta(days=14 * n), 10)),
                "appointment_type_id": cal.session_type_id,
                "course_plan_id": cal.course_id,
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    return made


def starts(db: Session, ids: list[int]) -> list[datetime]:
    db.rollback()
    return [db.get_one(Appointment, i).starts_at for i in ids]


def test_it_refuses_a_move_that_breaks_the_later_sessions_window(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    ids = book_course(client, world, cal, headers)
    before = starts(db, ids)
    response = client.post(
        f"/api/v1/appointments/{ids[0]}/reschedule",
        json={"starts_at": at(cal.day + timedelta(days=3), 11).isoformat()},
        headers=headers,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "breaks-course-window"
    assert response.json()["field"] == "starts_at"
    assert starts(db, ids) == before
    kinds = db.scalars(select(AppointmentEvent.kind).where(AppointmentEvent.appointment_id.in_(ids)))
    assert sorted(kinds) == ["booked"] * 3


def test_a_move_within_the_window_leaves_later_sessions_alone(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    ids = book_course(client, world, cal, headers)
    before = starts(db, ids)
    response = client.post(
        f"/api/v1/appointments/{ids[1]}/reschedule",
        json={"starts_at": at(cal.day + timedelta(days=14), 14).isoformat(), "replan": True},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert starts(db, ids)[2] == before[2]


def test_it_replans_the_later_sessions_when_asked(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    ids = book_course(client, world, cal, headers)
    moved_to = at(cal.day + timedelta(days=3), 11)
    response = client.post(
        f"/api/v1/appointments/{ids[0]}/reschedule",
        json={"starts_at": moved_to.isoformat(), "replan": True},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    after = starts(db, ids)
    assert after[0] == moved_to
    dates = [t.astimezone(LONDON).date() for t in after]
    gaps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
    assert all(14 <= g <= 21 for g in gaps), gaps
    for appointment_id in ids:
        history = client.get(f"/api/v1/appointments/{appointment_id}", headers=headers).json()["history"]
        assert [e["kind"] for e in history] == ["booked", "rescheduled"]
    db.rollback()
    assert db.scalar(select(Appointment.status).where(Appointment.id == ids[2])) == "booked"


def test_a_reminder_queued_before_a_cancel_is_never_sent(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    made = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    )
    appointment_id = made.json()["id"]
    eve = datetime.combine(cal.day - timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    report = messaging.queue_appointment_reminders(db, eve)
    assert len(report.queued) == 1
    db.commit()
    cancelled = client.post(f"/api/v1/appointments/{appointment_id}/cancel", json={}, headers=headers)
    assert cancelled.status_code == 200
    db.rollback()
    [message] = db.scalars(select(OutboxMessage))
    assert message.status == "cancelled"
    assert messaging.claim_due(db, "worker", 10, eve + timedelta(days=30)) == []


def test_moving_an_appointment_cancels_its_pending_reminder_only(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    first = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    ).json()["id"]
    other = client.post(
        "/api/v1/appointments", json=booking(cal, world.other_patient_a, at(cal.day, 12)), headers=headers
    ).json()["id"]
    eve = datetime.combine(cal.day - timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    messaging.queue_appointment_reminders(db, eve)
    db.commit()
    moved = client.post(
        f"/api/v1/appointments/{first}/reschedule",
        json={"starts_at": at(cal.day + timedelta(days=2), 10).isoformat()},
        headers=headers,
    )
    assert moved.status_code == 200
    db.rollback()
    status = {m.payload["appointment_id"]: m.status for m in db.scalars(select(OutboxMessage))}
    assert status[first] == "cancelled"
    assert status.get(other, "pending") == "pending"


def test_a_same_day_move_gets_a_fresh_reminder_with_the_new_time(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    made = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    ).json()["id"]
    eve = datetime.combine(cal.day - timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    messaging.queue_appointment_reminders(db, eve)
    db.commit()
    moved = client.post(
        f"/api/v1/appointments/{made}/reschedule",
        json={"starts_at": at(cal.day, 15).isoformat()},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    db.rollback()
    report = messaging.queue_appointment_reminders(db, eve + timedelta(hours=1))
    db.commit()
    assert len(report.queued) == 1
    messages = list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [m.status for m in messages] == ["cancelled", "pending"]
    assert "15:00" in messages[1].body
    assert "10:00" not in messages[1].body
    rerun = messaging.queue_appointment_reminders(db, eve + timedelta(hours=2))
    assert rerun.queued == []


def test_the_narrow_calendar_proposes_what_the_whole_calendar_proposes(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    # A busy fortnight: every other hour booked for another patient, in the one equipped room.
    for d in range(1, 15):
        for hour in (9, 11, 13, 15):
            response = client.post(
                "/api/v1/appointments",
                json=booking(cal, world.other_patient_a, at(cal.day + timedelta(days=d - 7), hour)),
                headers=headers,
            )
            assert response.status_code in (201, 422), response.text
    db.rollback()
    clinic = db.get_one(Clinic, cal.clinic_id)
    course = db.get_one(CoursePlan, cal.course_id)
    patient = db.get_one(Patient, world.patient_a)
    atype = service._type(db, clinic.id, cal.session_type_id)
    now = utcnow()
    practitioners = service.bookable_practitioners(db, clinic.id, now.astimezone(LONDON).date())
    request, span = service.course_request(db, course, patient, atype, practitioners, now, cal.clinician_id)
    whole = rules.propose_course_slots(
        busy_time.calendar_for(db, clinic, practitioners, span, patient.id), request
    )
    narrow = rules.propose_course_slots(
        busy_time.search_calendar(db, clinic, practitioners, span, patient.id), request
    )
    assert whole.best is not None
    assert narrow == whole


def test_a_session_given_without_an_appointment_counts_towards_the_course(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    """A walk-in session (documented, never booked) is session 1: proposals continue at 2, in window."""
    given_at = datetime.now(UTC) - timedelta(days=3)
    text = ConsentText(
        clinic_id=cal.clinic_id,
        kind="treatment",
        version=1,
        title="Consent",
        body="Text.",
        created_by_user_id=cal.admin_id,
    )
    intake = Intake(
        patient_id=world.patient_a, submitted_by_user_id=cal.clinician_id, source="staff", answers={}
    )
    db.add_all([text, intake])
    db.flush()
    screening = ScreeningResult(
        patient_id=world.patient_a,
        intake_id=intake.id,
        performed_by_user_id=cal.clinician_id,
        ruleset_version="test",
        screened_on=given_at.date(),
        outcome="clear",
        findings=[],
    )
    consent = ConsentRecord(
        patient_id=world.patient_a,
        consent_text_id=text.id,
        kind="treatment",
        typed_name="Ada Lovelace",
        signature_svg_path="M 0 0 L 10 10 L 20 0 L 30 10",
    )
    db.add_all([screening, consent])
    db.flush()
    db.add(
        TreatmentSession(
            patient_id=world.patient_a,
            clinic_id=cal.clinic_id,
            course_plan_id=cal.course_id,
            session_number=1,
            practitioner_user_id=cal.clinician_id,
            started_at=given_at,
            screening_result_id=screening.id,
            consent_record_id=consent.id,
        )
    )
    db.commit()

    proposals = client.post(
        f"/api/v1/courses/{cal.course_id}/proposals",
        json={"appointment_type_id": cal.session_type_id},
        headers=bearer(client, world.clinician),
    )
    assert proposals.status_code == 200, proposals.text
    body = proposals.json()
    assert body["sessions_remaining"] == 2
    slots = body["best"]["slots"]
    assert [s["session_number"] for s in slots] == [2, 3]
    first_day = date.fromisoformat(slots[0]["starts_at"][:10])
    assert first_day >= given_at.date() + timedelta(days=14)
