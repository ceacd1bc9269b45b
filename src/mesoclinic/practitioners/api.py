"""REST routes for practitioners (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.practitioners import rules, service
from mesoclinic.practitioners.schemas import (
    ExpiringCredential,
    PractitionerRead,
    QualificationCreate,
    QualificationRead,
)

router = APIRouter(prefix="/api/v1", tags=["practitioners"])


@router.get("/practitioners", response_model=list[PractitionerRead])
def list_practitioners(db: DbSession, principal: CurrentPrincipal) -> list[PractitionerRead]:
    """Staff of the caller's clinics, each with today's standing of their mesotherapy credential
    (`valid`, `expiring_soon`, `expired`, `not_yet_valid` or `none`) and whether they may treat."""
    return service.list_practitioners(db, principal, service.today_for(db, principal))


@router.get("/practitioners/credentials/expiring", response_model=list[ExpiringCredential])
def expiring_credentials(
    db: DbSession,
    principal: CurrentPrincipal,
    within_days: Annotated[int, Query(ge=0, le=366)] = rules.DEFAULT_REMINDER_DAYS,
) -> list[ExpiringCredential]:
    """Credentials at the caller's clinics that end within `within_days` days with no renewal on
    record, soonest first: the list reminders are sent from."""
    return service.expiring_credentials(db, principal, within_days)


@router.get("/practitioners/{user_id}/qualifications", response_model=list[QualificationRead])
def list_qualifications(db: DbSession, principal: CurrentPrincipal, user_id: int) -> list[QualificationRead]:
    """A practitioner's credentials: for an administrator of a shared clinic, or for themself."""
    return [QualificationRead.model_validate(q) for q in service.list_qualifications(db, principal, user_id)]


@router.post(
    "/practitioners/{user_id}/qualifications",
    response_model=QualificationRead,
    status_code=status.HTTP_201_CREATED,
)
def add_qualification(
    db: DbSession, principal: CurrentPrincipal, user_id: int, data: QualificationCreate
) -> QualificationRead:
    """Record a credential (licence number, issuer, validity period). A renewal is a new
    credential; recorded credentials are never edited."""
    return QualificationRead.model_validate(service.add_qualification(db, principal, user_id, data))
