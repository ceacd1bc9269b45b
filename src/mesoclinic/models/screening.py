from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class ScreeningResult(Base):
    """The contraindication rules run over one intake, on one day, with their findings."""

    __tablename__ = "screening_result"
    __table_args__ = (
        CheckConstraint("outcome IN ('clear', 'needs_override', 'blocked')", name="outcome_known"),
        Index("ix_screening_result_patient_time", "patient_id", "performed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id", ondelete="RESTRICT"))
    performed_at: Mapped[datetime] = mapped_column(default=utcnow)
    performed_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    #: The clinic day the rules judged (waiting periods are counted to this date).
    screened_on: Mapped[date]
    #: The cocktail the allergy rules checked; a session may rely on this screening only if its
    #: course's formulation is covered.
    planned_ingredient_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The rule set's version (data file version) that produced these findings.
    ruleset_version: Mapped[str] = mapped_column(String(40))
    #: ``clear``, ``needs_override`` (relative findings only) or ``blocked`` (any absolute/defer).
    outcome: Mapped[str] = mapped_column(String(20))
    #: ``[{code, kind, reason, source, reconsider_on}]`` as decided by ``screening.rules``.
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class ScreeningOverride(Base):
    """A practitioner's documented decision to proceed despite a relative contraindication."""

    __tablename__ = "screening_override"
    __table_args__ = (UniqueConstraint("screening_result_id", "rule_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_result_id: Mapped[int] = mapped_column(ForeignKey("screening_result.id", ondelete="CASCADE"))
    rule_code: Mapped[str] = mapped_column(String(60))
    practitioner_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
