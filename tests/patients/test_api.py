"""Registering, searching and changing patients over the API: validation, refusals, audit."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import AuditEvent, Patient
from tests.conftest import count
from tests.support import World, bearer


def new_patient(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_name": "Grace",
        "family_name": "Hopper",
        "date_of_birth": "1976-12-09",
        "sex": "female",
        "email": "grace@example.org",
        "phone": "+44 7700 900999",
        "allergies": [{"substance": "Lidocaine", "reaction": "hives"}],
        "medications": [
            {
                "name": "Isotretinoin",
                "drug_class": "isotretinoin",
                "started_on": "2026-01-10",
                "stopped_on": "2026-06-10",
            }
        ],
        "previous_procedures": [{"procedure": "Glycolic peel", "performed_on": "2026-09-01"}],
    }
    body.update(overrides)
    return body


def test_it_registers_a_patient_with_history_at_the_active_clinic(
    client: TestClient, world: World, db: Session
) -> None:
    response = client.post("/api/v1/patients", json=new_patient(), headers=bearer(client, world.clinician))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["clinic_id"] == world.clinic_a
    assert [a["substance"] for a in body["allergies"]] == ["Lidocaine"]
    assert body["medications"][0]["drug_class"] == "isotretinoin"
    stored = db.get(Patient, body["id"])
    assert stored is not None
    assert stored.family_name == "Hopper"
    created = db.scalars(select(AuditEvent).where(AuditEvent.action == "patient.created")).one()
    assert created.patient_id == body["id"]
    # No clinical or identifying content in the audit details.
    assert "Hopper" not in str(created.details)
    assert "Lidocaine" not in str(created.details)


def test_it_names_every_invalid_field_and_stores_nothing(
    client: TestClient, world: World, db: Session
) -> None:
    before = count(db, "patient")
    response = client.post(
        "/api/v1/patients",
        json=new_patient(given_name="", date_of_birth="2999-01-01", email="not-an-email", sex="robot"),
        headers=bearer(client, world.clinician),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == {"given_name", "date_of_birth", "email", "sex"}
    assert problem["field"] == "given_name"
    assert count(db, "patient") == before


def test_it_refuses_medication_that_stops_before_it_starts(
    client: TestClient, world: World, db: Session
) -> None:
    before = count(db, "medication")
    body = new_patient(
        medications=[{"name": "Apixaban", "started_on": "2026-05-01", "stopped_on": "2026-04-01"}]
    )
    response = client.post("/api/v1/patients", json=body, headers=bearer(client, world.clinician))
    assert response.status_code == 422
    assert response.json()["code"] == "medication-dates"
    assert count(db, "medication") == before


def test_it_refuses_registering_at_a_clinic_the_caller_does_not_work_at(
    client: TestClient, world: World, db: Session
) -> None:
    before = count(db, "patient")
    response = client.post(
        "/api/v1/patients",
        json=new_patient(clinic_id=world.clinic_b),
        headers=bearer(client, world.clinician),
    )
    assert (response.status_code, response.json()["code"]) == (403, "clinic-not-yours")
    assert count(db, "patient") == before


def test_a_patient_cannot_register_or_edit_records(client: TestClient, world: World, db: Session) -> None:
    headers = bearer(client, world.patient_user)
    assert client.post("/api/v1/patients", json=new_patient(), headers=headers).status_code == 403
    edit = client.patch(f"/api/v1/patients/{world.patient_a}", json={"phone": "123"}, headers=headers)
    assert edit.status_code == 403
    assert db.get_one(Patient, world.patient_a).phone == "+44 7700 900123"


def test_an_update_changes_only_the_given_fields_and_audits_their_names(
    client: TestClient, world: World, db: Session
) -> None:
    response = client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"phone": "+44 20 7946 0001"},
        headers=bearer(client, world.receptionist),
    )
    assert response.status_code == 200
    assert (response.json()["phone"], response.json()["family_name"]) == ("+44 20 7946 0001", "Lovelace")
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "patient.updated")).one()
    assert event.details == {"fields": ["phone"]}


def test_an_update_of_another_clinics_patient_is_not_found_and_changes_nothing(
    client: TestClient, world: World, db: Session
) -> None:
    response = client.patch(
        f"/api/v1/patients/{world.patient_b}",
        json={"family_name": "Changed"},
        headers=bearer(client, world.clinician),
    )
    assert response.status_code == 404
    assert db.get_one(Patient, world.patient_b).family_name == "Noether"


def test_an_update_refuses_unknown_fields_and_nulls(client: TestClient, world: World) -> None:
    headers = bearer(client, world.clinician)
    unknown = client.patch(f"/api/v1/patients/{world.patient_a}", json={"clinic_id": 2}, headers=headers)
    assert (unknown.status_code, unknown.json()["field"]) == (422, "clinic_id")
    null = client.patch(f"/api/v1/patients/{world.patient_a}", json={"family_name": None}, headers=headers)
    assert (null.status_code, null.json()["field"]) == (422, "family_name")


def test_search_finds_by_name_fragment_phone_and_birth_date(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.admin)

    def ids(**params: str) -> set[int]:
        response = client.get("/api/v1/patients", params=params, headers=headers)
        assert response.status_code == 200
        return {p["id"] for p in response.json()["items"]}

    assert ids(q="love") == {world.patient_a}
    assert ids(q="ada lovelace") == {world.patient_a}
    assert ids(q="900123") == {world.patient_a, world.other_patient_a, world.patient_b}
    assert ids(date_of_birth="1980-05-17", clinic_id=str(world.clinic_b)) == {world.patient_b}
    assert ids(q="nobody") == set()
    searches = db.scalars(select(AuditEvent).where(AuditEvent.action == "patient.search")).all()
    assert len(searches) == 5
    assert all("love" not in str(e.details) for e in searches), "search terms must not be stored"


def test_paging_is_bounded(client: TestClient, world: World) -> None:
    headers = bearer(client, world.admin)
    page = client.get("/api/v1/patients", params={"limit": 2, "offset": 1}, headers=headers).json()
    assert (len(page["items"]), page["total"], page["offset"]) == (2, 3, 1)
    assert client.get("/api/v1/patients", params={"limit": 1000}, headers=headers).status_code == 422
