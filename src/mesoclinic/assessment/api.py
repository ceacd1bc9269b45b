"""REST routes for assessment (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from mesoclinic.assessment import rules, service
from mesoclinic.assessment.schemas import (
    AdviceRead,
    AssessmentCreate,
    AssessmentRead,
    FindingRead,
    ZoneRead,
)
from mesoclinic.auth.deps import CurrentPrincipal, DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.models import SkinAssessment

router = APIRouter(prefix="/api/v1", tags=["assessment"])

Reader = Annotated[Principal, Depends(requires(Permission.CLINICAL_READ))]
Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]


def _read(assessment: SkinAssessment) -> AssessmentRead:
    return AssessmentRead(
        id=assessment.id,
        patient_id=assessment.patient_id,
        assessed_at=assessment.assessed_at,
        assessor_user_id=assessment.assessor_user_id,
        glogau=assessment.glogau,
        fitzpatrick=assessment.fitzpatrick,
        goals=assessment.goals,
        notes=assessment.notes,
        advice=[AdviceRead.model_validate(a) for a in assessment.advice],
        findings=[
            FindingRead.model_validate(f).model_copy(update={"band": rules.band(f.scale, f.value)})
            for f in assessment.findings
        ],
        concern_severity=service.concern_severity(assessment),
    )


@router.post(
    "/patients/{patient_id}/assessments", response_model=AssessmentRead, status_code=status.HTTP_201_CREATED
)
def create_assessment(
    db: DbSession, principal: Clinician, patient_id: int, data: AssessmentCreate
) -> AssessmentRead:
    """Record a skin assessment: concerns per facial zone graded on standard scales.

    Each finding is validated against its scale (range, step, side, method for VAS, rest/dynamic
    for Merz upper-face scales); MASI and mMASI are computed from their region components. Glogau IV,
    a lifting goal or severe laxity add an expectation note and a surgical-consult suggestion."""
    return _read(service.create_assessment(db, principal, patient_id, data))


@router.get("/patients/{patient_id}/assessments", response_model=list[AssessmentRead])
def list_assessments(db: DbSession, principal: Reader, patient_id: int) -> list[AssessmentRead]:
    """A patient's skin assessments, newest first."""
    return [_read(a) for a in service.list_assessments(db, principal, patient_id)]


@router.get("/assessments/{assessment_id}", response_model=AssessmentRead)
def read_assessment(db: DbSession, principal: Reader, assessment_id: int) -> AssessmentRead:
    """One skin assessment with its findings, severity bands and advice."""
    return _read(service.get_assessment(db, principal, assessment_id))


@router.get("/assessment-zones", response_model=list[ZoneRead])
def list_zones(principal: CurrentPrincipal) -> list[ZoneRead]:
    """The facial zones (codes and laterality) used by findings, the face chart and imaging."""
    return [
        ZoneRead(
            code=z.code,
            label=z.label,
            region=z.region,
            laterality=z.laterality,
            sides=list(z.sides),
            source=z.source,
        )
        for z in rules.reference().zones.values()
    ]
