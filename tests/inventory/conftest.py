"""Shared arrangements for inventory tests: stock written straight to the DB, and treated patients.

The recall query reads treatment sessions, which other domains' services create; here the whole
chain a session needs (intake, screening, consent, assessment, formulation, course plan) is
inserted with the ORM so these tests depend on nothing but the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import SYSTEM_ACTOR
from mesoclinic.auth import service as auth
from mesoclinic.auth.rules import Principal
from mesoclinic.db import utcnow
from mesoclinic.models import (
    ConsentRecord,
    ConsentText,
    CoursePlan,
    Formulation,
    Injection,
    Intake,
    Lot,
    Product,
    ScreeningResult,
    SkinAssessment,
    StockMovement,
    TreatmentSession,
    User,
)
from tests.support import World


def user_id(db: Session, email: str) -> int:
    return db.scalars(select(User.id).where(User.email == email)).one()


def principal(db: Session, email: str) -> Principal:
    user = db.scalars(select(User).where(User.email == email)).one()
    return auth.principal_for(db, user, via="token", actor=SYSTEM_ACTOR)


def today() -> date:
    """Today at the test clinics (their time zone is the default, Europe/London)."""
    return datetime.now(ZoneInfo("Europe/London")).date()


def add_lot(
    db: Session, product_id: int, number: str, *, expires_in: int, units: int, by: int, recalled: bool = False
) -> Lot:
    lot = Lot(
        product_id=product_id,
        lot_number=number,
        expires_on=today() + timedelta(days=expires_in),
        received_on=today() - timedelta(days=30),
        recalled_at=utcnow() if recalled else None,
        recall_reason="Sterility failure" if recalled else "",
    )
    db.add(lot)
    db.flush()
    db.add(StockMovement(lot_id=lot.id, kind="received", quantity=units, created_by_user_id=by))
    db.flush()
    return lot


@dataclass(frozen=True)
class Stock:
    product_a: int
    lot_a: int  # 10 units, expires in 200 days
    expired_a: int  # 4 units, expired yesterday
    soon_a: int  # 2 units, expires in 20 days
    recalled_a: int  # 5 units, recalled
    product_b: int
    lot_b: int  # clinic B's


@pytest.fixture
def stock(db: Session, world: World) -> Stock:
    owner = user_id(db, world.admin)
    booster = Product(clinic_id=world.clinic_a, name="NCHA booster 2 mL", ingredient_codes=["ncha"])
    cream = Product(clinic_id=world.clinic_b, name="Polyrevitalising 3 mL", vial_type="multi_dose")
    db.add_all([booster, cream])
    db.flush()
    found = Stock(
        product_a=booster.id,
        lot_a=add_lot(db, booster.id, "HA-2026-001", expires_in=200, units=10, by=owner).id,
        expired_a=add_lot(db, booster.id, "HA-2025-077", expires_in=-1, units=4, by=owner).id,
        soon_a=add_lot(db, booster.id, "HA-2026-002", expires_in=20, units=2, by=owner).id,
        recalled_a=add_lot(
            db, booster.id, "HA-2026-009", expires_in=300, units=5, by=owner, recalled=True
        ).id,
        product_b=cream.id,
        lot_b=add_lot(db, cream.id, "PR-1", expires_in=100, units=3, by=owner).id,
    )
    db.commit()
    return found


def make_session(
    db: Session,
    *,
    patient_id: int,
    clinic_id: int,
    practitioner_id: int,
    started_at: datetime,
    number: int = 1,
) -> TreatmentSession:
    """A treatment session with every row it points at, inserted directly."""
    text = db.scalars(select(ConsentText).where(ConsentText.clinic_id == clinic_id)).first()
    if text is None:
        text = ConsentText(
            clinic_id=clinic_id,
            kind="treatment",
            version=1,
            title="Consent",
            body="Consent text for tests.",
            created_by_user_id=practitioner_id,
        )
        db.add(text)
        db.flush()
    intake = Intake(patient_id=patient_id, submitted_by_user_id=practitioner_id, source="staff", answers={})
    assessment = SkinAssessment(patient_id=patient_id, assessor_user_id=practitioner_id)
    db.add_all([intake, assessment])
    db.flush()
    screening = ScreeningResult(
        patient_id=patient_id,
        intake_id=intake.id,
        performed_by_user_id=practitioner_id,
        ruleset_version="test",
        screened_on=date.today(),
        outcome="clear",
        findings=[],
    )
    consent = ConsentRecord(
        patient_id=patient_id,
        consent_text_id=text.id,
        kind="treatment",
        typed_name="Test Patient",
        signature_svg_path="M 0 0 L 10 10 L 20 0 L 30 10",
    )
    formulation = Formulation(
        patient_id=patient_id, assessment_id=assessment.id, proposed=[], created_by_user_id=practitioner_id
    )
    db.add_all([screening, consent, formulation])
    db.flush()
    plan = CoursePlan(
        patient_id=patient_id,
        formulation_id=formulation.id,
        sessions_planned=3,
        interval_min_days=14,
        interval_max_days=28,
        created_by_user_id=practitioner_id,
    )
    db.add(plan)
    db.flush()
    session = TreatmentSession(
        patient_id=patient_id,
        clinic_id=clinic_id,
        course_plan_id=plan.id,
        session_number=number,
        practitioner_user_id=practitioner_id,
        started_at=started_at,
        screening_result_id=screening.id,
        consent_record_id=consent.id,
    )
    db.add(session)
    db.flush()
    return session


def inject(db: Session, session: TreatmentSession, lot: Lot, zone: str, side: str, points: int) -> Injection:
    injection = Injection(
        session_id=session.id,
        zone=zone,
        side=side,
        technique="papule",
        depth_mm=1.5,
        volume_per_point_ml=0.02,
        points=points,
        total_volume_ml=round(points * 0.02, 3),
        needle_gauge=32,
        needle_length_mm=4,
        product_id=lot.product_id,
        lot_id=lot.id,
    )
    db.add(injection)
    return injection


@dataclass(frozen=True)
class Treated:
    ada_session: int  # patient_a, two zones from lot_a
    mary_session: int  # other_patient_a, lot_a recorded only as a used movement
    unrelated_session: int  # patient_a again, another lot
    emmy_session: int  # patient_b at clinic B, clinic B's lot


@pytest.fixture
def treated(db: Session, world: World, stock: Stock) -> Treated:
    clinician, colleague = user_id(db, world.clinician), user_id(db, world.colleague)
    lot_a, soon_a, lot_b = (
        db.get_one(Lot, stock.lot_a),
        db.get_one(Lot, stock.soon_a),
        db.get_one(Lot, stock.lot_b),
    )
    now = utcnow()
    ada = make_session(
        db,
        patient_id=world.patient_a,
        clinic_id=world.clinic_a,
        practitioner_id=clinician,
        started_at=now - timedelta(days=20),
    )
    inject(db, ada, lot_a, "forehead", "M", 20)
    inject(db, ada, lot_a, "cheek", "L", 15)
    inject(db, ada, lot_a, "cheek", "L", 5)
    db.add(
        StockMovement(
            lot_id=lot_a.id, kind="used", quantity=-1, session_id=ada.id, created_by_user_id=clinician
        )
    )
    mary = make_session(
        db,
        patient_id=world.other_patient_a,
        clinic_id=world.clinic_a,
        practitioner_id=clinician,
        started_at=now - timedelta(days=3),
    )
    db.add(
        StockMovement(
            lot_id=lot_a.id, kind="used", quantity=-2, session_id=mary.id, created_by_user_id=clinician
        )
    )
    unrelated = make_session(
        db,
        patient_id=world.patient_a,
        clinic_id=world.clinic_a,
        practitioner_id=clinician,
        started_at=now - timedelta(days=1),
        number=2,
    )
    inject(db, unrelated, soon_a, "forehead", "M", 10)
    emmy = make_session(
        db,
        patient_id=world.patient_b,
        clinic_id=world.clinic_b,
        practitioner_id=colleague,
        started_at=now - timedelta(days=2),
    )
    inject(db, emmy, lot_b, "neck", "M", 30)
    db.commit()
    return Treated(ada.id, mary.id, unrelated.id, emmy.id)
