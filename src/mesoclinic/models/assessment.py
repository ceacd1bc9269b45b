from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mesoclinic.db import Base, utcnow


class SkinAssessment(Base):
    __tablename__ = "skin_assessment"
    __table_args__ = (
        CheckConstraint("glogau IS NULL OR glogau BETWEEN 1 AND 4", name="glogau_range"),
        CheckConstraint("fitzpatrick IS NULL OR fitzpatrick BETWEEN 1 AND 6", name="fitzpatrick_range"),
        Index("ix_skin_assessment_patient_time", "patient_id", "assessed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)
    assessor_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    glogau: Mapped[int | None] = mapped_column(default=None)
    fitzpatrick: Mapped[int | None] = mapped_column(default=None)
    #: Patient goals as codes, e.g. ``["hydration", "lifting"]``.
    goals: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    #: Expectation-setting notes and referrals produced by ``assessment.rules`` when saved.
    advice: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    findings: Mapped[list[AssessmentFinding]] = relationship(lazy="raise", order_by="AssessmentFinding.id")


class AssessmentFinding(Base):
    """One concern in one facial zone, graded on a named scale (with its version and method)."""

    __tablename__ = "assessment_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("skin_assessment.id", ondelete="CASCADE"), index=True
    )
    #: ``fine_lines``, ``dullness``, ``dehydration``, ``pigmentation``, ``acne_scars``, ``laxity``.
    concern: Mapped[str] = mapped_column(String(40))
    #: Zone code from the facial-zone reference, with laterality: ``L``, ``R`` or ``M`` (midline).
    zone: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(1), default="M")
    scale: Mapped[str] = mapped_column(String(40))
    value: Mapped[float]
    method: Mapped[str] = mapped_column(String(200), default="")
    #: Scale components, e.g. MASI's area, darkness and homogeneity per region.
    components: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
