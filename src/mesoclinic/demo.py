"""The demo clinic seeded by ``make run`` on first start.

Two locations, practitioners (one whose mesotherapy credential has expired), a receptionist, an
administrator, a patient with a portal login and about fifty patients, some with history. Demo
passwords are random per installation and kept in ``var/demo-logins.json`` (mode 0600), so no
credential lives in the repository.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic import demo_history
from mesoclinic.audit.service import SYSTEM_ACTOR
from mesoclinic.auth import service as auth
from mesoclinic.models import (
    Allergy,
    Clinic,
    Medication,
    Patient,
    PreviousProcedure,
    Qualification,
    Role,
)

DEMO_SEED = 20261125
PATIENT_COUNT = 50

GIVEN_NAMES = [
    "Sophie",
    "Amara",
    "Chloe",
    "Isabel",
    "Priya",
    "Hannah",
    "Yasmin",
    "Elena",
    "Grace",
    "Mei",
    "Olivia",
    "Zara",
    "Nadia",
    "Lucy",
    "Ines",
    "Aisha",
    "Freya",
    "Leila",
    "Maya",
    "Ruth",
    "Daniel",
    "Marco",
    "James",
    "Tomasz",
    "Kwame",
]
FAMILY_NAMES = [
    "Martin",
    "Okafor",
    "Bennett",
    "Rossi",
    "Sharma",
    "Kowalski",
    "Haddad",
    "Novak",
    "Evans",
    "Chen",
    "Murphy",
    "Ahmed",
    "Silva",
    "Walker",
    "Dubois",
    "Mensah",
    "Clarke",
    "Fischer",
    "Lopez",
    "Ibrahim",
    "Turner",
    "Nakamura",
    "Osei",
    "Brennan",
    "Larsen",
]
ALLERGIES = [
    ("Lidocaine", "Swelling and hives after dental anaesthetic"),
    ("Penicillin", "Rash"),
    ("Hyaluronidase", "Local swelling"),
    ("Latex", "Contact dermatitis"),
    ("Nickel", ""),
]
MEDICATIONS = [
    ("Apixaban", "anticoagulant"),
    ("Aspirin 75 mg", "antiplatelet"),
    ("Isotretinoin", "isotretinoin"),
    ("Levothyroxine", ""),
    ("Combined oral contraceptive", ""),
    ("Sertraline", ""),
]
PROCEDURES = [
    "Chemical peel (glycolic 30%)",
    "Fractional laser resurfacing",
    "Botulinum toxin, upper face",
    "Hyaluronic acid filler, lips",
    "Microneedling",
    "Mesotherapy course (3 sessions)",
]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    note: str


def _password() -> str:
    return "demo-" + secrets.token_urlsafe(12)


def is_seeded(db: Session) -> bool:
    return db.scalar(select(Clinic.id).limit(1)) is not None


def seed(db: Session, today: date | None = None) -> list[DemoLogin]:
    """Create the demo clinic in the caller's transaction and return its logins."""
    today = today or date.today()
    rng = random.Random(DEMO_SEED)
    central = Clinic(
        name="Lumen Skin Clinic — Marylebone",
        slug="lumen-marylebone",
        timezone="Europe/London",
        address="12 Example Mews, London W1",
        phone="+44 20 7946 0000",
        email="frontdesk@lumen.example",
    )
    north = Clinic(
        name="Lumen Skin Clinic — Manchester",
        slug="lumen-manchester",
        timezone="Europe/London",
        address="3 Sample Street, Manchester M1",
        phone="+44 161 496 0000",
        email="manchester@lumen.example",
    )
    db.add_all([central, north])
    db.flush()

    logins: list[DemoLogin] = []

    def account(role: Role, email: str, name: str, clinics: list[Clinic], note: str) -> int:
        password = _password()
        user = auth.create_user(
            db,
            SYSTEM_ACTOR,
            email=email,
            full_name=name,
            role=role,
            password=password,
            clinic_ids=[c.id for c in clinics],
        )
        logins.append(DemoLogin(role.value, email, password, note))
        return user.id

    account(
        Role.ADMIN,
        "admin@lumen.example",
        "Alex Morgan",
        [central, north],
        "clinic owner, both locations",
    )
    hart = account(
        Role.PRACTITIONER,
        "dr.hart@lumen.example",
        "Dr Amelia Hart",
        [central, north],
        "aesthetic physician, valid credential",
    )
    nasser = account(
        Role.PRACTITIONER,
        "dr.nasser@lumen.example",
        "Dr Omar Nasser",
        [north],
        "Manchester only, valid credential",
    )
    vogel = account(
        Role.PRACTITIONER,
        "nurse.vogel@lumen.example",
        "Lena Vogel RN",
        [central],
        "aesthetic nurse, mesotherapy credential EXPIRED",
    )
    account(
        Role.RECEPTIONIST,
        "reception@lumen.example",
        "Sam Patel",
        [central],
        "front desk, Marylebone",
    )

    credentials = [
        (
            hart,
            "Medical doctor — aesthetic medicine",
            "GMC-7012345",
            "General Medical Council",
            400,
            500,
        ),
        (
            nasser,
            "Medical doctor — dermatology",
            "GMC-7098765",
            "General Medical Council",
            900,
            200,
        ),
        (
            vogel,
            "Registered nurse — aesthetic injectables",
            "NMC-18A2345E",
            "Nursing and Midwifery Council",
            800,
            -21,
        ),
    ]
    for user_id, title, licence, issuer, held_days, days_left in credentials:
        db.add(
            Qualification(
                user_id=user_id,
                scope="mesotherapy",
                title=title,
                licence_number=licence,
                issuer=issuer,
                valid_from=today - timedelta(days=held_days),
                expires_on=today + timedelta(days=days_left),
            )
        )

    for index in range(PATIENT_COUNT):
        clinic = central if index % 5 else north
        given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
        patient = Patient(
            clinic_id=clinic.id,
            given_name=given,
            family_name=family,
            date_of_birth=today - timedelta(days=rng.randint(24 * 365, 68 * 365)),
            sex="male" if given in ("Daniel", "Marco", "James", "Tomasz", "Kwame") else "female",
            email=f"{given}.{family}.{index}@patients.example".lower(),
            phone=f"+44 7700 9{index:05d}",
        )
        db.add(patient)
        db.flush()
        if rng.random() < 0.2:
            substance, reaction = rng.choice(ALLERGIES)
            db.add(Allergy(patient_id=patient.id, substance=substance, reaction=reaction))
        if rng.random() < 0.3:
            name, drug_class = rng.choice(MEDICATIONS)
            started = today - timedelta(days=rng.randint(30, 900))
            stopped = started + timedelta(days=150) if drug_class == "isotretinoin" else None
            db.add(
                Medication(
                    patient_id=patient.id,
                    name=name,
                    drug_class=drug_class,
                    started_on=started,
                    stopped_on=stopped if stopped and stopped < today else None,
                )
            )
        for _ in range(rng.choice([0, 0, 1, 2])):
            db.add(
                PreviousProcedure(
                    patient_id=patient.id,
                    procedure=rng.choice(PROCEDURES),
                    performed_on=today - timedelta(days=rng.randint(14, 1500)),
                )
            )

    first = db.scalars(
        select(Patient).where(Patient.clinic_id == central.id).order_by(Patient.id).limit(1)
    ).one()
    patient_password = _password()
    portal = auth.create_user(
        db,
        SYSTEM_ACTOR,
        email=first.email,
        full_name=f"{first.given_name} {first.family_name}",
        role=Role.PATIENT,
        password=patient_password,
        clinic_ids=[],
    )
    first.user_id = portal.id
    logins.append(DemoLogin(Role.PATIENT.value, first.email, patient_password, "patient portal"))
    db.flush()
    demo_history.replay(db, today)
    return logins


def save_logins(path: Path, logins: list[DemoLogin]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above applies only to a new file; an older one may be readable
    with os.fdopen(fd, "w") as handle:
        json.dump([asdict(login) for login in logins], handle, indent=2)


def load_logins(path: Path) -> list[DemoLogin]:
    if not path.exists():
        return []
    return [DemoLogin(**item) for item in json.loads(path.read_text())]
