"""Clinic calendar set-up: rooms, opening hours, closures, appointment types, practitioners' working
hours and absences (administrators write, staff read), and the access checks the calendar shares.

Split from ``service.py``, which keeps the booking and course use cases.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Principal
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.models import (
    Absence,
    AppointmentType,
    Clinic,
    ClinicClosure,
    ClinicMembership,
    OpeningHours,
    Role,
    Room,
    User,
    WorkingHours,
)
from mesoclinic.patients.service import get_patient
from mesoclinic.scheduling.schemas import (
    AbsenceIn,
    AppointmentTypeIn,
    ClosureIn,
    OpeningHoursIn,
    RoomIn,
    WorkingHoursIn,
)

# --- access ------------------------------------------------------------------------------------


def _clinic(db: Session, principal: Principal, clinic_id: int) -> Clinic:
    clinic = db.get(Clinic, clinic_id) if clinic_id in principal.clinic_ids else None
    if clinic is None:
        raise NotFound("No such clinic.", code="clinic-not-found")
    return clinic


def _staff_clinic(db: Session, principal: Principal, clinic_id: int) -> Clinic:
    if not principal.is_staff:
        raise Forbidden("Only clinic staff may see the calendar.", code="staff-only")
    return _clinic(db, principal, clinic_id)


def _admin_clinic(db: Session, principal: Principal, clinic_id: int, action: str) -> Clinic:
    if principal.role is not Role.ADMIN:
        raise Forbidden(
            "Only a clinic administrator may change the clinic's calendar set-up.",
            code="admin-only",
            refusal=Refusal(action, "clinic", str(clinic_id)),
        )
    return _clinic(db, principal, clinic_id)


def _zone(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.timezone or "UTC")


def _audit_setup(
    db: Session, principal: Principal, action: str, clinic_id: int, kind: str, row_id: int
) -> None:
    audit.record(db, principal.actor, action, target_type=kind, target_id=row_id, clinic_id=clinic_id)


def _shared_practitioner(db: Session, principal: Principal, user_id: int) -> list[int]:
    """The clinics the caller shares with staff user ``user_id``; 404 when none."""
    shared = list(
        db.scalars(
            select(ClinicMembership.clinic_id)
            .join(User, User.id == ClinicMembership.user_id)
            .where(
                ClinicMembership.user_id == user_id,
                ClinicMembership.clinic_id.in_(principal.clinic_ids),
                User.role != Role.PATIENT.value,
            )
            .order_by(ClinicMembership.clinic_id)
        )
    )
    if not shared:
        raise NotFound("No such practitioner.", code="practitioner-not-found")
    return shared


# --- clinic set-up (administrators) ------------------------------------------------------------


def create_room(db: Session, principal: Principal, clinic_id: int, data: RoomIn) -> Room:
    """Add a room with the equipment it has."""
    _admin_clinic(db, principal, clinic_id, "scheduling.room.create")
    room = Room(clinic_id=clinic_id, name=data.name, equipment=sorted(set(data.equipment)), active=True)
    db.add(room)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as error:
        raise Conflict("A room of that name exists.", code="room-exists", field="name") from error
    _audit_setup(db, principal, "scheduling.room_created", clinic_id, "room", room.id)
    return room


def list_rooms(db: Session, principal: Principal, clinic_id: int) -> list[Room]:
    _staff_clinic(db, principal, clinic_id)
    return list(db.scalars(select(Room).where(Room.clinic_id == clinic_id).order_by(Room.name)))


def add_opening_hours(
    db: Session, principal: Principal, clinic_id: int, data: OpeningHoursIn
) -> OpeningHours:
    """Add one opening interval on a weekday (several per day are allowed, e.g. around lunch)."""
    _admin_clinic(db, principal, clinic_id, "scheduling.opening_hours.create")
    row = OpeningHours(clinic_id=clinic_id, weekday=data.weekday, opens=data.opens, closes=data.closes)
    db.add(row)
    db.flush()
    _audit_setup(db, principal, "scheduling.opening_hours_added", clinic_id, "opening_hours", row.id)
    return row


def list_opening_hours(db: Session, principal: Principal, clinic_id: int) -> list[OpeningHours]:
    _staff_clinic(db, principal, clinic_id)
    return list(
        db.scalars(
            select(OpeningHours)
            .where(OpeningHours.clinic_id == clinic_id)
            .order_by(OpeningHours.weekday, OpeningHours.opens)
        )
    )


def add_closure(db: Session, principal: Principal, clinic_id: int, data: ClosureIn) -> ClinicClosure:
    """Close the clinic on a day (holiday, training). Existing appointments that day are kept and
    show on the day view; they must be moved by staff."""
    _admin_clinic(db, principal, clinic_id, "scheduling.closure.create")
    row = ClinicClosure(clinic_id=clinic_id, on_date=data.on_date, reason=data.reason)
    db.add(row)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as error:
        raise Conflict(
            "The clinic is already closed that day.", code="closure-exists", field="on_date"
        ) from error
    _audit_setup(db, principal, "scheduling.closure_added", clinic_id, "clinic_closure", row.id)
    return row


def list_closures(db: Session, principal: Principal, clinic_id: int) -> list[ClinicClosure]:
    _staff_clinic(db, principal, clinic_id)
    return list(
        db.scalars(
            select(ClinicClosure).where(ClinicClosure.clinic_id == clinic_id).order_by(ClinicClosure.on_date)
        )
    )


def add_appointment_type(
    db: Session, principal: Principal, clinic_id: int, data: AppointmentTypeIn
) -> AppointmentType:
    """Add an appointment type (duration, buffer kept free after it, equipment its room needs)."""
    _admin_clinic(db, principal, clinic_id, "scheduling.appointment_type.create")
    row = AppointmentType(clinic_id=clinic_id, **data.model_dump())
    row.required_equipment = sorted(set(data.required_equipment))
    db.add(row)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as error:
        raise Conflict(
            "A type with that code exists.", code="appointment-type-exists", field="code"
        ) from error
    _audit_setup(db, principal, "scheduling.appointment_type_added", clinic_id, "appointment_type", row.id)
    return row


def list_appointment_types(db: Session, principal: Principal, clinic_id: int) -> list[AppointmentType]:
    """The clinic's appointment types (patients see those of their own clinic)."""
    if principal.role is Role.PATIENT:
        if principal.patient_id is None:
            raise NotFound("No such clinic.", code="clinic-not-found")
        patient = get_patient(db, principal, principal.patient_id, audit_read=False)
        if patient.clinic_id != clinic_id:
            raise NotFound("No such clinic.", code="clinic-not-found")
    else:
        _clinic(db, principal, clinic_id)
    return list(
        db.scalars(
            select(AppointmentType)
            .where(AppointmentType.clinic_id == clinic_id)
            .order_by(AppointmentType.code)
        )
    )


def add_working_hours(db: Session, principal: Principal, user_id: int, data: WorkingHoursIn) -> WorkingHours:
    """When a practitioner works at one of their clinics on a weekday (clinic-local times)."""
    _admin_clinic(db, principal, data.clinic_id, "scheduling.working_hours.create")
    if data.clinic_id not in _shared_practitioner(db, principal, user_id):
        raise InvalidInput(
            "The practitioner does not work at that clinic.", code="not-a-member", field="clinic_id"
        )
    row = WorkingHours(
        user_id=user_id, clinic_id=data.clinic_id, weekday=data.weekday, starts=data.starts, ends=data.ends
    )
    db.add(row)
    db.flush()
    _audit_setup(db, principal, "scheduling.working_hours_added", data.clinic_id, "working_hours", row.id)
    return row


def list_working_hours(db: Session, principal: Principal, user_id: int) -> list[WorkingHours]:
    if not principal.is_staff:
        raise Forbidden("Only clinic staff may see working hours.", code="staff-only")
    shared = _shared_practitioner(db, principal, user_id)
    return list(
        db.scalars(
            select(WorkingHours)
            .where(WorkingHours.user_id == user_id, WorkingHours.clinic_id.in_(shared))
            .order_by(WorkingHours.clinic_id, WorkingHours.weekday, WorkingHours.starts)
        )
    )


def add_absence(db: Session, principal: Principal, user_id: int, data: AbsenceIn) -> Absence:
    """Record leave, training or sickness, by an administrator of a shared clinic or the person."""
    if not principal.is_staff:
        raise Forbidden("Only clinic staff have absences.", code="staff-only")
    shared = _shared_practitioner(db, principal, user_id)
    if principal.role is not Role.ADMIN and principal.user_id != user_id:
        raise Forbidden("Only an administrator records a colleague's absence.", code="admin-only")
    row = Absence(user_id=user_id, starts_at=data.starts_at, ends_at=data.ends_at, reason=data.reason)
    db.add(row)
    db.flush()
    _audit_setup(db, principal, "scheduling.absence_added", shared[0], "absence", row.id)
    return row


def list_absences(db: Session, principal: Principal, user_id: int) -> list[Absence]:
    if not principal.is_staff:
        raise Forbidden("Only clinic staff may see absences.", code="staff-only")
    _shared_practitioner(db, principal, user_id)
    return list(db.scalars(select(Absence).where(Absence.user_id == user_id).order_by(Absence.starts_at)))
