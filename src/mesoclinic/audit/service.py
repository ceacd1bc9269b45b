"""Writing audit rows and verifying the chain.

Rows are chained, so appends are serialised: PostgreSQL takes a transaction-scoped advisory lock;
SQLite transactions already begin IMMEDIATE (one writer at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from mesoclinic.audit.rules import GENESIS_HASH, HASHED_FIELDS, ChainBreak, first_break, row_hash
from mesoclinic.db import utcnow
from mesoclinic.errors import Refusal
from mesoclinic.models import AuditEvent

AUDIT_CHAIN_LOCK_ID = 727_001


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where: the part of a request the audit trail needs."""

    user_id: int | None
    label: str
    ip: str = ""
    user_agent: str = ""


SYSTEM_ACTOR = Actor(user_id=None, label="system")


def record(
    db: Session,
    actor: Actor,
    action: str,
    *,
    outcome: str = "success",
    target_type: str = "",
    target_id: str | int = "",
    patient_id: int | None = None,
    clinic_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction: it lands only if the change it describes does."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": AUDIT_CHAIN_LOCK_ID})
    prev = db.scalar(select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor.user_id,
        actor=actor.label,
        action=action,
        outcome=outcome,
        target_type=target_type,
        target_id=str(target_id),
        patient_id=patient_id,
        clinic_id=clinic_id,
        ip=actor.ip,
        user_agent=actor.user_agent[:300],
        details=details or {},
        prev_hash=prev or GENESIS_HASH,
    )
    event.row_hash = row_hash(event.prev_hash, {f: getattr(event, f) for f in HASHED_FIELDS})
    db.add(event)
    db.flush()
    return event


def record_refusal(db: Session, actor: Actor, refusal: Refusal, *, status: int, code: str) -> AuditEvent:
    """Audit a refused attempt; the caller has rolled back the refused change first."""
    return record(
        db,
        actor,
        refusal.action,
        outcome="denied",
        target_type=refusal.target_type,
        target_id=refusal.target_id,
        details={**refusal.details, "status": status, "code": code},
    )


def _chain_rows(db: Session) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    statement = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=2000)
    for event in db.scalars(statement):
        yield (
            event.id,
            event.prev_hash,
            event.row_hash,
            {f: getattr(event, f) for f in HASHED_FIELDS},
        )


def verify_chain(db: Session) -> ChainBreak | None:
    return first_break(_chain_rows(db))


def count_events(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent)) or 0
