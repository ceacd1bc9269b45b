"""REST routes for patient records (thin: the rules live in the service)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from mesoclinic.auth.deps import CurrentPrincipal, DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.errors import NotFound
from mesoclinic.models import Intake
from mesoclinic.patients import service
from mesoclinic.patients.schemas import (
    AllergyIn,
    AllergyRead,
    IntakeAnswers,
    IntakeQuestionnaire,
    IntakeRead,
    MedicationIn,
    MedicationRead,
    PatientCreate,
    PatientPage,
    PatientRead,
    PatientSummary,
    PatientUpdate,
    PreviousProcedureIn,
    PreviousProcedureRead,
    stored_answers,
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


@router.get("/intake-questionnaire", response_model=IntakeQuestionnaire)
def intake_questionnaire(principal: CurrentPrincipal) -> IntakeQuestionnaire:
    """The answer codes (with the labels a patient reads) that an intake may give."""
    return service.questionnaire()


@router.get("/{patient_id}", response_model=PatientRead)
def read_patient(db: DbSession, principal: Reader, patient_id: int) -> PatientRead:
    """One patient's record; another clinic's patient is reported as not found."""
    return PatientRead.model_validate(service.get_patient(db, principal, patient_id))


@router.patch("/{patient_id}", response_model=PatientRead)
def update_patient(db: DbSession, principal: Writer, patient_id: int, data: PatientUpdate) -> PatientRead:
    """Change demographics or contact details; the audit trail records which fields changed."""
    return PatientRead.model_validate(service.update_patient(db, principal, patient_id, data))


def _intake_read(intake: Intake) -> IntakeRead:
    return IntakeRead(
        id=intake.id,
        patient_id=intake.patient_id,
        submitted_at=intake.submitted_at,
        submitted_by_user_id=intake.submitted_by_user_id,
        source=intake.source,
        fitzpatrick=intake.fitzpatrick,
        answers_version=intake.answers_version,
        answers=stored_answers(intake.answers_version, intake.answers),
    )


@router.post("/{patient_id}/intakes", response_model=IntakeRead, status_code=status.HTTP_201_CREATED)
def submit_intake(db: DbSession, principal: Reader, patient_id: int, answers: IntakeAnswers) -> IntakeRead:
    """Submit the intake questionnaire: staff for their clinics' patients, or a patient for
    themself before the visit. Declared allergies, medications and previous procedures are added
    to the record; screening then judges these answers."""
    return _intake_read(service.submit_intake(db, principal, patient_id, answers))


@router.get("/{patient_id}/intakes", response_model=list[IntakeRead])
def list_intakes(db: DbSession, principal: Reader, patient_id: int) -> list[IntakeRead]:
    """Every intake of the patient, newest first."""
    return [_intake_read(i) for i in service.list_intakes(db, principal, patient_id)]


@router.get("/{patient_id}/intakes/latest", response_model=IntakeRead)
def latest_intake(db: DbSession, principal: Reader, patient_id: int) -> IntakeRead:
    """The most recent intake: the answers the next screening judges."""
    intake = service.latest_intake(db, principal, patient_id)
    if intake is None:
        raise NotFound("No intake has been submitted for this patient yet.", code="intake-not-found")
    return _intake_read(intake)


@router.post("/{patient_id}/allergies", response_model=AllergyRead, status_code=status.HTTP_201_CREATED)
def add_allergy(db: DbSession, principal: Writer, patient_id: int, data: AllergyIn) -> AllergyRead:
    """Record an allergy (to a substance, an anaesthetic, or anything else)."""
    return AllergyRead.model_validate(service.add_allergy(db, principal, patient_id, data))


@router.post("/{patient_id}/medications", response_model=MedicationRead, status_code=status.HTTP_201_CREATED)
def add_medication(db: DbSession, principal: Writer, patient_id: int, data: MedicationIn) -> MedicationRead:
    """Record a medication, with its screening class (e.g. ``anticoagulant``) and dates."""
    return MedicationRead.model_validate(service.add_medication(db, principal, patient_id, data))


@router.post(
    "/{patient_id}/procedures", response_model=PreviousProcedureRead, status_code=status.HTTP_201_CREATED
)
def add_procedure(
    db: DbSession, principal: Writer, patient_id: int, data: PreviousProcedureIn
) -> PreviousProcedureRead:
    """Record a previous aesthetic procedure; its category decides which waiting period applies."""
    return PreviousProcedureRead.model_validate(service.add_procedure(db, principal, patient_id, data))
