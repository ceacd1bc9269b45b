"""Patient records, always read through ``visible_patients`` so no query forgets the access rules.

Staff see the patients of the clinics they work at; a patient sees only their own record. A
record outside that scope is reported as not found, so its existence does not leak.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Principal
from mesoclinic.errors import Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.models import Allergy, Medication, Patient, PreviousProcedure, Role
from mesoclinic.patients.schemas import PatientCreate, PatientUpdate

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
    for medication in data.medications:
        if medication.started_on and medication.stopped_on and medication.stopped_on < medication.started_on:
            raise InvalidInput(
                "A medication cannot stop before it started.",
                code="medication-dates",
                field="medications.stopped_on",
            )
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
