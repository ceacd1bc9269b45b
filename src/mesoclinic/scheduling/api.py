"""REST routes for scheduling (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from mesoclinic.auth.deps import CurrentPrincipal, DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.models import Appointment
from mesoclinic.scheduling import service, setup
from mesoclinic.scheduling.schemas import (
    AbsenceIn,
    AbsenceRead,
    AppointmentCreate,
    AppointmentDetail,
    AppointmentEventRead,
    AppointmentRead,
    AppointmentTypeIn,
    AppointmentTypeRead,
    ClinicDay,
    ClosureIn,
    ClosureRead,
    CourseBooking,
    OpeningHoursIn,
    OpeningHoursRead,
    ProposalRequest,
    Proposals,
    Reschedule,
    RoomIn,
    RoomRead,
    SelfBooking,
    StatusChange,
    WeekView,
    WorkingHoursIn,
    WorkingHoursRead,
)

router = APIRouter(prefix="/api/v1", tags=["scheduling"])

Writer = Annotated[Principal, Depends(requires(Permission.PATIENT_WRITE))]
Created = status.HTTP_201_CREATED


# --- clinic set-up -----------------------------------------------------------------------------


@router.post("/clinics/{clinic_id}/rooms", response_model=RoomRead, status_code=Created)
def create_room(db: DbSession, principal: CurrentPrincipal, clinic_id: int, data: RoomIn) -> RoomRead:
    """Add a room and the equipment it has (administrators)."""
    return RoomRead.model_validate(setup.create_room(db, principal, clinic_id, data))


@router.get("/clinics/{clinic_id}/rooms", response_model=list[RoomRead])
def list_rooms(db: DbSession, principal: CurrentPrincipal, clinic_id: int) -> list[RoomRead]:
    """The clinic's rooms."""
    return [RoomRead.model_validate(r) for r in setup.list_rooms(db, principal, clinic_id)]


@router.post("/clinics/{clinic_id}/opening-hours", response_model=OpeningHoursRead, status_code=Created)
def add_opening_hours(
    db: DbSession, principal: CurrentPrincipal, clinic_id: int, data: OpeningHoursIn
) -> OpeningHoursRead:
    """Add an opening interval on a weekday, in clinic-local time (administrators)."""
    return OpeningHoursRead.model_validate(setup.add_opening_hours(db, principal, clinic_id, data))


@router.get("/clinics/{clinic_id}/opening-hours", response_model=list[OpeningHoursRead])
def list_opening_hours(db: DbSession, principal: CurrentPrincipal, clinic_id: int) -> list[OpeningHoursRead]:
    """The clinic's weekly opening hours."""
    return [OpeningHoursRead.model_validate(r) for r in setup.list_opening_hours(db, principal, clinic_id)]


@router.post("/clinics/{clinic_id}/closures", response_model=ClosureRead, status_code=Created)
def add_closure(db: DbSession, principal: CurrentPrincipal, clinic_id: int, data: ClosureIn) -> ClosureRead:
    """Close the clinic on a day: a holiday or training day (administrators)."""
    return ClosureRead.model_validate(setup.add_closure(db, principal, clinic_id, data))


@router.get("/clinics/{clinic_id}/closures", response_model=list[ClosureRead])
def list_closures(db: DbSession, principal: CurrentPrincipal, clinic_id: int) -> list[ClosureRead]:
    """Days the clinic is closed."""
    return [ClosureRead.model_validate(r) for r in setup.list_closures(db, principal, clinic_id)]


@router.post(
    "/clinics/{clinic_id}/appointment-types", response_model=AppointmentTypeRead, status_code=Created
)
def add_appointment_type(
    db: DbSession, principal: CurrentPrincipal, clinic_id: int, data: AppointmentTypeIn
) -> AppointmentTypeRead:
    """Add an appointment type with its duration, buffer and required equipment (administrators)."""
    return AppointmentTypeRead.model_validate(setup.add_appointment_type(db, principal, clinic_id, data))


@router.get("/clinics/{clinic_id}/appointment-types", response_model=list[AppointmentTypeRead])
def list_appointment_types(
    db: DbSession, principal: CurrentPrincipal, clinic_id: int
) -> list[AppointmentTypeRead]:
    """The clinic's appointment types."""
    return [
        AppointmentTypeRead.model_validate(t) for t in setup.list_appointment_types(db, principal, clinic_id)
    ]


@router.post("/practitioners/{user_id}/working-hours", response_model=WorkingHoursRead, status_code=Created)
def add_working_hours(
    db: DbSession, principal: CurrentPrincipal, user_id: int, data: WorkingHoursIn
) -> WorkingHoursRead:
    """When a practitioner works at a clinic on a weekday, in clinic-local time (administrators)."""
    return WorkingHoursRead.model_validate(setup.add_working_hours(db, principal, user_id, data))


@router.get("/practitioners/{user_id}/working-hours", response_model=list[WorkingHoursRead])
def list_working_hours(db: DbSession, principal: CurrentPrincipal, user_id: int) -> list[WorkingHoursRead]:
    """A practitioner's working hours at the clinics the caller shares with them."""
    return [WorkingHoursRead.model_validate(r) for r in setup.list_working_hours(db, principal, user_id)]


@router.post("/practitioners/{user_id}/absences", response_model=AbsenceRead, status_code=Created)
def add_absence(db: DbSession, principal: CurrentPrincipal, user_id: int, data: AbsenceIn) -> AbsenceRead:
    """Record an absence (administrators, or the practitioner themself)."""
    return AbsenceRead.model_validate(setup.add_absence(db, principal, user_id, data))


@router.get("/practitioners/{user_id}/absences", response_model=list[AbsenceRead])
def list_absences(db: DbSession, principal: CurrentPrincipal, user_id: int) -> list[AbsenceRead]:
    """A practitioner's absences."""
    return [AbsenceRead.model_validate(r) for r in setup.list_absences(db, principal, user_id)]


# --- appointments ------------------------------------------------------------------------------


def _detail(appointment: Appointment, history: list[AppointmentEventRead]) -> AppointmentDetail:
    return AppointmentDetail(**AppointmentRead.model_validate(appointment).model_dump(), history=history)


@router.post("/appointments", response_model=AppointmentRead, status_code=Created)
def book_appointment(db: DbSession, principal: CurrentPrincipal, data: AppointmentCreate) -> AppointmentRead:
    """Book an appointment. Refused with 409 ``slot-taken`` when the practitioner, room or patient
    is already booked then (enforced by the database), and with 409 for times outside opening or
    working hours, closures, absences, rooms lacking equipment, unqualified practitioners and
    patients whose screening blocked treatment (``contraindicated``). Patients may book only the
    next session of their own course."""
    return AppointmentRead.model_validate(service.book_appointment(db, principal, data))


@router.get("/appointments/{appointment_id}", response_model=AppointmentDetail)
def read_appointment(db: DbSession, principal: CurrentPrincipal, appointment_id: int) -> AppointmentDetail:
    """An appointment with its append-only history of status changes."""
    appointment, history = service.get_appointment(db, principal, appointment_id)
    return _detail(appointment, [AppointmentEventRead.model_validate(e) for e in history])


@router.post("/appointments/{appointment_id}/reschedule", response_model=AppointmentRead)
def reschedule(db: DbSession, principal: Writer, appointment_id: int, data: Reschedule) -> AppointmentRead:
    """Move a booked appointment to another time (and optionally practitioner or room)."""
    return AppointmentRead.model_validate(service.reschedule(db, principal, appointment_id, data))


@router.post("/appointments/{appointment_id}/cancel", response_model=AppointmentRead)
def cancel(db: DbSession, principal: Writer, appointment_id: int, data: StatusChange) -> AppointmentRead:
    """Cancel a booked appointment; its time becomes free."""
    return AppointmentRead.model_validate(
        service.change_status(db, principal, appointment_id, "cancel", data.reason)
    )


@router.post("/appointments/{appointment_id}/no-show", response_model=AppointmentRead)
def no_show(db: DbSession, principal: Writer, appointment_id: int, data: StatusChange) -> AppointmentRead:
    """Record that the patient did not come (only once the appointment has started)."""
    return AppointmentRead.model_validate(
        service.change_status(db, principal, appointment_id, "no_show", data.reason)
    )


@router.post("/appointments/{appointment_id}/check-in", response_model=AppointmentRead)
def check_in(db: DbSession, principal: Writer, appointment_id: int, data: StatusChange) -> AppointmentRead:
    """Record the patient's arrival."""
    return AppointmentRead.model_validate(
        service.change_status(db, principal, appointment_id, "check_in", data.reason)
    )


# --- calendar views ----------------------------------------------------------------------------


@router.get("/practitioners/{user_id}/week", response_model=WeekView)
def week(
    db: DbSession,
    principal: CurrentPrincipal,
    user_id: int,
    start: date,
    clinic_id: Annotated[int | None, Query(description="Clinic whose hours and time zone to use")] = None,
) -> WeekView:
    """Seven days of a practitioner's calendar from ``start``: availability and appointments."""
    return service.week_view(db, principal, user_id, start, clinic_id)


@router.get("/clinics/{clinic_id}/day", response_model=ClinicDay)
def clinic_day(
    db: DbSession, principal: CurrentPrincipal, clinic_id: int, on: Annotated[date, Query(alias="date")]
) -> ClinicDay:
    """Every appointment at the clinic on one local day."""
    return service.clinic_day(db, principal, clinic_id, on)


# --- courses -----------------------------------------------------------------------------------


@router.post("/courses/{course_id}/proposals", response_model=Proposals)
def propose(db: DbSession, principal: CurrentPrincipal, course_id: int, data: ProposalRequest) -> Proposals:
    """Proposed slots for every remaining session of a course, honouring its interval window, the
    usual practitioner, room equipment and the patient's preferred days and times, with up to three
    alternatives. Nothing is booked."""
    return service.propose_course(db, principal, course_id, data)


@router.post("/courses/{course_id}/book", response_model=list[AppointmentRead], status_code=Created)
def book_course(
    db: DbSession, principal: Writer, course_id: int, data: CourseBooking
) -> list[AppointmentRead]:
    """Book chosen slots for a course's sessions at once: all of them or none."""
    return [AppointmentRead.model_validate(a) for a in service.book_course(db, principal, course_id, data)]


@router.post("/patients/{patient_id}/self-booking", response_model=AppointmentRead, status_code=Created)
def self_booking(
    db: DbSession, principal: CurrentPrincipal, patient_id: int, data: SelfBooking
) -> AppointmentRead:
    """The patient portal: book the next session of your active course, within its interval window."""
    return AppointmentRead.model_validate(service.self_book(db, principal, patient_id, data))
