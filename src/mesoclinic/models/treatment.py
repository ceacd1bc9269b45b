from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mesoclinic.db import Base, utcnow


class TreatmentSession(Base):
    """One mesotherapy session, documented step by step and signed; signed rows never change.

    Corrections after signing are ``SessionAmendment`` rows pointing back here.
    """

    __tablename__ = "treatment_session"
    __table_args__ = (
        CheckConstraint("status IN ('in_progress', 'signed')", name="status_known"),
        CheckConstraint("pain_score IS NULL OR pain_score BETWEEN 0 AND 10", name="pain_range"),
        UniqueConstraint("course_plan_id", "session_number"),
        Index("ix_treatment_session_patient", "patient_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    course_plan_id: Mapped[int] = mapped_column(ForeignKey("course_plan.id", ondelete="RESTRICT"))
    session_number: Mapped[int]
    practitioner_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(12), default="in_progress")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The screening re-run at the start of this session, and the consent it relies on.
    screening_result_id: Mapped[int] = mapped_column(ForeignKey("screening_result.id", ondelete="RESTRICT"))
    consent_record_id: Mapped[int] = mapped_column(ForeignKey("consent_record.id", ondelete="RESTRICT"))
    #: The enforced checklist, as timestamps and details of each step.
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pain_score: Mapped[int | None] = mapped_column(default=None)
    notes: Mapped[str] = mapped_column(Text, default="")
    signed_at: Mapped[datetime | None] = mapped_column(default=None)

    injections: Mapped[list[Injection]] = relationship(lazy="raise", order_by="Injection.id")


class Injection(Base):
    """What was injected in one zone: technique, depth, volume, points, needle, product and lot."""

    __tablename__ = "injection"
    __table_args__ = (
        CheckConstraint(
            "technique IN ('nappage', 'papule', 'point_by_point', 'linear_retrograde')",
            name="technique_known",
        ),
        CheckConstraint("depth_mm > 0 AND depth_mm <= 13", name="depth_range"),
        CheckConstraint("points >= 1", name="points_positive"),
        Index("ix_injection_lot", "lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="RESTRICT"), index=True
    )
    zone: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(1), default="M")
    technique: Mapped[str] = mapped_column(String(20))
    depth_mm: Mapped[float]
    volume_per_point_ml: Mapped[float]
    points: Mapped[int]
    total_volume_ml: Mapped[float]
    needle_gauge: Mapped[int]
    needle_length_mm: Mapped[float]
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="RESTRICT"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id", ondelete="RESTRICT"))
    #: Face-chart coordinates of the points, ``[[x, y], …]`` in the chart's 0–1 frame.
    chart_points: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionAmendment(Base):
    """A correction to a signed session: who, when, why and what, kept beside the original."""

    __tablename__ = "session_amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="RESTRICT"), index=True
    )
    author_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
