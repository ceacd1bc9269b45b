from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class Intake(Base):
    """One submitted intake questionnaire: a dated snapshot of the patient's health answers.

    Never edited: a new submission supersedes the previous one, so every screening can point at
    the exact answers it judged.
    """

    __tablename__ = "intake"
    __table_args__ = (
        CheckConstraint("fitzpatrick IS NULL OR fitzpatrick BETWEEN 1 AND 6", name="fitzpatrick_range"),
        CheckConstraint("source IN ('patient', 'staff')", name="source_known"),
        Index("ix_intake_patient_time", "patient_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    #: ``patient`` (portal questionnaire before the visit) or ``staff`` (taken at the desk).
    source: Mapped[str] = mapped_column(String(10))
    fitzpatrick: Mapped[int | None] = mapped_column(default=None)
    #: Validated by ``patients.schemas.IntakeAnswers``; versioned by ``answers_version``.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    answers_version: Mapped[int] = mapped_column(default=1)
