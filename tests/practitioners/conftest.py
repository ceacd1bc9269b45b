"""Shared arrangements for practitioner tests: user ids and credentials written straight to the DB."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import Qualification, User


def user_id(db: Session, email: str) -> int:
    return db.scalars(select(User.id).where(User.email == email)).one()


def clinic_today() -> date:
    """Today at the test clinics (their time zone is the default, Europe/London)."""
    return datetime.now(ZoneInfo("Europe/London")).date()


def add_credential(
    db: Session, email: str, *, expires_in: int, held_for: int = 365, scope: str = "mesotherapy"
) -> Qualification:
    today = clinic_today()
    qualification = Qualification(
        user_id=user_id(db, email),
        scope=scope,
        title="Registered nurse",
        licence_number="NMC-12A3456E",
        issuer="Nursing and Midwifery Council",
        valid_from=today - timedelta(days=held_for),
        expires_on=today + timedelta(days=expires_in),
    )
    db.add(qualification)
    db.commit()
    return qualification
