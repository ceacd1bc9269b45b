from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class AuditEvent(Base):
    """Append-only, hash-chained record of every access to patient data and every refusal.

    Database triggers refuse UPDATE and DELETE; ``row_hash`` covers this row's fields and the
    previous row's hash, so a row changed behind the triggers' back breaks the chain from there on.
    Details carry identifiers and field names, never clinical content.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_patient", "patient_id", "id"),
        Index("ix_audit_event_actor", "actor_user_id", "id"),
    )

    #: 64-bit on PostgreSQL; SQLite needs plain INTEGER for its rowid primary key.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who acted: a user id (no foreign key, so the trail outlives any account) and a label.
    actor_user_id: Mapped[int | None] = mapped_column(default=None)
    actor: Mapped[str] = mapped_column(String(254))
    #: Dotted verb, e.g. ``patient.read``, ``auth.login``, ``consent.signed``.
    action: Mapped[str] = mapped_column(String(80))
    #: ``success`` or ``denied``.
    outcome: Mapped[str] = mapped_column(String(20))
    target_type: Mapped[str] = mapped_column(String(60), default="")
    target_id: Mapped[str] = mapped_column(String(60), default="")
    patient_id: Mapped[int | None] = mapped_column(default=None)
    clinic_id: Mapped[int | None] = mapped_column(default=None)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)
