"""Clinic-local time: what "today" means at a clinic, for expiry, waiting periods and schedules."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.db import utcnow
from mesoclinic.models import Clinic


def clinic_today(db: Session, clinic_id: int, now: datetime | None = None) -> date:
    """The calendar date at the clinic at ``now`` (default: the application clock)."""
    zone = db.scalar(select(Clinic.timezone).where(Clinic.id == clinic_id)) or "UTC"
    return (now or utcnow()).astimezone(ZoneInfo(zone)).date()
