from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class Qualification(Base):
    """A practitioner's credential (FHIR Practitioner.qualification): who issued it, until when."""

    __tablename__ = "qualification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    #: What the credential allows, e.g. ``mesotherapy``.
    scope: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    licence_number: Mapped[str] = mapped_column(String(80))
    issuer: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date]
    expires_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
