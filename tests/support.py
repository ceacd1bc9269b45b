"""The test world (three personas and friends) and helpers to sign them in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from mesoclinic.audit.service import SYSTEM_ACTOR
from mesoclinic.auth import service as auth
from mesoclinic.models import Clinic, Patient, Role

PASSWORD = "correct horse battery staple"  # test-only, never a real credential
TEST_SECRET_KEY = "test-only-key-0123456789abcdefghijklmnopqrstuvwxyz"

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class World:
    clinic_a: int
    clinic_b: int
    clinician: str  # practitioner at clinic A
    colleague: str  # practitioner at clinic B only: the outsider to clinic A's records
    receptionist: str  # clinic A
    admin: str  # clinic A and B
    patient_user: str  # portal login of patient_a
    patient_a: int
    other_patient_a: int  # clinic A, no login
    patient_b: int  # clinic B


def build_world(db: Session) -> World:
    a = Clinic(name="Clinic A", slug="clinic-a")
    b = Clinic(name="Clinic B", slug="clinic-b")
    db.add_all([a, b])
    db.flush()

    def user(email: str, role: Role, clinics: list[int]) -> str:
        auth.create_user(
            db,
            SYSTEM_ACTOR,
            email=email,
            full_name=email.split("@")[0].title(),
            role=role,
            password=PASSWORD,
            clinic_ids=clinics,
        )
        return email

    world_patients = []
    for clinic, given, family in [
        (a, "Ada", "Lovelace"),
        (a, "Mary", "Somerville"),
        (b, "Emmy", "Noether"),
    ]:
        patient = Patient(
            clinic_id=clinic.id,
            given_name=given,
            family_name=family,
            date_of_birth=date(1980, 5, 17),
            sex="female",
            email=f"{given.lower()}@example.org",
            phone="+44 7700 900123",
        )
        db.add(patient)
        world_patients.append(patient)
    db.flush()
    portal = auth.create_user(
        db,
        SYSTEM_ACTOR,
        email="ada@example.org",
        full_name="Ada Lovelace",
        role=Role.PATIENT,
        password=PASSWORD,
        clinic_ids=[],
    )
    world_patients[0].user_id = portal.id
    world = World(
        clinic_a=a.id,
        clinic_b=b.id,
        clinician=user("clinician@a.example", Role.PRACTITIONER, [a.id]),
        colleague=user("colleague@b.example", Role.PRACTITIONER, [b.id]),
        receptionist=user("desk@a.example", Role.RECEPTIONIST, [a.id]),
        admin=user("owner@a.example", Role.ADMIN, [a.id, b.id]),
        patient_user=portal.email,
        patient_a=world_patients[0].id,
        other_patient_a=world_patients[1].id,
        patient_b=world_patients[2].id,
    )
    db.flush()
    return world


def bearer(
    client: TestClient, email: str, password: str = PASSWORD, totp_code: str | None = None
) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/tokens", json={"email": email, "password": password, "totp_code": totp_code}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def browser_login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    form = client.get("/login", headers={"accept": "text/html"})
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_from(form.text),
            "next": "/",
        },
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
