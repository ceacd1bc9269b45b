from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class Photo(Base):
    """A standardised clinical photo. The image itself is stored encrypted outside the database."""

    __tablename__ = "photo"
    __table_args__ = (
        CheckConstraint("view IN ('front', 'left45', 'right45')", name="view_known"),
        Index("ix_photo_patient_visit", "patient_id", "visit_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="RESTRICT"), default=None
    )
    #: The photo consent the capture falls under.
    consent_record_id: Mapped[int] = mapped_column(ForeignKey("consent_record.id", ondelete="RESTRICT"))
    visit_on: Mapped[date]
    view: Mapped[str] = mapped_column(String(10))
    #: Lighting, polarisation, make-up present, colour chart present… as declared at capture.
    capture_conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Key of the encrypted original in the media store; derivatives are stored beside it.
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    #: SHA-256 of the stored (EXIF-stripped) original, before encryption.
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(30))
    width: Mapped[int]
    height: Mapped[int]
    #: Capture quality at intake (blur, exposure clipping, pose…).
    quality: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))


class PhotoAnalysis(Base):
    """Objective skin measurements of one photo (per zone), with the method version that made them."""

    __tablename__ = "photo_analysis"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    method_version: Mapped[str] = mapped_column(String(40))
    zones: Mapped[dict[str, Any]] = mapped_column(JSON)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Canonical-frame alignment of this photo (similarity transform and residual).
    alignment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
