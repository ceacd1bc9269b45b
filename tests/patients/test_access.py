"""The three personas: a clinician, a colleague at another clinic, and a patient."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import AuditEvent
from tests.support import World, bearer


def test_clinician_reads_own_clinic_patient_and_the_read_is_audited(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    response = client.get(f"/api/v1/patients/{world.patient_a}", headers=headers)
    assert response.status_code == 200
    assert response.json()["family_name"] == "Lovelace"
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "patient.read")).one()
    assert (event.actor, event.outcome, event.patient_id) == (
        world.clinician,
        "success",
        world.patient_a,
    )


def test_colleague_at_another_clinic_gets_404_and_the_attempt_is_audited(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.colleague)
    response = client.get(f"/api/v1/patients/{world.patient_a}", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "patient-not-found"
    # Same answer as for an id that does not exist: existence does not leak.
    missing = client.get("/api/v1/patients/999999", headers=headers)
    assert (missing.status_code, missing.json()["detail"]) == (404, response.json()["detail"])
    denied = db.scalars(
        select(AuditEvent).where(AuditEvent.outcome == "denied", AuditEvent.action == "patient.read")
    ).all()
    assert [e.target_id for e in denied] == [str(world.patient_a), "999999"]


def test_patient_sees_only_their_own_record(client: TestClient, world: World) -> None:
    headers = bearer(client, world.patient_user)
    assert client.get(f"/api/v1/patients/{world.patient_a}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/patients/{world.other_patient_a}", headers=headers).status_code == 404
    listed = client.get("/api/v1/patients", headers=headers).json()
    assert [p["id"] for p in listed["items"]] == [world.patient_a]


def test_staff_list_is_limited_to_their_clinics(client: TestClient, world: World) -> None:
    clinician = client.get("/api/v1/patients", headers=bearer(client, world.clinician)).json()
    colleague = client.get("/api/v1/patients", headers=bearer(client, world.colleague)).json()
    admin = client.get("/api/v1/patients", headers=bearer(client, world.admin)).json()
    assert {p["id"] for p in clinician["items"]} == {world.patient_a, world.other_patient_a}
    assert {p["id"] for p in colleague["items"]} == {world.patient_b}
    assert admin["total"] == 3
