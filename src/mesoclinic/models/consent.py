from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow

CONSENT_KINDS = ("treatment", "photo", "marketing")


class ConsentText(Base):
    """A versioned consent text; published versions are never edited, a change is a new version."""

    __tablename__ = "consent_text"
    __table_args__ = (
        UniqueConstraint("clinic_id", "kind", "version"),
        CheckConstraint("kind IN ('treatment', 'photo', 'marketing')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))


class ConsentRecord(Base):
    """A patient's signature on one consent text version; withdrawal is recorded, never deleted."""

    __tablename__ = "consent_record"
    __table_args__ = (Index("ix_consent_record_patient_kind", "patient_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    consent_text_id: Mapped[int] = mapped_column(ForeignKey("consent_text.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    typed_name: Mapped[str] = mapped_column(String(200))
    #: The drawn signature as SVG path data (``M x y L x y …``), size-limited and validated.
    signature_svg_path: Mapped[str] = mapped_column(Text)
    #: ``drawn`` on the pad, or ``typed``: the typed name drawn by the service (the keyboard way).
    signature_method: Mapped[str] = mapped_column(String(10), default="drawn", server_default="drawn")
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    witnessed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT"), default=None
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")
