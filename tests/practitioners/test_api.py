"""Practitioners' credentials over the API, and the gate that decides who may treat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.errors import Conflict
from mesoclinic.models import AuditEvent, Qualification
from mesoclinic.practitioners.service import require_qualified
from tests.conftest import count
from tests.practitioners.conftest import add_credential, clinic_today, user_id
from tests.support import World, bearer


def credential(**overrides: Any) -> dict[str, Any]:
    today = clinic_today()
    body: dict[str, Any] = {
        "title": "Registered nurse prescriber",
        "licence_number": "NMC-12A3456E",
        "issuer": "Nursing and Midwifery Council",
        "valid_from": str(today - timedelta(days=30)),
        "expires_on": str(today + timedelta(days=700)),
    }
    body.update(overrides)
    return body


def test_an_administrator_records_a_practitioners_credential(
    client: TestClient, world: World, db: Session
) -> None:
    clinician = user_id(db, world.clinician)
    response = client.post(
        f"/api/v1/practitioners/{clinician}/qualifications",
        json=credential(),
        headers=bearer(client, world.admin),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["user_id"], body["scope"], body["licence_number"]) == (
        clinician,
        "mesotherapy",
        "NMC-12A3456E",
    )
    assert db.get_one(Qualification, body["id"]).issuer == "Nursing and Midwifery Council"
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "practitioner.qualification.added")
    ).one()
    assert (event.target_id, event.details) == (
        str(body["id"]),
        {"user_id": clinician, "scope": "mesotherapy"},
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"expires_on": str(clinic_today() - timedelta(days=30))}, "expires_on"),
        ({"licence_number": "<b>1</b>"}, "licence_number"),
        ({"licence_number": "   "}, "licence_number"),
    ],
)
def test_it_refuses_an_inconsistent_credential_and_stores_nothing(
    client: TestClient, world: World, db: Session, overrides: dict[str, Any], field: str
) -> None:
    clinician = user_id(db, world.clinician)
    response = client.post(
        f"/api/v1/practitioners/{clinician}/qualifications",
        json=credential(**overrides),
        headers=bearer(client, world.admin),
    )
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert count(db, "qualification") == 0


def test_only_an_administrator_of_a_shared_clinic_records_credentials(
    client: TestClient, world: World, db: Session
) -> None:
    clinician = user_id(db, world.clinician)
    url = f"/api/v1/practitioners/{clinician}/qualifications"
    for email, status, code in [
        (world.clinician, 403, "admin-only"),  # not even their own
        (world.receptionist, 403, "admin-only"),
        (world.colleague, 404, "practitioner-not-found"),  # clinic B does not see clinic A's staff
        (world.patient_user, 403, "staff-only"),
    ]:
        response = client.post(url, json=credential(), headers=bearer(client, email))
        assert (response.status_code, response.json()["code"]) == (status, code), email
    assert count(db, "qualification") == 0


def test_credentials_are_recorded_for_practitioners_only(
    client: TestClient, world: World, db: Session
) -> None:
    desk = user_id(db, world.receptionist)
    response = client.post(
        f"/api/v1/practitioners/{desk}/qualifications", json=credential(), headers=bearer(client, world.admin)
    )
    assert (response.status_code, response.json()["code"]) == (409, "not-a-practitioner")
    assert count(db, "qualification") == 0


def test_a_practitioner_reads_their_own_credentials_but_not_a_colleagues(
    client: TestClient, world: World, db: Session
) -> None:
    add_credential(db, world.clinician, expires_in=400)
    clinician = user_id(db, world.clinician)
    url = f"/api/v1/practitioners/{clinician}/qualifications"
    own = client.get(url, headers=bearer(client, world.clinician))
    assert own.status_code == 200
    assert [q["licence_number"] for q in own.json()] == ["NMC-12A3456E"]
    assert client.get(url, headers=bearer(client, world.admin)).status_code == 200
    assert client.get(url, headers=bearer(client, world.receptionist)).json()["code"] == "admin-only"
    assert client.get(url, headers=bearer(client, world.colleague)).status_code == 404
    reads = db.scalars(select(AuditEvent).where(AuditEvent.action == "practitioner.qualification.read")).all()
    assert len(reads) == 2


def test_the_staff_list_shows_each_colleagues_standing_today(
    client: TestClient, world: World, db: Session
) -> None:
    add_credential(db, world.clinician, expires_in=20)
    response = client.get("/api/v1/practitioners", headers=bearer(client, world.receptionist))
    assert response.status_code == 200
    staff = {p["email"]: p for p in response.json()}
    assert set(staff) == {world.clinician, world.receptionist, world.admin}  # not clinic B's colleague
    assert staff[world.clinician]["credential"]["status"] == "expiring_soon"
    assert staff[world.clinician]["credential"]["days_left"] == 20
    assert staff[world.clinician]["credential"]["may_treat"] is True
    assert staff[world.receptionist]["credential"]["status"] == "none"
    assert client.get("/api/v1/practitioners", headers=bearer(client, world.patient_user)).status_code == 403


def test_reminders_list_credentials_ending_soon_at_the_callers_clinics(
    client: TestClient, world: World, db: Session
) -> None:
    clinicians = add_credential(db, world.clinician, expires_in=10)
    colleagues = add_credential(db, world.colleague, expires_in=5)
    add_credential(db, world.clinician, expires_in=30, scope="prescribing")

    mine = client.get("/api/v1/practitioners/credentials/expiring", headers=bearer(client, world.clinician))
    assert mine.status_code == 200
    assert [(e["email"], e["days_left"]) for e in mine.json()] == [
        (world.clinician, 10),
        (world.clinician, 30),
    ]

    owner = bearer(client, world.admin)
    everyone = client.get("/api/v1/practitioners/credentials/expiring?within_days=12", headers=owner).json()
    assert [e["qualification"]["id"] for e in everyone] == [colleagues.id, clinicians.id]
    soonest = client.get("/api/v1/practitioners/credentials/expiring?within_days=7", headers=owner).json()
    assert [e["qualification"]["id"] for e in soonest] == [colleagues.id]
    refused = client.get(
        "/api/v1/practitioners/credentials/expiring", headers=bearer(client, world.patient_user)
    )
    assert refused.status_code == 403


def test_a_renewal_on_record_stops_the_reminder(client: TestClient, world: World, db: Session) -> None:
    add_credential(db, world.clinician, expires_in=10)
    add_credential(db, world.clinician, expires_in=800, held_for=-11)  # starts the day after
    response = client.get(
        "/api/v1/practitioners/credentials/expiring", headers=bearer(client, world.clinician)
    )
    assert response.json() == []


# --- the gate other domains call -----------------------------------------------------------------


def test_a_currently_qualified_practitioner_passes_the_gate(world: World, db: Session) -> None:
    held = add_credential(db, world.clinician, expires_in=3)
    found = require_qualified(db, user_id(db, world.clinician), clinic_today(), clinic_id=world.clinic_a)
    assert found.id == held.id


@pytest.mark.parametrize(
    ("expires_in", "held_for", "says"),
    [(-1, 365, "expired on"), (400, -5, "not valid until"), (None, 0, "No mesotherapy credential")],
)
def test_it_refuses_a_practitioner_without_a_current_credential(
    world: World, db: Session, expires_in: int | None, held_for: int, says: str
) -> None:
    if expires_in is not None:
        add_credential(db, world.clinician, expires_in=expires_in, held_for=held_for)
    with pytest.raises(Conflict) as refused:
        require_qualified(db, user_id(db, world.clinician), clinic_today())
    assert refused.value.code == "practitioner-not-qualified"
    assert says in refused.value.detail


def test_it_refuses_a_user_who_is_not_a_practitioner_or_works_elsewhere(world: World, db: Session) -> None:
    add_credential(db, world.colleague, expires_in=100)
    for user in (user_id(db, world.receptionist), user_id(db, world.admin), 999_999):
        with pytest.raises(Conflict, match="active practitioner"):
            require_qualified(db, user, clinic_today())
    with pytest.raises(Conflict, match="does not work at this clinic") as refused:
        require_qualified(db, user_id(db, world.colleague), clinic_today(), clinic_id=world.clinic_a)
    assert refused.value.code == "practitioner-not-qualified"
