from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class AftercareCheckin(Base):
    """A scheduled check-in after a session (day 1, 3, 7, weeks 4–12) and the patient's answers."""

    __tablename__ = "aftercare_checkin"
    __table_args__ = (
        UniqueConstraint("session_id", "label"),
        Index("ix_aftercare_checkin_due", "due_on", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_session.id", ondelete="RESTRICT"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    #: ``day1``, ``day3``, ``day7``, ``week4`` … from the follow-up schedule.
    label: Mapped[str] = mapped_column(String(20))
    due_on: Mapped[date]
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    submitted_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT"), default=None
    )
    #: ``{symptoms: {redness: 0-3, …}, red_flags: [...], note}``, validated by the schema.
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class Escalation(Base):
    """A check-in answer outside its expected window, or a red flag, waiting for a practitioner."""

    __tablename__ = "escalation"
    __table_args__ = (
        CheckConstraint("urgency IN ('emergency', 'urgent', 'routine')", name="urgency_known"),
        CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="status_known"),
        Index("ix_escalation_status", "status", "urgency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="RESTRICT"), default=None
    )
    checkin_id: Mapped[int | None] = mapped_column(
        ForeignKey("aftercare_checkin.id", ondelete="RESTRICT"), default=None
    )
    urgency: Mapped[str] = mapped_column(String(10))
    #: ``[{code, reason, advice}]`` from ``aftercare.rules``.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(14), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT"), default=None
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT"), default=None
    )
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_note: Mapped[str] = mapped_column(Text, default="")


class AdverseEvent(Base):
    """An adverse event report (FHIR AdverseEvent R4 fields); follow-ups are new rows pointing back."""

    __tablename__ = "adverse_event"
    __table_args__ = (
        CheckConstraint("seriousness IN ('serious', 'non_serious')", name="seriousness_known"),
        CheckConstraint("severity IN ('mild', 'moderate', 'severe')", name="severity_known"),
        CheckConstraint(
            "outcome IN ('resolved', 'recovering', 'ongoing', 'resolved_with_sequelae', 'fatal', 'unknown')",
            name="outcome_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="RESTRICT"), default=None
    )
    suspected_lot_id: Mapped[int | None] = mapped_column(
        ForeignKey("lot.id", ondelete="RESTRICT"), default=None
    )
    escalation_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation.id", ondelete="RESTRICT"), default=None
    )
    #: The report this one updates (append-only history of the event).
    follows_up_id: Mapped[int | None] = mapped_column(
        ForeignKey("adverse_event.id", ondelete="RESTRICT"), default=None
    )
    code: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    onset_on: Mapped[date]
    seriousness: Mapped[str] = mapped_column(String(12))
    severity: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(24))
    reported_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
