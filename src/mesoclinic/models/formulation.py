from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class ClinicIngredient(Base):
    """A clinic's own addition to the built-in ingredient catalogue (or an override of one)."""

    __tablename__ = "clinic_ingredient"
    __table_args__ = (UniqueConstraint("clinic_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    ingredient_class: Mapped[str] = mapped_column(String(60))
    concerns: Mapped[list[str]] = mapped_column(JSON, default=list)
    incompatible_with: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Formulation(Base):
    """The cocktail for one patient: what the rules proposed and what the practitioner decided."""

    __tablename__ = "formulation"
    __table_args__ = (CheckConstraint("status IN ('proposed', 'final')", name="status_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("skin_assessment.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    #: ``[{code, name, concerns, rationale}]`` from ``formulation.rules.propose``.
    proposed: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: ``[{code, product_id?, concentration?, volume_ml?}]`` once decided.
    final: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT"), default=None
    )
    decision_note: Mapped[str] = mapped_column(Text, default="")
