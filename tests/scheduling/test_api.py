"""Scheduling through HTTP: booking, refusals, history, views, course proposals, self-booking."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from mesoclinic.models import Absence, Appointment, AuditEvent, BookedSlot, ClinicClosure
from tests.conftest import count
from tests.scheduling.conftest import Cal, add_screening, at
from tests.support import World, bearer


def booking(
    cal: Cal, patient_id: int, starts: Any, *, type_id: int | None = None, room: int | None = None
) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "practitioner_user_id": cal.clinician_id,
        "room_id": room or cal.room_id,
        "appointment_type_id": type_id or cal.consultation_id,
        "starts_at": starts.isoformat(),
    }


def audit_actions(db: Session) -> list[str]:
    db.rollback()
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_it_books_an_appointment_holding_slots_with_history_and_audit(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    response = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "booked"
    assert body["clinic_id"] == cal.clinic_id
    # 20 minutes = 4 slots, held for the practitioner, the room and the patient.
    assert count(db, "booked_slot") == 12
    detail = client.get(f"/api/v1/appointments/{body['id']}", headers=headers).json()
    assert [e["kind"] for e in detail["history"]] == ["booked"]
    actions = audit_actions(db)
    assert "appointment.booked" in actions
    assert "appointment.read" in actions


def test_it_refuses_a_second_booking_of_a_taken_slot(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.receptionist)
    first = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    )
    assert first.status_code == 201, first.text
    # Another patient, same practitioner, overlapping by ten minutes.
    second = client.post(
        "/api/v1/appointments",
        json=booking(cal, world.other_patient_a, at(cal.day, 10, 10), room=cal.bare_room_id),
        headers=headers,
    )
    assert second.status_code == 409
    assert second.json()["code"] == "slot-taken"
    assert count(db, "appointment") == 1
    assert count(db, "booked_slot") == 12


def test_the_buffer_keeps_the_room_and_practitioner_free_after_a_session(
    client: TestClient, world: World, cal: Cal
) -> None:
    headers = bearer(client, world.clinician)
    session = booking(cal, world.patient_a, at(cal.day, 10), type_id=cal.session_type_id)
    assert client.post("/api/v1/appointments", json=session, headers=headers).status_code == 201
    in_buffer = booking(cal, world.other_patient_a, at(cal.day, 10, 35))
    refused = client.post("/api/v1/appointments", json=in_buffer, headers=headers)
    assert refused.json()["code"] == "slot-taken"
    after = booking(cal, world.other_patient_a, at(cal.day, 10, 40))
    assert client.post("/api/v1/appointments", json=after, headers=headers).status_code == 201


def test_it_refuses_times_the_calendar_does_not_allow(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    closed_day = cal.day + timedelta(days=1)
    absent_day = cal.day + timedelta(days=2)
    db.add(ClinicClosure(clinic_id=cal.clinic_id, on_date=closed_day, reason="Bank holiday"))
    db.add(Absence(user_id=cal.clinician_id, starts_at=at(absent_day, 12), ends_at=at(absent_day, 14)))
    db.commit()

    def refusal(payload: dict[str, Any]) -> tuple[int, str, str | None]:
        response = client.post("/api/v1/appointments", json=payload, headers=headers)
        problem = response.json()
        return response.status_code, problem["code"], problem.get("field")

    assert refusal(booking(cal, world.patient_a, at(cal.day, 8, 30))) == (
        409,
        "outside-working-hours",
        "practitioner_user_id",
    )
    assert refusal(booking(cal, world.patient_a, at(cal.day, 17, 50))) == (
        409,
        "outside-opening-hours",
        "starts_at",
    )
    assert refusal(booking(cal, world.patient_a, at(closed_day, 10))) == (409, "clinic-closed", "starts_at")
    assert refusal(booking(cal, world.patient_a, at(absent_day, 13))) == (
        409,
        "practitioner-absent",
        "practitioner_user_id",
    )
    lacking = booking(
        cal, world.patient_a, at(cal.day, 10), type_id=cal.session_type_id, room=cal.bare_room_id
    )
    assert refusal(lacking) == (409, "room-lacks-equipment", "room_id")
    past = booking(cal, world.patient_a, at(cal.day - timedelta(days=14), 10))
    assert refusal(past) == (422, "in-the-past", "starts_at")
    assert refusal(booking(cal, world.patient_a, at(cal.day, 10, 3))) == (
        422,
        "not-slot-aligned",
        "starts_at",
    )
    naive = booking(cal, world.patient_a, at(cal.day, 10))
    naive["starts_at"] = at(cal.day, 10).replace(tzinfo=None).isoformat()
    assert client.post("/api/v1/appointments", json=naive, headers=headers).status_code == 422
    assert count(db, "appointment") == 0
    assert count(db, "booked_slot") == 0


def test_it_refuses_booking_a_contraindicated_patient(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    add_screening(db, world.patient_a, cal.clinician_id, "blocked")
    headers = bearer(client, world.clinician)
    session = booking(cal, world.patient_a, at(cal.day, 10), type_id=cal.session_type_id)
    response = client.post("/api/v1/appointments", json=session, headers=headers)
    assert response.status_code == 409
    assert response.json()["code"] == "contraindicated"
    assert count(db, "appointment") == 0
    # A consultation (not a treatment session) is still possible: it is how the deferral is reviewed.
    consult = booking(cal, world.patient_a, at(cal.day, 10))
    assert client.post("/api/v1/appointments", json=consult, headers=headers).status_code == 201


def test_it_refuses_a_practitioner_without_a_valid_credential(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    db.execute(text("DELETE FROM qualification"))
    db.commit()
    headers = bearer(client, world.clinician)
    response = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "practitioner-not-qualified"


def test_cancelling_frees_the_time_and_appends_to_the_history(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.receptionist)
    made = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    )
    appointment_id = made.json()["id"]
    cancelled = client.post(
        f"/api/v1/appointments/{appointment_id}/cancel", json={"reason": "ill"}, headers=headers
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert count(db, "booked_slot") == 0
    again = client.post(f"/api/v1/appointments/{appointment_id}/cancel", json={}, headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "illegal-transition"
    rebooked = client.post(
        "/api/v1/appointments", json=booking(cal, world.other_patient_a, at(cal.day, 10)), headers=headers
    )
    assert rebooked.status_code == 201
    history = client.get(f"/api/v1/appointments/{appointment_id}", headers=headers).json()["history"]
    assert [e["kind"] for e in history] == ["booked", "cancelled"]
    assert history[1]["reason"] == "ill"


def test_rescheduling_moves_the_held_slots(client: TestClient, world: World, cal: Cal, db: Session) -> None:
    headers = bearer(client, world.clinician)
    made = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    )
    appointment_id = made.json()["id"]
    moved = client.post(
        f"/api/v1/appointments/{appointment_id}/reschedule",
        json={"starts_at": at(cal.day, 14).isoformat(), "reason": "patient asked"},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    db.rollback()
    slots = list(db.scalars(select(BookedSlot.slot_start).where(BookedSlot.resource == "room")))
    assert min(slots) == at(cal.day, 14)
    assert count(db, "booked_slot") == 12
    # The old time is free again.
    freed = client.post(
        "/api/v1/appointments", json=booking(cal, world.other_patient_a, at(cal.day, 10)), headers=headers
    )
    assert freed.status_code == 201
    history = client.get(f"/api/v1/appointments/{appointment_id}", headers=headers).json()["history"]
    assert [(e["kind"], e["starts_at"][:16]) for e in history][1][0] == "rescheduled"
    assert "appointment.rescheduled" in audit_actions(db)


def test_no_show_waits_for_the_start_and_check_in_is_recorded(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    first = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    )
    early = client.post(f"/api/v1/appointments/{first.json()['id']}/no-show", json={}, headers=headers)
    assert early.status_code == 409
    assert early.json()["code"] == "not-yet-started"
    db.execute(
        update(Appointment)
        .where(Appointment.id == first.json()["id"])
        .values(
            starts_at=at(cal.day - timedelta(days=8), 10), ends_at=at(cal.day - timedelta(days=8), 10, 20)
        )
    )
    db.commit()
    missed = client.post(f"/api/v1/appointments/{first.json()['id']}/no-show", json={}, headers=headers)
    assert missed.status_code == 200
    assert missed.json()["status"] == "no_show"
    second = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 11)), headers=headers
    )
    arrived = client.post(f"/api/v1/appointments/{second.json()['id']}/check-in", json={}, headers=headers)
    assert arrived.json()["status"] == "checked_in"
    assert count(db, "appointment_event") == 4


def test_access_is_scoped_to_clinic_role_and_patient(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    desk = bearer(client, world.receptionist)
    made = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=desk
    )
    assert made.status_code == 201
    appointment_id = made.json()["id"]
    outsider = bearer(client, world.colleague)
    assert client.get(f"/api/v1/appointments/{appointment_id}", headers=outsider).status_code == 404
    stolen = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 12)), headers=outsider
    )
    assert stolen.status_code == 404
    cancel = client.post(f"/api/v1/appointments/{appointment_id}/cancel", json={}, headers=outsider)
    assert cancel.status_code == 404
    room = client.post(f"/api/v1/clinics/{cal.clinic_id}/rooms", json={"name": "Spare"}, headers=desk)
    assert room.status_code == 403
    patient = bearer(client, world.patient_user)
    assert client.get(f"/api/v1/appointments/{appointment_id}", headers=patient).status_code == 200
    assert (
        client.post(f"/api/v1/appointments/{appointment_id}/cancel", json={}, headers=patient).status_code
        == 403
    )
    other = client.post(
        "/api/v1/appointments", json=booking(cal, world.other_patient_a, at(cal.day, 11)), headers=desk
    ).json()["id"]
    assert client.get(f"/api/v1/appointments/{other}", headers=patient).status_code == 404
    assert (
        client.get(
            f"/api/v1/practitioners/{cal.clinician_id}/week?start={cal.day}", headers=patient
        ).status_code
        == 403
    )


def test_administrators_set_up_rooms_hours_closures_and_types(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.admin)
    base = f"/api/v1/clinics/{cal.clinic_id}"
    room = client.post(
        f"{base}/rooms", json={"name": "Treatment 2", "equipment": ["treatment_couch"]}, headers=headers
    )
    assert room.status_code == 201
    assert (
        client.post(f"{base}/rooms", json={"name": "Treatment 2"}, headers=headers).json()["code"]
        == "room-exists"
    )
    assert "Treatment 2" in [r["name"] for r in client.get(f"{base}/rooms", headers=headers).json()]
    hours = client.post(
        f"{base}/opening-hours", json={"weekday": 2, "opens": "09:00", "closes": "08:00"}, headers=headers
    )
    assert hours.status_code == 422
    assert (
        client.post(
            f"{base}/opening-hours", json={"weekday": 2, "opens": "19:00", "closes": "20:00"}, headers=headers
        ).status_code
        == 201
    )
    assert client.post(f"{base}/closures", json={"on_date": str(cal.day)}, headers=headers).status_code == 201
    atype = {"code": "review", "name": "Review", "duration_minutes": 15}
    assert client.post(f"{base}/appointment-types", json=atype, headers=headers).status_code == 201
    assert (
        client.post(f"{base}/appointment-types", json={**atype, "extra": 1}, headers=headers).status_code
        == 422
    )
    work = client.post(
        f"/api/v1/practitioners/{cal.clinician_id}/working-hours",
        json={"clinic_id": cal.clinic_id, "weekday": 2, "starts": "18:00", "ends": "19:00"},
        headers=headers,
    )
    assert work.status_code == 201
    absence = client.post(
        f"/api/v1/practitioners/{cal.clinician_id}/absences",
        json={
            "starts_at": at(cal.day, 9).isoformat(),
            "ends_at": at(cal.day, 12).isoformat(),
            "reason": "training",
        },
        headers=headers,
    )
    assert absence.status_code == 201
    elsewhere = client.post(
        f"/api/v1/clinics/{cal.clinic_id + 999}/rooms", json={"name": "X"}, headers=headers
    )
    assert elsewhere.status_code == 404
    actions = audit_actions(db)
    for action in ("scheduling.room_created", "scheduling.closure_added", "scheduling.absence_added"):
        assert action in actions


def test_week_and_day_views_show_appointments_and_availability(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    made = client.post(
        "/api/v1/appointments", json=booking(cal, world.patient_a, at(cal.day, 10)), headers=headers
    )
    week = client.get(f"/api/v1/practitioners/{cal.clinician_id}/week?start={cal.day}", headers=headers)
    assert week.status_code == 200
    days = week.json()["days"]
    assert len(days) == 7
    assert [a["id"] for a in days[0]["appointments"]] == [made.json()["id"]]
    assert days[1]["appointments"] == []
    assert len(days[0]["available"]) == 1  # 09:00–17:00 worked, inside 08:00–18:00 opening
    day = client.get(f"/api/v1/clinics/{cal.clinic_id}/day?date={cal.day}", headers=headers)
    assert [a["id"] for a in day.json()["appointments"]] == [made.json()["id"]]
    outsider = bearer(client, world.colleague)
    assert (
        client.get(
            f"/api/v1/practitioners/{cal.clinician_id}/week?start={cal.day}", headers=outsider
        ).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/clinics/{cal.clinic_id}/day?date={cal.day}", headers=outsider).status_code == 404
    )
    assert "schedule.week_viewed" in audit_actions(db)


def test_it_proposes_and_books_a_whole_course_within_its_window(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    proposals = client.post(
        f"/api/v1/courses/{cal.course_id}/proposals",
        json={"appointment_type_id": cal.session_type_id},
        headers=headers,
    )
    assert proposals.status_code == 200, proposals.text
    body = proposals.json()
    assert body["sessions_remaining"] == 3
    slots = body["best"]["slots"]
    assert [s["session_number"] for s in slots] == [1, 2, 3]
    starts = [s["starts_at"][:10] for s in slots]
    assert all(s["practitioner_user_id"] == cal.clinician_id and s["room_id"] == cal.room_id for s in slots)
    chosen = [{k: s[k] for k in ("starts_at", "practitioner_user_id", "room_id")} for s in slots]
    booked = client.post(
        f"/api/v1/courses/{cal.course_id}/book",
        json={"appointment_type_id": cal.session_type_id, "slots": chosen},
        headers=headers,
    )
    assert booked.status_code == 201, booked.text
    assert [a["session_number"] for a in booked.json()] == [1, 2, 3]
    assert [a["starts_at"][:10] for a in booked.json()] == starts
    more = client.post(
        f"/api/v1/courses/{cal.course_id}/book",
        json={"appointment_type_id": cal.session_type_id, "slots": chosen[:1]},
        headers=headers,
    )
    assert more.status_code == 422
    assert more.json()["code"] == "too-many-sessions"
    assert "course.slots_proposed" in audit_actions(db)


def test_booking_a_course_is_all_or_nothing(client: TestClient, world: World, cal: Cal, db: Session) -> None:
    headers = bearer(client, world.clinician)
    first = at(cal.day, 10)
    second = at(cal.day + timedelta(days=14), 10)
    blocker = client.post(
        "/api/v1/appointments", json=booking(cal, world.other_patient_a, second), headers=headers
    )
    assert blocker.status_code == 201
    slots = [
        {"starts_at": t.isoformat(), "practitioner_user_id": cal.clinician_id, "room_id": cal.room_id}
        for t in (first, second)
    ]
    response = client.post(
        f"/api/v1/courses/{cal.course_id}/book",
        json={"appointment_type_id": cal.session_type_id, "slots": slots},
        headers=headers,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "slot-taken"
    assert count(db, "appointment") == 1
    too_close = [slots[0], {**slots[1], "starts_at": at(cal.day + timedelta(days=7), 10).isoformat()}]
    gap = client.post(
        f"/api/v1/courses/{cal.course_id}/book",
        json={"appointment_type_id": cal.session_type_id, "slots": too_close},
        headers=headers,
    )
    assert gap.json()["code"] == "outside-course-window"
    assert count(db, "appointment") == 1


def test_a_patient_books_the_next_session_of_their_course_from_the_portal(
    client: TestClient, world: World, cal: Cal, db: Session
) -> None:
    patient = bearer(client, world.patient_user)
    path = f"/api/v1/patients/{world.patient_a}/self-booking"
    choice = {
        "appointment_type_id": cal.session_type_id,
        "starts_at": at(cal.day, 10).isoformat(),
        "practitioner_user_id": cal.clinician_id,
        "room_id": cal.room_id,
    }
    made = client.post(path, json=choice, headers=patient)
    assert made.status_code == 201, made.text
    assert made.json()["course_plan_id"] == cal.course_id
    assert made.json()["session_number"] == 1
    too_soon = client.post(
        path, json={**choice, "starts_at": at(cal.day + timedelta(days=3), 10).isoformat()}, headers=patient
    )
    assert too_soon.json()["code"] == "outside-course-window"
    consult = client.post(path, json={**choice, "appointment_type_id": cal.consultation_id}, headers=patient)
    assert consult.json()["code"] == "not-patient-bookable"
    other = client.post(
        f"/api/v1/patients/{world.other_patient_a}/self-booking", json=choice, headers=patient
    )
    assert other.status_code == 404
    staff = client.post(path, json=choice, headers=bearer(client, world.clinician))
    assert staff.status_code == 403
    proposals = client.post(
        f"/api/v1/courses/{cal.course_id}/proposals",
        json={"appointment_type_id": cal.session_type_id},
        headers=patient,
    )
    assert proposals.status_code == 200
    assert proposals.json()["sessions_remaining"] == 2
    assert count(db, "appointment") == 1
