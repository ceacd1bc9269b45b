"""REST routes for screening (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from mesoclinic.auth.deps import DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.errors import NotFound
from mesoclinic.models import ScreeningResult
from mesoclinic.screening import rules, service
from mesoclinic.screening.ruleset import default_ruleset
from mesoclinic.screening.schemas import (
    FindingRead,
    OverrideIn,
    OverrideRead,
    ScreeningRead,
    ScreeningRequest,
)

router = APIRouter(prefix="/api/v1", tags=["screening"])

Reader = Annotated[Principal, Depends(requires(Permission.PATIENT_READ))]
Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]

# Validate the shipped rule set when the application is built, not at the first screening.
default_ruleset()


def _read(db: Session, result: ScreeningResult) -> ScreeningRead:
    overrides = service.overrides_of(db, result)
    overridden = {o.rule_code for o in overrides}
    findings = service.findings_of(result)
    state = rules.clearance(findings, overridden)
    return ScreeningRead(
        id=result.id,
        patient_id=result.patient_id,
        intake_id=result.intake_id,
        performed_at=result.performed_at,
        performed_by_user_id=result.performed_by_user_id,
        ruleset_version=result.ruleset_version,
        screened_on=result.screened_on,
        planned_ingredient_codes=result.planned_ingredient_codes,
        outcome=result.outcome,
        findings=[
            FindingRead(
                code=f.code,
                kind=f.kind,
                reason=f.reason,
                source=f.source,
                reconsider_on=f.reconsider_on,
                detail=f.detail,
                advice=f.advice,
                overridden=f.kind == "relative" and f.code in overridden,
            )
            for f in findings
        ],
        overrides=[OverrideRead.model_validate(o) for o in overrides],
        cleared=state.cleared,
        pending_overrides=[f.code for f in state.needs_override],
        reconsider_on=state.reconsider_on,
    )


@router.post(
    "/patients/{patient_id}/screenings", response_model=ScreeningRead, status_code=status.HTTP_201_CREATED
)
def run_screening(
    db: DbSession, principal: Reader, patient_id: int, data: ScreeningRequest | None = None
) -> ScreeningRead:
    """Screen the patient's latest intake and history against the contraindication rules for the
    planned cocktail (and the default topical anaesthetics), on ``on_date`` or today. 409
    ``intake-missing`` when no intake was submitted."""
    data = data or ScreeningRequest()
    result = service.run_screening(
        db, principal, patient_id, planned_ingredients=data.ingredients(), on_date=data.on_date
    )
    return _read(db, result)


@router.get("/patients/{patient_id}/screenings", response_model=list[ScreeningRead])
def list_screenings(db: DbSession, principal: Reader, patient_id: int) -> list[ScreeningRead]:
    """The patient's screenings, newest first."""
    return [_read(db, r) for r in service.list_screenings(db, principal, patient_id)]


@router.get("/patients/{patient_id}/screenings/latest", response_model=ScreeningRead)
def latest_screening(db: DbSession, principal: Reader, patient_id: int) -> ScreeningRead:
    """The patient's most recent screening."""
    result = service.latest_screening(db, principal, patient_id)
    if result is None:
        raise NotFound("This patient has not been screened yet.", code="screening-not-found")
    return _read(db, result)


@router.get("/screenings/{screening_id}", response_model=ScreeningRead)
def read_screening(db: DbSession, principal: Reader, screening_id: int) -> ScreeningRead:
    """One screening with its findings and overrides; another clinic's is not found."""
    return _read(db, service.get_screening(db, principal, screening_id))


@router.post(
    "/screenings/{screening_id}/overrides", response_model=OverrideRead, status_code=status.HTTP_201_CREATED
)
def add_override(db: DbSession, principal: Clinician, screening_id: int, data: OverrideIn) -> OverrideRead:
    """Document a practitioner's decision to treat despite a relative contraindication. 409
    ``not-overridable`` for absolute and defer findings; 422 for an unknown rule or a short reason."""
    override = service.add_override(db, principal, screening_id, data.rule_code, data.reason)
    return OverrideRead.model_validate(override)
