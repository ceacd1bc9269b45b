"""REST routes for patient records (thin: the rules live in the service)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from mesoclinic.auth.deps import DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.patients import service
from mesoclinic.patients.schemas import (
    PatientCreate,
    PatientPage,
    PatientRead,
    PatientSummary,
    PatientUpdate,
)

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

Reader = Annotated[Principal, Depends(requires(Permission.PATIENT_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.PATIENT_WRITE))]


@router.get("", response_model=PatientPage)
def list_patients(
    db: DbSession,
    principal: Reader,
    q: Annotated[str, Query(max_length=100, description="Name, email or phone fragment")] = "",
    date_of_birth: date | None = None,
    clinic_id: int | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> PatientPage:
    """Patients the caller may see, searchable by name, contact and date of birth."""
    patients, total = service.search_patients(
        db,
        principal,
        query=q,
        date_of_birth=date_of_birth,
        clinic_id=clinic_id,
        offset=offset,
        limit=limit,
    )
    return PatientPage(
        items=[PatientSummary.model_validate(p) for p in patients],
        total=total,
        offset=offset,
        limit=limit,
    )


@router.post("", response_model=PatientRead, status_code=status.HTTP_201_CREATED)
def create_patient(db: DbSession, principal: Writer, data: PatientCreate) -> PatientRead:
    """Register a patient at one of the caller's clinics, with any known history."""
    return PatientRead.model_validate(service.create_patient(db, principal, data))


@router.get("/{patient_id}", response_model=PatientRead)
def read_patient(db: DbSession, principal: Reader, patient_id: int) -> PatientRead:
    """One patient's record; another clinic's patient is reported as not found."""
    return PatientRead.model_validate(service.get_patient(db, principal, patient_id))


@router.patch("/{patient_id}", response_model=PatientRead)
def update_patient(db: DbSession, principal: Writer, patient_id: int, data: PatientUpdate) -> PatientRead:
    """Change demographics or contact details; the audit trail records which fields changed."""
    return PatientRead.model_validate(service.update_patient(db, principal, patient_id, data))
