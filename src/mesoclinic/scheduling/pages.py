"""The calendar: a clinic's day per practitioner, a practitioner's week, booking from a free slot,
the appointment actions (check-in, cancel, no-show, reschedule) and course booking with proposed
slots. Thin: every decision is the scheduling service's; this module only lays out its answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.auth.rules import Principal
from mesoclinic.errors import Forbidden, InvalidInput, NotFound
from mesoclinic.models import Appointment, AppointmentType, Clinic, Patient, Room, User
from mesoclinic.patients import service as patients
from mesoclinic.planning import service as planning
from mesoclinic.scheduling import service
from mesoclinic.scheduling.schemas import (
    AppointmentCreate,
    AppointmentRead,
    ChosenSlot,
    CourseBooking,
    ProposalRequest,
    Reschedule,
)
from mesoclinic.web.forms import EVERY_STATUS, attempt
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

#: The calendar grid's row height: a free row is a bookable start time.
SLOT_MINUTES = 30
#: Appointment actions offered as buttons, and the service action each one is.
ACTIONS = {"check-in": "check_in", "cancel": "cancel", "no-show": "no_show"}


@dataclass
class Cell:
    free: bool = False
    starts_at: datetime | None = None
    #: Appointments starting in this row (cancelled ones too, struck through, beside a free slot).
    appointments: list[AppointmentRead] = field(default_factory=list)


@dataclass
class Row:
    label: str
    cells: list[Cell] = field(default_factory=list)


def _staff_clinic(db: Session, principal: Principal) -> Clinic:
    if not principal.is_staff:
        raise Forbidden("Only clinic staff may see the calendar.", code="staff-only")
    clinic_id = principal.active_clinic_id or min(principal.clinic_ids, default=0)
    clinic = db.get(Clinic, clinic_id)
    if clinic is None or clinic.id not in principal.clinic_ids:
        raise NotFound("No such clinic.", code="clinic-not-found")
    return clinic


def _names(db: Session, model: Any, ids: set[int], attr: str) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.execute(select(model.id, getattr(model, attr)).where(model.id.in_(ids))).all()
    return {row[0]: row[1] for row in rows}


def _patient_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.execute(
        select(Patient.id, Patient.given_name, Patient.family_name).where(Patient.id.in_(ids))
    ).all()
    return {row[0]: f"{row[2]}, {row[1]}" for row in rows}


def _grid(
    zone: ZoneInfo,
    on: date,
    columns: list[tuple[list[tuple[datetime, datetime]], list[AppointmentRead]]],
) -> list[Row]:
    """Rows of ``SLOT_MINUTES`` from the earliest availability to the latest, one cell per column:
    the appointments starting in the row and whether the row is a free start time."""
    bounds = [t for available, _ in columns for window in available for t in window]
    bounds += [t for _, appointments in columns for a in appointments for t in (a.starts_at, a.ends_at)]
    if not bounds:
        return []
    first = min(bounds).astimezone(zone)
    last = max(bounds).astimezone(zone)
    cursor = datetime.combine(on, time(first.hour), tzinfo=zone)
    rows = []
    while cursor < last:
        start, end = cursor.astimezone(UTC), (cursor + timedelta(minutes=SLOT_MINUTES)).astimezone(UTC)
        row = Row(cursor.strftime("%H:%M"))
        for available, appointments in columns:
            live = [a for a in appointments if a.status in {"booked", "checked_in", "completed"}]
            starting = [a for a in appointments if start <= a.starts_at < end]
            busy = any(a.starts_at < end and a.ends_at > start for a in live)
            inside = any(s <= start and end <= e for s, e in available)
            row.cells.append(Cell(free=inside and not busy, starts_at=start, appointments=starting))
        rows.append(row)
        cursor += timedelta(minutes=SLOT_MINUTES)
    return rows


@router.get("/calendar")
def calendar(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    on: Annotated[date | None, Query(alias="date")] = None,
    practitioner: int | None = None,
) -> Response:
    clinic = _staff_clinic(db, principal)
    zone = ZoneInfo(clinic.timezone)
    on = on or datetime.now(zone).date()
    if practitioner is not None:
        return _week(request, db, principal, clinic, practitioner, on)
    day = service.clinic_day(db, principal, clinic.id, on)
    practitioner_ids = service.bookable_practitioners(db, clinic.id, on)
    practitioner_ids += sorted({a.practitioner_user_id for a in day.appointments} - set(practitioner_ids))
    columns = []
    for pid in practitioner_ids:
        available: list[tuple[datetime, datetime]] = []
        try:
            available = service.week_view(db, principal, pid, on, clinic.id).days[0].available
        except NotFound:
            available = []
        columns.append((available, [a for a in day.appointments if a.practitioner_user_id == pid]))
    return render(
        request,
        "calendar/day.html",
        _context(db, clinic, on, day.appointments)
        | {
            "closed": day.closed,
            "practitioner_ids": practitioner_ids,
            "rows": _grid(zone, on, columns),
            "previous": on - timedelta(days=1),
            "next": on + timedelta(days=1),
        },
    )


def _context(db: Session, clinic: Clinic, on: date, appointments: list[AppointmentRead]) -> dict[str, Any]:
    practitioners = {u.id: u.full_name for u in _practitioners(db, clinic.id)}
    practitioners |= _names(db, User, {a.practitioner_user_id for a in appointments}, "full_name")
    return {
        "clinic": clinic,
        "zone": ZoneInfo(clinic.timezone),
        "on": on,
        "practitioners": practitioners,
        "patient_names": _patient_names(db, {a.patient_id for a in appointments}),
        "types": _names(db, AppointmentType, {a.appointment_type_id for a in appointments}, "name"),
        "rooms": _names(db, Room, {a.room_id for a in appointments}, "name"),
    }


def _practitioners(db: Session, clinic_id: int) -> list[User]:
    ids = service.bookable_practitioners(db, clinic_id, date.today())
    return list(db.scalars(select(User).where(User.id.in_(ids)).order_by(User.full_name))) if ids else []


def _week(
    request: Request, db: Session, principal: Principal, clinic: Clinic, practitioner_id: int, on: date
) -> Response:
    start = on - timedelta(days=on.weekday())
    view = service.week_view(db, principal, practitioner_id, start, clinic.id)
    zone = ZoneInfo(clinic.timezone)
    appointments = [a for d in view.days for a in d.appointments]
    days = [(d.date, _grid(zone, d.date, [(d.available, d.appointments)])) for d in view.days]
    return render(
        request,
        "calendar/week.html",
        _context(db, clinic, on, appointments)
        | {
            "practitioner_id": practitioner_id,
            "days": days,
            "previous": start - timedelta(days=7),
            "next": start + timedelta(days=7),
        },
    )


# --- booking -----------------------------------------------------------------------------------


def _local(value: str, zone: ZoneInfo, name: str) -> datetime:
    """A ``datetime-local`` form value read as the clinic's wall-clock time."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("Give a date and time.", code="invalid-time", field=name) from None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def _booking_form(
    request: Request,
    db: Session,
    principal: Principal,
    clinic: Clinic,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    found, total = patients.search_patients(db, principal, query=values.get("q", ""), clinic_id=clinic.id)
    return render(
        request,
        "calendar/book.html",
        {
            "clinic": clinic,
            "values": values,
            "patients": found,
            "total": total,
            "practitioners": _practitioners(db, clinic.id),
            "types": service.list_appointment_types(db, principal, clinic.id),
            "room_list": service.list_rooms(db, principal, clinic.id),
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/calendar/book")
def booking_form(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    starts_at: str = "",
    practitioner_user_id: int | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
    patient_id: int | None = None,
) -> Response:
    clinic = _staff_clinic(db, principal)
    zone = ZoneInfo(clinic.timezone)
    local = ""
    if starts_at:
        local = _local(starts_at, zone, "starts_at").astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    values = {
        "starts_at": local,
        "practitioner_user_id": practitioner_user_id,
        "q": q,
        "patient_id": patient_id,
    }
    return _booking_form(request, db, principal, clinic, values)


@router.post("/calendar/book")
def book(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    patient_id: Annotated[int | None, Form()] = None,
    practitioner_user_id: Annotated[int | None, Form()] = None,
    room_id: Annotated[int | None, Form()] = None,
    appointment_type_id: Annotated[int | None, Form()] = None,
    starts_at: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    q: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    clinic = _staff_clinic(db, principal)
    zone = ZoneInfo(clinic.timezone)
    values = {
        "patient_id": patient_id,
        "practitioner_user_id": practitioner_user_id,
        "room_id": room_id,
        "appointment_type_id": appointment_type_id,
        "starts_at": starts_at,
        "note": note,
        "q": q,
    }

    def run() -> Appointment:
        for name in ("patient_id", "practitioner_user_id", "room_id", "appointment_type_id"):
            if values[name] is None:
                raise InvalidInput("Choose one.", code="required", field=name)
        data = AppointmentCreate.model_validate(
            {k: v for k, v in values.items() if k != "q"}
            | {"starts_at": _local(starts_at, zone, "starts_at")}
        )
        return service.book_appointment(db, principal, data)

    done = attempt(db, principal, run, show=EVERY_STATUS)
    if done.refused:
        return _booking_form(request, db, principal, clinic, values, done.errors, done.status)
    on = done.result.starts_at.astimezone(zone).date()
    return RedirectResponse(f"/calendar?{urlencode({'date': on.isoformat()})}", status_code=303)


# --- one appointment: check-in, cancel, no-show, reschedule ------------------------------------


def _appointment_page(
    request: Request,
    db: Session,
    principal: Principal,
    appointment_id: int,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    clinic = _staff_clinic(db, principal)
    appointment, history = service.get_appointment(db, principal, appointment_id)
    read = AppointmentRead.model_validate(appointment)
    zone = ZoneInfo(clinic.timezone)
    context = _context(db, clinic, read.starts_at.astimezone(zone).date(), [read])
    default_time = read.starts_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    return render(
        request,
        "calendar/appointment.html",
        context
        | {
            "appointment": read,
            "history": history,
            "values": values or {"starts_at": default_time},
            "errors": errors or {},
            "room_list": service.list_rooms(db, principal, clinic.id),
        },
        status_code=status_code,
    )


@router.get("/calendar/appointments/{appointment_id}")
def appointment_page(
    request: Request, db: DbSession, principal: CurrentPrincipal, appointment_id: int
) -> Response:
    return _appointment_page(request, db, principal, appointment_id)


def _back_to_day(db: Session, appointment: Appointment) -> Response:
    clinic = db.get_one(Clinic, appointment.clinic_id)
    on = appointment.starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
    return RedirectResponse(f"/calendar?{urlencode({'date': on.isoformat()})}", status_code=303)


@router.post("/calendar/appointments/{appointment_id}/reschedule")
def reschedule(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    appointment_id: int,
    starts_at: Annotated[str, Form()] = "",
    room_id: Annotated[int | None, Form()] = None,
    practitioner_user_id: Annotated[int | None, Form()] = None,
    reason: Annotated[str, Form(max_length=500)] = "",
    replan: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Move an appointment (from its page, or dropped on a free time in the calendar, possibly with
    another practitioner); a course session may take its later sessions along (``replan``)."""
    clinic = _staff_clinic(db, principal)
    zone = ZoneInfo(clinic.timezone)
    values = {"starts_at": starts_at, "room_id": room_id, "reason": reason, "replan": replan == "yes"}
    done = attempt(
        db,
        principal,
        lambda: service.reschedule(
            db,
            principal,
            appointment_id,
            Reschedule(
                starts_at=_local(starts_at, zone, "starts_at"),
                room_id=room_id,
                practitioner_user_id=practitioner_user_id,
                reason=reason,
                replan=replan == "yes",
            ),
        ),
        show=EVERY_STATUS,
    )
    if done.refused:
        return _appointment_page(request, db, principal, appointment_id, values, done.errors, done.status)
    return _back_to_day(db, done.result)


@router.post("/calendar/appointments/{appointment_id}/{action}")
def change_status(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    appointment_id: int,
    action: str,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _staff_clinic(db, principal)
    if action not in ACTIONS:
        raise NotFound("No such action.", code="action-not-found")
    done = attempt(
        db,
        principal,
        lambda: service.change_status(db, principal, appointment_id, ACTIONS[action], reason),
        show=EVERY_STATUS,
    )
    if done.refused:
        return _appointment_page(request, db, principal, appointment_id, None, done.errors, done.status)
    return _back_to_day(db, done.result)


# --- course booking with proposed slots --------------------------------------------------------


def _course_page(
    request: Request,
    db: Session,
    principal: Principal,
    course_id: int,
    appointment_type_id: int | None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The course's proposed sessions for the chosen appointment type (proposed afresh, also after a
    refused booking, so the receptionist can choose again)."""
    clinic = _staff_clinic(db, principal)
    course = planning.get_course(db, principal, course_id)
    proposals = None
    if appointment_type_id is not None:
        type_id = appointment_type_id
        proposed = attempt(
            db,
            principal,
            lambda: service.propose_course(
                db, principal, course_id, ProposalRequest(appointment_type_id=type_id)
            ),
            show=EVERY_STATUS,
        )
        proposals = proposed.value
        if proposed.refused and not errors:
            errors, status_code = proposed.errors, proposed.status
    return render(
        request,
        "calendar/course.html",
        {
            "clinic": clinic,
            "zone": ZoneInfo(clinic.timezone),
            "course_id": course_id,
            "course": course,
            "patient_name": _patient_names(db, {course.patient_id}).get(course.patient_id, ""),
            "types": service.list_appointment_types(db, principal, clinic.id),
            "appointment_type_id": appointment_type_id,
            "proposals": proposals,
            "practitioners": {u.id: u.full_name for u in _practitioners(db, clinic.id)},
            "rooms": {r.id: r.name for r in service.list_rooms(db, principal, clinic.id)},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/calendar/courses/{course_id}")
def course_page(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    course_id: int,
    appointment_type_id: int | None = None,
) -> Response:
    return _course_page(request, db, principal, course_id, appointment_type_id)


def _chosen(slots: list[str]) -> list[ChosenSlot]:
    """The ticked proposals, sent as ``starts_at|practitioner|room``."""
    chosen = []
    for raw in slots:
        try:
            starts, practitioner_id, room_id = raw.split("|")
            chosen.append(
                ChosenSlot(
                    starts_at=datetime.fromisoformat(starts),
                    practitioner_user_id=int(practitioner_id),
                    room_id=int(room_id),
                )
            )
        except ValueError:
            raise InvalidInput(
                "A chosen slot could not be read.", code="invalid-slot", field="slots"
            ) from None
    if not chosen:
        raise InvalidInput("Choose at least one slot.", code="required", field="slots")
    return chosen


@router.post("/calendar/courses/{course_id}")
def book_course(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    course_id: int,
    appointment_type_id: Annotated[int, Form()],
    slot: Annotated[list[str] | None, Form()] = None,
) -> Response:
    _staff_clinic(db, principal)
    done = attempt(
        db,
        principal,
        lambda: service.book_course(
            db,
            principal,
            course_id,
            CourseBooking(appointment_type_id=appointment_type_id, slots=_chosen(slot or [])),
        ),
        show=EVERY_STATUS,
    )
    if done.refused:
        return _course_page(request, db, principal, course_id, appointment_type_id, done.errors, done.status)
    return _back_to_day(db, done.result[0])
