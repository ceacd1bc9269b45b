from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mesoclinic.db import Base, utcnow

SEX_VALUES = ("female", "male", "other", "unknown")


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (
        CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name="sex_known"),
        Index("ix_patient_clinic_name", "clinic_id", "family_name", "given_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"), index=True)
    #: The patient's own portal account, if they have one.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), unique=True, default=None
    )
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    sex: Mapped[str] = mapped_column(String(10), default="unknown")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    allergies: Mapped[list[Allergy]] = relationship(lazy="raise", order_by="Allergy.id")
    medications: Mapped[list[Medication]] = relationship(lazy="raise", order_by="Medication.id")
    previous_procedures: Mapped[list[PreviousProcedure]] = relationship(
        lazy="raise", order_by="PreviousProcedure.performed_on"
    )


class Allergy(Base):
    __tablename__ = "allergy"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    substance: Mapped[str] = mapped_column(String(200))
    reaction: Mapped[str] = mapped_column(String(400), default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Medication(Base):
    __tablename__ = "medication"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: A screening class such as ``anticoagulant`` or ``isotretinoin``; empty when none applies.
    drug_class: Mapped[str] = mapped_column(String(60), default="")
    started_on: Mapped[date | None] = mapped_column(default=None)
    stopped_on: Mapped[date | None] = mapped_column(default=None)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PreviousProcedure(Base):
    __tablename__ = "previous_procedure"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    procedure: Mapped[str] = mapped_column(String(200))
    #: Screening category: ``laser``, ``peel``, ``facial_surgery``, ``filler``, ``toxin``,
    #: ``mesotherapy``, ``microneedling`` or ``other``.
    category: Mapped[str] = mapped_column(String(30), default="other")
    performed_on: Mapped[date]
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
