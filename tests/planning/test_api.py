"""Course plans over the API and the session-domain hooks: defaults, bounds, states, access."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.errors import Conflict, InvalidInput, NotFound
from mesoclinic.models import AuditEvent, CoursePlan
from mesoclinic.planning import rules, service
from tests.assessment.helpers import create_assessment, create_formulation, final_formulation, principal
from tests.conftest import count
from tests.support import World, bearer


def new_course(
    client: TestClient, headers: dict[str, str], patient_id: int, formulation_id: int, **body: Any
) -> Any:
    return client.post(
        f"/api/v1/patients/{patient_id}/courses",
        json={"formulation_id": formulation_id, **body},
        headers=headers,
    )


def test_it_plans_a_default_course_from_a_final_formulation(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    formulation = final_formulation(client, headers, world.patient_a)
    response = new_course(client, headers, world.patient_a, formulation["id"], starts_on="2026-03-02")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["sessions_planned"], body["interval_min_days"], body["interval_max_days"]) == (4, 14, 21)
    assert (body["session_minutes"], body["maintenance_interval_days"], body["status"]) == (30, 182, "active")
    assert body["planned_dates"] == ["2026-03-02", "2026-03-19", "2026-04-05", "2026-04-22"]
    assert "Protocol standard" in body["rationale"]
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "course.created")).one()
    assert event.details == {"formulation_id": formulation["id"], "protocol": "standard", "overridden": []}
    assert event.patient_id == world.patient_a


def test_the_cocktail_chooses_the_protocol_and_the_practitioner_may_override_within_bounds(
    client: TestClient, world: World
) -> None:
    headers = bearer(client, world.clinician)
    formulation = final_formulation(client, headers, world.patient_a, codes=["tranexamic_acid", "vitamin_c"])
    body = new_course(
        client, headers, world.patient_a, formulation["id"], sessions_planned=6, maintenance_interval_days=270
    ).json()
    assert (body["sessions_planned"], body["interval_min_days"], body["maintenance_interval_days"]) == (
        6,
        14,
        270,
    )
    assert "Adjusted by the practitioner: maintenance_interval_days, sessions_planned." in body["rationale"]


def test_it_refuses_a_course_from_a_formulation_not_yet_final(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    assessment = create_assessment(client, headers, world.patient_a)
    proposed = create_formulation(client, headers, world.patient_a, assessment["id"])
    response = new_course(client, headers, world.patient_a, proposed["id"])
    assert (response.status_code, response.json()["code"]) == (409, "formulation-not-final")
    other = final_formulation(client, headers, world.other_patient_a)
    wrong = new_course(client, headers, world.patient_a, other["id"])
    assert (wrong.status_code, wrong.json()["field"]) == (422, "formulation_id")
    assert count(db, "course_plan") == 0


@pytest.mark.parametrize(
    ("override", "code", "field"),
    [
        ({"sessions_planned": 7}, "sessions-out-of-range", "sessions_planned"),
        ({"interval_min_days": 5}, "interval-out-of-range", "interval_min_days"),
        ({"interval_min_days": 21, "interval_max_days": 14}, "interval-order", "interval_max_days"),
        ({"maintenance_interval_days": 30}, "maintenance-out-of-range", "maintenance_interval_days"),
        ({"protocol": "miracle"}, "unknown-protocol", "protocol"),
    ],
)
def test_it_refuses_a_plan_outside_the_bounds_with_the_field(
    client: TestClient, world: World, db: Session, override: dict[str, Any], code: str, field: str
) -> None:
    headers = bearer(client, world.clinician)
    formulation = final_formulation(client, headers, world.patient_a)
    response = new_course(client, headers, world.patient_a, formulation["id"], **override)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert count(db, "course_plan") == 0


def test_a_patient_has_one_active_course_at_a_time(client: TestClient, world: World) -> None:
    headers = bearer(client, world.clinician)
    formulation = final_formulation(client, headers, world.patient_a)
    first = new_course(client, headers, world.patient_a, formulation["id"]).json()
    second = new_course(client, headers, world.patient_a, formulation["id"])
    assert (second.status_code, second.json()["code"]) == (409, "course-already-active")
    assert client.post(f"/api/v1/courses/{first['id']}/cancel", headers=headers).status_code == 200
    assert new_course(client, headers, world.patient_a, formulation["id"]).status_code == 201


def test_an_active_course_can_be_adjusted_and_a_cancelled_one_cannot(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    formulation = final_formulation(client, headers, world.patient_a)
    course = new_course(client, headers, world.patient_a, formulation["id"]).json()
    url = f"/api/v1/courses/{course['id']}"
    changed = client.patch(url, json={"sessions_planned": 5, "interval_max_days": 28}, headers=headers)
    assert changed.status_code == 200
    assert (changed.json()["sessions_planned"], changed.json()["interval_max_days"]) == (5, 28)
    bad = client.patch(url, json={"interval_min_days": 28, "interval_max_days": 21}, headers=headers)
    assert (bad.status_code, bad.json()["field"]) == (422, "interval_max_days")
    empty = client.patch(url, json={"sessions_planned": None}, headers=headers)
    assert (empty.status_code, empty.json()["code"]) == (422, "required")
    assert client.post(f"{url}/cancel", headers=headers).json()["status"] == "cancelled"
    again = client.post(f"{url}/cancel", headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "course-not-active")
    late = client.patch(url, json={"sessions_planned": 3}, headers=headers)
    assert (late.status_code, late.json()["code"]) == (409, "course-not-active")
    stored = db.get(CoursePlan, course["id"])
    assert stored is not None
    assert (stored.sessions_planned, stored.status) == (5, "cancelled")
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.action.like("course.%"))).all()
    assert actions == ["course.created", "course.updated", "course.cancelled"]


def test_the_last_signed_session_completes_the_course_and_sets_maintenance(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    formulation = final_formulation(client, headers, world.patient_a)
    created = new_course(client, headers, world.patient_a, formulation["id"], starts_on="2026-03-02").json()
    db.rollback()
    clinician = principal(db, world.clinician)
    course = service.get_course(db, clinician, created["id"], audit_read=False)
    assert rules.session_window(date(2026, 3, 2), course) == (
        date(2026, 3, 16),
        date(2026, 3, 23),
    )
    with pytest.raises(InvalidInput) as out_of_range:
        service.session_completed(db, clinician, course, 5, date(2026, 5, 1))
    assert out_of_range.value.field == "session_number"
    service.session_completed(db, clinician, course, 3, date(2026, 4, 5))
    assert course.status == "active"
    service.session_completed(db, clinician, course, 4, date(2026, 4, 22))
    assert (course.status, course.completed_on, course.maintenance_due_on) == (
        "completed",
        date(2026, 4, 22),
        date(2026, 10, 21),
    )
    with pytest.raises(Conflict) as done:
        service.session_completed(db, clinician, course, 4, date(2026, 4, 22))
    assert done.value.code == "course-not-active"
    db.commit()
    completed = db.scalars(select(AuditEvent).where(AuditEvent.action == "course.completed")).one()
    assert (completed.patient_id, completed.target_id) == (world.patient_a, str(created["id"]))
    # After completion only the maintenance interval may change; the due date follows.
    url = f"/api/v1/courses/{created['id']}"
    moved = client.patch(url, json={"maintenance_interval_days": 365}, headers=headers)
    assert (moved.status_code, moved.json()["maintenance_due_on"]) == (200, "2027-04-22")
    refused = client.patch(url, json={"sessions_planned": 5}, headers=headers)
    assert refused.status_code == 409


def test_access_to_courses_follows_the_patient(client: TestClient, world: World, db: Session) -> None:
    clinician = bearer(client, world.clinician)
    formulation = final_formulation(client, clinician, world.patient_a)
    course = new_course(client, clinician, world.patient_a, formulation["id"]).json()
    url = f"/api/v1/courses/{course['id']}"
    colleague = bearer(client, world.colleague)
    assert client.get(url, headers=colleague).json()["code"] == "course-not-found"
    assert client.patch(url, json={"sessions_planned": 3}, headers=colleague).status_code == 404
    assert client.post(f"{url}/cancel", headers=colleague).status_code == 404
    assert new_course(client, colleague, world.patient_a, formulation["id"]).status_code == 404
    receptionist = bearer(client, world.receptionist)
    assert client.post(f"{url}/cancel", headers=receptionist).status_code == 403
    assert new_course(client, receptionist, world.patient_a, formulation["id"]).status_code == 403
    patient = bearer(client, world.patient_user)
    assert client.get(url, headers=patient).status_code == 200
    assert [
        c["id"] for c in client.get(f"/api/v1/patients/{world.patient_a}/courses", headers=patient).json()
    ] == [course["id"]]
    assert client.get(f"/api/v1/patients/{world.other_patient_a}/courses", headers=patient).status_code == 404
    assert client.patch(url, json={"sessions_planned": 3}, headers=patient).status_code == 403
    db.rollback()
    with pytest.raises(NotFound):
        service.get_course(db, principal(db, world.colleague), course["id"])
    denied = db.scalars(
        select(AuditEvent).where(AuditEvent.outcome == "denied", AuditEvent.action == "course.read")
    ).all()
    assert len(denied) == 3
