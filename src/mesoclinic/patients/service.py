"""Patient records, always read through ``visible_patients`` so no query forgets the access rules.

Staff see the patients of the clinics they work at; a patient sees only their own record. A
record outside that scope is reported as not found, so its existence does not leak.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.errors import Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.models import Allergy, Intake, Medication, Patient, PreviousProcedure, Role
from mesoclinic.patients import rules
from mesoclinic.patients.schemas import (
    INTAKE_ANSWERS_VERSION,
    AllergyIn,
    Choice,
    IntakeAnswers,
    IntakeQuestionnaire,
    MedicationIn,
    PatientCreate,
    PatientUpdate,
    PreviousProcedureIn,
)
from mesoclinic.screening.ruleset import PROCEDURE_CATEGORIES, default_ruleset

MAX_PAGE = 100


def visible_patients(principal: Principal) -> Select[Patient]:
    """The one place that decides which patient rows a caller may see."""
    statement = select(Patient)
    if principal.role is Role.PATIENT:
        return statement.where(Patient.user_id == principal.user_id)
    return statement.where(Patient.clinic_id.in_(principal.clinic_ids))


def get_patient(db: Session, principal: Principal, patient_id: int, *, audit_read: bool = True) -> Patient:
    patient = db.scalar(
        visible_patients(principal)
        .where(Patient.id == patient_id)
        .options(
            selectinload(Patient.allergies),
            selectinload(Patient.medications),
            selectinload(Patient.previous_procedures),
        )
        # History added earlier in the same unit of work must show (screening reads it next).
        .execution_options(populate_existing=True)
    )
    if patient is None:
        raise NotFound(
            "No such patient.",
            code="patient-not-found",
            refusal=Refusal("patient.read", "patient", str(patient_id)),
        )
    if audit_read:
        audit.record(
            db,
            principal.actor,
            "patient.read",
            target_type="patient",
            target_id=patient.id,
            patient_id=patient.id,
            clinic_id=patient.clinic_id,
        )
    return patient


def search_patients(
    db: Session,
    principal: Principal,
    *,
    query: str = "",
    date_of_birth: date | None = None,
    clinic_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Patient], int]:
    """Search by name, phone or email fragment and date of birth, within the caller's scope."""
    statement = visible_patients(principal)
    if clinic_id is not None:
        statement = statement.where(Patient.clinic_id == clinic_id)
    if query := query.strip():
        pattern = f"%{query.lower()}%"
        full_name = func.lower(Patient.given_name + " " + Patient.family_name)
        statement = statement.where(
            or_(
                full_name.like(pattern),
                func.lower(Patient.family_name).like(pattern),
                func.lower(Patient.email).like(pattern),
                Patient.phone.like(f"%{query}%"),
            )
        )
    if date_of_birth is not None:
        statement = statement.where(Patient.date_of_birth == date_of_birth)
    total = db.scalar(select(func.count()).select_from(statement.subquery())) or 0
    limit = max(1, min(limit, MAX_PAGE))
    patients = list(
        db.scalars(
            statement.order_by(Patient.family_name, Patient.given_name, Patient.id)
            .offset(offset)
            .limit(limit)
        )
    )
    audit.record(
        db,
        principal.actor,
        "patient.search",
        target_type="patient",
        clinic_id=clinic_id,
        details={
            "filters": sorted(k for k, v in {"query": query, "date_of_birth": date_of_birth}.items() if v),
            "patient_ids": [p.id for p in patients],
        },
    )
    return patients, total


def create_patient(db: Session, principal: Principal, data: PatientCreate) -> Patient:
    if not principal.is_staff:
        raise Forbidden("Only clinic staff register patients.", code="staff-only")
    clinic_id = data.clinic_id if data.clinic_id is not None else principal.active_clinic_id
    if clinic_id is None:
        raise InvalidInput(
            "Choose the clinic to register the patient at.",
            code="clinic-required",
            field="clinic_id",
        )
    if clinic_id not in principal.clinic_ids:
        raise Forbidden("You do not work at that clinic.", code="clinic-not-yours")
    _check_medication_dates(data.medications, "medications")
    patient = Patient(
        clinic_id=clinic_id,
        given_name=data.given_name,
        family_name=data.family_name,
        date_of_birth=data.date_of_birth,
        sex=data.sex,
        email=str(data.email),
        phone=data.phone,
    )
    db.add(patient)
    db.flush()
    db.add_all(Allergy(patient_id=patient.id, **a.model_dump()) for a in data.allergies)
    db.add_all(Medication(patient_id=patient.id, **m.model_dump()) for m in data.medications)
    db.add_all(PreviousProcedure(patient_id=patient.id, **p.model_dump()) for p in data.previous_procedures)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "patient.created",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=clinic_id,
    )
    return get_patient(db, principal, patient.id, audit_read=False)


def update_patient(db: Session, principal: Principal, patient_id: int, data: PatientUpdate) -> Patient:
    if not principal.is_staff:
        raise Forbidden("Ask the clinic to change your details.", code="staff-only")
    patient = get_patient(db, principal, patient_id, audit_read=False)
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise InvalidInput(f"{name} cannot be empty.", code="required", field=name)
        setattr(patient, name, str(value) if name == "email" else value)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "patient.updated",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"fields": sorted(changes)},
    )
    return patient


def _check_medication_dates(medications: list[MedicationIn], prefix: str) -> None:
    for problem in rules.medication_date_problems(medications, prefix):
        raise InvalidInput(problem.message, code="medication-dates", field=problem.field)


def _history_writer(db: Session, principal: Principal, patient_id: int) -> Patient:
    """The patient whose history the caller may add to: staff of the patient's clinic only."""
    if not principal.is_staff or not principal.may(Permission.PATIENT_WRITE):
        raise Forbidden("Only clinic staff add to a patient's history.", code="staff-only")
    return get_patient(db, principal, patient_id, audit_read=False)


def _audit_history(db: Session, principal: Principal, patient: Patient, action: str, item_id: int) -> None:
    audit.record(
        db,
        principal.actor,
        action,
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"item_id": item_id},
    )


def add_allergy(db: Session, principal: Principal, patient_id: int, data: AllergyIn) -> Allergy:
    patient = _history_writer(db, principal, patient_id)
    allergy = Allergy(patient_id=patient.id, **data.model_dump())
    db.add(allergy)
    db.flush()
    _audit_history(db, principal, patient, "patient.allergy_added", allergy.id)
    return allergy


def add_medication(db: Session, principal: Principal, patient_id: int, data: MedicationIn) -> Medication:
    patient = _history_writer(db, principal, patient_id)
    _check_medication_dates([data], "medications")
    medication = Medication(patient_id=patient.id, **data.model_dump())
    db.add(medication)
    db.flush()
    _audit_history(db, principal, patient, "patient.medication_added", medication.id)
    return medication


def add_procedure(
    db: Session, principal: Principal, patient_id: int, data: PreviousProcedureIn
) -> PreviousProcedure:
    patient = _history_writer(db, principal, patient_id)
    procedure = PreviousProcedure(patient_id=patient.id, **data.model_dump())
    db.add(procedure)
    db.flush()
    _audit_history(db, principal, patient, "patient.procedure_added", procedure.id)
    return procedure


def questionnaire() -> IntakeQuestionnaire:
    """The intake questions' answer codes and labels, from the screening rule set."""
    ruleset = default_ruleset()
    vocabulary = ruleset.vocabulary

    def choices(codes: dict[str, str]) -> list[Choice]:
        return [Choice(code=code, label=label) for code, label in codes.items()]

    return IntakeQuestionnaire(
        answers_version=INTAKE_ANSWERS_VERSION,
        ruleset_version=ruleset.version,
        conditions=choices(vocabulary.conditions),
        skin_problems=choices(vocabulary.skin_problems),
        drug_classes=choices(vocabulary.drug_classes),
        procedure_categories=list(PROCEDURE_CATEGORIES),
    )


def submit_intake(db: Session, principal: Principal, patient_id: int, answers: IntakeAnswers) -> Intake:
    """Store a new intake (never edits an old one) and append the history it declares.

    Staff who may write patient records submit for their clinics' patients (source ``staff``); a
    patient submits only their own questionnaire (source ``patient``). Items already on the record
    are not appended twice.
    """
    if principal.is_staff and not principal.may(Permission.PATIENT_WRITE):
        raise Forbidden("Your role may not record an intake.", code="permission-denied")
    source = "staff" if principal.is_staff else "patient"
    patient = get_patient(db, principal, patient_id, audit_read=False)
    _check_medication_dates(answers.medications, "medications")

    allergies = rules.not_yet_recorded(patient.allergies, answers.allergies, rules.allergy_key)
    medications = rules.not_yet_recorded(patient.medications, answers.medications, rules.medication_key)
    procedures = rules.not_yet_recorded(
        patient.previous_procedures, answers.previous_procedures, rules.procedure_key
    )
    intake = Intake(
        patient_id=patient.id,
        submitted_by_user_id=principal.user_id,
        source=source,
        fitzpatrick=answers.fitzpatrick,
        answers=answers.model_dump(mode="json"),
        answers_version=INTAKE_ANSWERS_VERSION,
    )
    db.add(intake)
    db.add_all(Allergy(patient_id=patient.id, **a.model_dump()) for a in allergies)
    db.add_all(Medication(patient_id=patient.id, **m.model_dump()) for m in medications)
    db.add_all(PreviousProcedure(patient_id=patient.id, **p.model_dump()) for p in procedures)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "intake.submitted",
        target_type="intake",
        target_id=intake.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={
            "source": source,
            "answers_version": INTAKE_ANSWERS_VERSION,
            "added": {
                "allergies": len(allergies),
                "medications": len(medications),
                "previous_procedures": len(procedures),
            },
        },
    )
    return intake


def _intakes_of(patient_id: int) -> Select[Intake]:
    return (
        select(Intake)
        .where(Intake.patient_id == patient_id)
        .order_by(Intake.submitted_at.desc(), Intake.id.desc())
    )


def list_intakes(db: Session, principal: Principal, patient_id: int) -> list[Intake]:
    """Every intake of a patient the caller may see, newest first."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    intakes = list(db.scalars(_intakes_of(patient.id).limit(MAX_PAGE)))
    audit.record(
        db,
        principal.actor,
        "intake.read",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"intake_ids": [i.id for i in intakes]},
    )
    return intakes


def latest_intake(
    db: Session, principal: Principal, patient_id: int, *, audit_read: bool = True
) -> Intake | None:
    """The patient's most recent intake: the one screening judges."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    intake = db.scalar(_intakes_of(patient.id).limit(1))
    if intake is not None and audit_read:
        audit.record(
            db,
            principal.actor,
            "intake.read",
            target_type="intake",
            target_id=intake.id,
            patient_id=patient.id,
            clinic_id=patient.clinic_id,
        )
    return intake
