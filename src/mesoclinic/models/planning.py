from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class CoursePlan(Base):
    """A course of sessions with its interval window, and the maintenance plan that follows it."""

    __tablename__ = "course_plan"
    __table_args__ = (
        CheckConstraint("sessions_planned BETWEEN 1 AND 12", name="sessions_range"),
        CheckConstraint(
            "interval_min_days >= 1 AND interval_max_days >= interval_min_days", name="interval_order"
        ),
        CheckConstraint("status IN ('active', 'completed', 'cancelled')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    formulation_id: Mapped[int] = mapped_column(ForeignKey("formulation.id", ondelete="RESTRICT"))
    sessions_planned: Mapped[int]
    session_minutes: Mapped[int] = mapped_column(default=30)
    interval_min_days: Mapped[int]
    interval_max_days: Mapped[int]
    maintenance_interval_days: Mapped[int] = mapped_column(default=182)
    rationale: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="active")
    starts_on: Mapped[date | None] = mapped_column(default=None)
    completed_on: Mapped[date | None] = mapped_column(default=None)
    maintenance_due_on: Mapped[date | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
