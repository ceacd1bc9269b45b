"""A clinic calendar arranged straight in the database: hours, a room, types, a credential, a course."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import (
    AppointmentType,
    CoursePlan,
    Formulation,
    Intake,
    OpeningHours,
    Qualification,
    Room,
    ScreeningResult,
    SkinAssessment,
    User,
    WorkingHours,
)
from tests.support import World

LONDON = ZoneInfo("Europe/London")


def user_id(db: Session, email: str) -> int:
    return db.scalars(select(User.id).where(User.email == email)).one()


def local_today() -> date:
    return datetime.now(LONDON).date()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A clinic-local (London) time on ``day``, timezone-aware."""
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


@dataclass(frozen=True)
class Cal:
    clinic_id: int
    clinician_id: int
    admin_id: int
    room_id: int
    bare_room_id: int
    consultation_id: int
    session_type_id: int
    course_id: int
    day: date  # a day a week ahead, open and worked


def add_credential(db: Session, practitioner_id: int) -> None:
    today = local_today()
    db.add(
        Qualification(
            user_id=practitioner_id,
            scope="mesotherapy",
            title="Registered nurse",
            licence_number="NMC-12A3456E",
            issuer="Nursing and Midwifery Council",
            valid_from=today - timedelta(days=365),
            expires_on=today + timedelta(days=730),
        )
    )


def add_screening(db: Session, patient_id: int, by: int, outcome: str) -> None:
    intake = Intake(patient_id=patient_id, submitted_by_user_id=by, source="staff", answers={})
    db.add(intake)
    db.flush()
    db.add(
        ScreeningResult(
            patient_id=patient_id,
            intake_id=intake.id,
            performed_by_user_id=by,
            ruleset_version="test",
            screened_on=local_today(),
            outcome=outcome,
            findings=[],
        )
    )
    db.commit()


def arrange(db: Session, world: World) -> Cal:
    clinician = user_id(db, world.clinician)
    admin = user_id(db, world.admin)
    room = Room(clinic_id=world.clinic_a, name="Treatment 1", equipment=["treatment_couch"])
    bare = Room(clinic_id=world.clinic_a, name="Office", equipment=[])
    consultation = AppointmentType(
        clinic_id=world.clinic_a,
        code="consultation",
        name="Consultation",
        duration_minutes=20,
        buffer_minutes=0,
    )
    session_type = AppointmentType(
        clinic_id=world.clinic_a,
        code="mesotherapy_session",
        name="Mesotherapy session",
        duration_minutes=30,
        buffer_minutes=10,
        required_equipment=["treatment_couch"],
        patient_bookable=True,
    )
    db.add_all([room, bare, consultation, session_type])
    for weekday in range(7):
        db.add(OpeningHours(clinic_id=world.clinic_a, weekday=weekday, opens=time(8), closes=time(18)))
        db.add(
            WorkingHours(
                user_id=clinician, clinic_id=world.clinic_a, weekday=weekday, starts=time(9), ends=time(17)
            )
        )
    add_credential(db, clinician)
    assessment = SkinAssessment(patient_id=world.patient_a, assessor_user_id=clinician)
    db.add(assessment)
    db.flush()
    formulation = Formulation(
        patient_id=world.patient_a, assessment_id=assessment.id, proposed=[], created_by_user_id=clinician
    )
    db.add(formulation)
    db.flush()
    course = CoursePlan(
        patient_id=world.patient_a,
        formulation_id=formulation.id,
        sessions_planned=3,
        interval_min_days=14,
        interval_max_days=21,
        created_by_user_id=clinician,
    )
    db.add(course)
    db.commit()
    return Cal(
        clinic_id=world.clinic_a,
        clinician_id=clinician,
        admin_id=admin,
        room_id=room.id,
        bare_room_id=bare.id,
        consultation_id=consultation.id,
        session_type_id=session_type.id,
        course_id=course.id,
        day=local_today() + timedelta(days=7),
    )


@pytest.fixture
def cal(db: Session, world: World) -> Cal:
    return arrange(db, world)
