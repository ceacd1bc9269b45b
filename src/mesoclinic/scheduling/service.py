"""Scheduling use cases: booking without double booking, course slot proposals.

Double booking is prevented by the database: a live appointment holds ``booked_slot`` rows (one per
5-minute slot of the appointment and its buffer, for its practitioner, room and patient) whose
primary key refuses a second holder, whichever process tries. Code only checks what the database
cannot (hours, closures, absences, equipment, credentials, screening) and turns the key violation
into 409 ``slot-taken``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.messaging import service as messaging
from mesoclinic.models import (
    Appointment,
    AppointmentEvent,
    AppointmentType,
    BookedSlot,
    Clinic,
    ClinicMembership,
    ContactPreference,
    CoursePlan,
    Patient,
    Qualification,
    Role,
    Room,
    ScreeningResult,
    TreatmentSession,
    User,
)
from mesoclinic.patients.service import get_patient
from mesoclinic.planning import service as planning
from mesoclinic.practitioners import rules as credentials
from mesoclinic.practitioners.service import require_qualified
from mesoclinic.scheduling import busy_time, rules
from mesoclinic.scheduling.schemas import (
    AppointmentCreate,
    AppointmentRead,
    CalendarDay,
    ClinicDay,
    CourseBooking,
    ProposalRequest,
    Proposals,
    ProposedPlan,
    ProposedSlotRead,
    Reschedule,
    SelfBooking,
    WeekView,
)
from mesoclinic.scheduling.setup import (  # list_* re-exported for the HTML pages
    _clinic,
    _shared_practitioner,
    _staff_clinic,
    _zone,
)
from mesoclinic.scheduling.setup import (
    list_appointment_types as list_appointment_types,
)
from mesoclinic.scheduling.setup import (
    list_rooms as list_rooms,
)

#: Appointment type codes that are treatment sessions: screening must not have blocked the patient.
SESSION_TYPE_CODES = frozenset({"mesotherapy_session"})
LIVE = sorted(rules.LIVE_STATUSES)


# --- calendar inputs ---------------------------------------------------------------------------


def bookable_practitioners(db: Session, clinic_id: int, on: date) -> list[int]:
    """Active practitioners of the clinic holding a mesotherapy credential valid on ``on``."""
    return list(
        db.scalars(
            select(User.id)
            .join(ClinicMembership, ClinicMembership.user_id == User.id)
            .where(
                ClinicMembership.clinic_id == clinic_id,
                User.role == Role.PRACTITIONER.value,
                User.is_active,
                User.id.in_(
                    select(Qualification.user_id).where(
                        Qualification.scope == credentials.MESOTHERAPY,
                        Qualification.valid_from <= on,
                        Qualification.expires_on >= on,
                    )
                ),
            )
            .order_by(User.id)
        )
    )


# --- booking -----------------------------------------------------------------------------------


def _refuse(violation: rules.Violation, action: str, target_id: int | str = "") -> None:
    error_type = (
        InvalidInput if violation.code in {"in-the-past", "not-slot-aligned", "naive-time"} else Conflict
    )
    raise error_type(
        violation.reason,
        code=violation.code,
        field=violation.field,
        refusal=Refusal(action, "appointment", str(target_id), details={"rule": violation.code}),
    )


def _type(db: Session, clinic_id: int, type_id: int) -> AppointmentType:
    atype = db.get(AppointmentType, type_id)
    if atype is None or atype.clinic_id != clinic_id:
        raise InvalidInput(
            "No such appointment type at this clinic.", code="type-not-found", field="appointment_type_id"
        )
    return atype


def _room(db: Session, clinic_id: int, room_id: int) -> Room:
    room = db.get(Room, room_id)
    if room is None or room.clinic_id != clinic_id or not room.active:
        raise InvalidInput("No such room at this clinic.", code="room-not-found", field="room_id")
    return room


def _hold_slots(db: Session, appointment: Appointment, held: rules.Interval) -> None:
    """Insert the appointment's slot rows; the primary key refuses any slot already held."""
    slots = rules.slot_starts(held)
    rows = sorted(
        (
            {
                "resource": resource,
                "resource_id": resource_id,
                "slot_start": slot,
                "appointment_id": appointment.id,
            }
            for resource, resource_id in (
                ("patient", appointment.patient_id),
                ("practitioner", appointment.practitioner_user_id),
                ("room", appointment.room_id),
            )
            for slot in slots
        ),
        key=lambda r: (r["resource"], r["resource_id"], r["slot_start"]),
    )
    try:
        db.execute(insert(BookedSlot), rows)
    except IntegrityError as error:
        raise Conflict(
            "That time is already taken for the practitioner, the room or the patient.",
            code="slot-taken",
            field="starts_at",
        ) from error


def _release_slots(db: Session, appointment: Appointment) -> None:
    db.execute(delete(BookedSlot).where(BookedSlot.appointment_id == appointment.id))


def _event(db: Session, principal: Principal, appointment: Appointment, kind: str, reason: str = "") -> None:
    db.add(
        AppointmentEvent(
            appointment_id=appointment.id,
            kind=kind,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            actor_user_id=principal.user_id,
            reason=reason,
            occurred_at=utcnow(),
        )
    )
    db.flush()


def _audit_appointment(
    db: Session,
    principal: Principal,
    action: str,
    appointment: Appointment,
    details: dict[str, object] | None = None,
) -> None:
    audit.record(
        db,
        principal.actor,
        action,
        target_type="appointment",
        target_id=appointment.id,
        patient_id=appointment.patient_id,
        clinic_id=appointment.clinic_id,
        details={"status": appointment.status, **(details or {})},
    )


def _check_time(
    db: Session,
    clinic: Clinic,
    atype: AppointmentType,
    room: Room,
    practitioner_id: int,
    starts_at: datetime,
    action: str,
) -> tuple[rules.Interval, datetime]:
    """Refuse a time outside hours, in a closure or absence, in the past, or in a room lacking the
    type's equipment, and a practitioner without a valid credential; return the held interval."""
    zone = _zone(clinic)
    local = starts_at.astimezone(zone).date()
    held = rules.occupied(starts_at, atype.duration_minutes, atype.buffer_minutes)
    violations = rules.booking_violations(
        busy_time.hours_for(db, clinic, practitioner_id, local),
        starts_at=starts_at,
        held=held,
        now=utcnow(),
        room_equipment=room.equipment,
        required_equipment=atype.required_equipment,
    )
    if violations:
        _refuse(violations[0], action)
    require_qualified(db, practitioner_id, local, clinic_id=clinic.id)
    return held, starts_at.astimezone(UTC) + timedelta(minutes=atype.duration_minutes)


def _require_not_contraindicated(
    db: Session, patient: Patient, atype: AppointmentType, course: CoursePlan | None
) -> None:
    """A treatment session may not be booked for a patient whose latest screening blocked treatment
    (an absolute contraindication or a reason to defer; screening.rules)."""
    if atype.code not in SESSION_TYPE_CODES and course is None:
        return
    outcome = db.scalar(
        select(ScreeningResult.outcome)
        .where(ScreeningResult.patient_id == patient.id)
        .order_by(ScreeningResult.performed_at.desc(), ScreeningResult.id.desc())
        .limit(1)
    )
    if outcome == "blocked":
        raise Conflict(
            "The patient's latest screening found a contraindication; a session cannot be booked.",
            code="contraindicated",
            field="patient_id",
            refusal=Refusal(
                "appointment.book", "patient", str(patient.id), details={"rule": "contraindicated"}
            ),
        )


def _book(
    db: Session,
    principal: Principal,
    *,
    patient: Patient,
    atype: AppointmentType,
    practitioner_id: int,
    room_id: int,
    starts_at: datetime,
    course: CoursePlan | None = None,
    session_number: int | None = None,
    note: str = "",
) -> Appointment:
    clinic = db.get(Clinic, atype.clinic_id)
    assert clinic is not None  # noqa: S101 - foreign key
    if patient.clinic_id != clinic.id:
        raise InvalidInput(
            "The appointment type belongs to another clinic than the patient's.",
            code="type-not-found",
            field="appointment_type_id",
        )
    room = _room(db, clinic.id, room_id)
    held, ends_at = _check_time(db, clinic, atype, room, practitioner_id, starts_at, "appointment.book")
    _require_not_contraindicated(db, patient, atype, course)
    appointment = Appointment(
        clinic_id=clinic.id,
        patient_id=patient.id,
        practitioner_user_id=practitioner_id,
        room_id=room.id,
        appointment_type_id=atype.id,
        course_plan_id=course.id if course else None,
        session_number=session_number,
        starts_at=starts_at.astimezone(UTC),
        ends_at=ends_at,
        status="booked",
        note=note,
        created_at=utcnow(),
        created_by_user_id=principal.user_id,
    )
    db.add(appointment)
    db.flush()
    _hold_slots(db, appointment, held)
    _event(db, principal, appointment, "booked")
    _audit_appointment(
        db, principal, "appointment.booked", appointment, {"course_plan_id": appointment.course_plan_id}
    )
    return appointment


def _course_appointments(db: Session, course_id: int) -> list[Appointment]:
    return list(
        db.scalars(
            select(Appointment)
            .where(Appointment.course_plan_id == course_id, Appointment.status.in_(LIVE))
            .order_by(Appointment.starts_at)
        )
    )


def _previous_date(appointments: Sequence[Appointment], zone: ZoneInfo) -> date | None:
    return appointments[-1].starts_at.astimezone(zone).date() if appointments else None


@dataclass(frozen=True)
class CourseProgress:
    """Where a course stands for booking: sessions already given (with or without an appointment)
    plus sessions booked after the last one given."""

    count: int
    previous_on: date | None
    previous_practitioner: int | None


def _course_progress(db: Session, course_id: int, zone: ZoneInfo) -> CourseProgress:
    given = db.execute(
        select(TreatmentSession.started_at, TreatmentSession.practitioner_user_id)
        .where(TreatmentSession.course_plan_id == course_id)
        .order_by(TreatmentSession.started_at)
    ).all()
    last_given = given[-1].started_at if given else None
    upcoming = [
        a
        for a in _course_appointments(db, course_id)
        if a.status != "completed" and (last_given is None or a.starts_at > last_given)
    ]
    if upcoming:
        last = upcoming[-1]
        return CourseProgress(
            len(given) + len(upcoming), last.starts_at.astimezone(zone).date(), last.practitioner_user_id
        )
    if given:
        return CourseProgress(
            len(given), given[-1].started_at.astimezone(zone).date(), given[-1].practitioner_user_id
        )
    return CourseProgress(0, None, None)


def book_appointment(db: Session, principal: Principal, data: AppointmentCreate) -> Appointment:
    """Book an appointment. Staff book any patient of their clinics; a patient books only the next
    session of their own active course, of a type the clinic lets patients book."""
    if principal.role is Role.PATIENT:
        return self_book(
            db,
            principal,
            data.patient_id,
            SelfBooking(
                appointment_type_id=data.appointment_type_id,
                starts_at=data.starts_at,
                practitioner_user_id=data.practitioner_user_id,
                room_id=data.room_id,
            ),
        )
    if not principal.may(Permission.PATIENT_WRITE):
        raise Forbidden("Your role may not book appointments.", code="permission-denied")
    patient = get_patient(db, principal, data.patient_id, audit_read=False)
    atype = _type(db, patient.clinic_id, data.appointment_type_id)
    course: CoursePlan | None = None
    session_number: int | None = None
    if data.course_plan_id is not None:
        course = planning.get_course(db, principal, data.course_plan_id, audit_read=False)
        if course.patient_id != patient.id:
            raise InvalidInput(
                "That course is another patient's.", code="course-not-found", field="course_plan_id"
            )
        session_number = _next_course_session(db, course, patient, data.starts_at)
    return _book(
        db,
        principal,
        patient=patient,
        atype=atype,
        practitioner_id=data.practitioner_user_id,
        room_id=data.room_id,
        starts_at=data.starts_at,
        course=course,
        session_number=session_number,
        note=data.note,
    )


def _next_course_session(db: Session, course: CoursePlan, patient: Patient, starts_at: datetime) -> int:
    """The number of the session a new booking of ``course`` at ``starts_at`` would be, after
    checking the course is active, has a session left and the date is in its interval window."""
    if course.status != "active":
        raise Conflict(f"This course is {course.status}.", code="course-not-active")
    clinic = db.get(Clinic, patient.clinic_id)
    zone = _zone(clinic) if clinic else ZoneInfo("UTC")
    progress = _course_progress(db, course.id, zone)
    if progress.count >= course.sessions_planned:
        raise Conflict("Every session of this course is booked.", code="course-fully-booked")
    violation = rules.gap_violation(
        progress.previous_on,
        starts_at.astimezone(zone).date(),
        course.interval_min_days,
        course.interval_max_days,
    )
    if violation is not None:
        _refuse(violation, "appointment.book", "")
    return progress.count + 1


def self_book(db: Session, principal: Principal, patient_id: int, data: SelfBooking) -> Appointment:
    """The portal: a patient books the next session of their active course, within its window."""
    if principal.role is not Role.PATIENT:
        raise Forbidden("Self-booking is for patients; staff book through /appointments.", code="portal-only")
    patient = get_patient(db, principal, patient_id, audit_read=False)
    atype = _type(db, patient.clinic_id, data.appointment_type_id)
    if not atype.patient_bookable:
        raise Conflict(
            "The clinic books this kind of appointment itself.",
            code="not-patient-bookable",
            field="appointment_type_id",
        )
    course = db.scalar(
        select(CoursePlan)
        .where(CoursePlan.patient_id == patient.id, CoursePlan.status == "active")
        .order_by(CoursePlan.created_at.desc(), CoursePlan.id.desc())
        .limit(1)
    )
    if course is None:
        raise Conflict("You have no active course to book a session of.", code="no-active-course")
    number = _next_course_session(db, course, patient, data.starts_at)
    return _book(
        db,
        principal,
        patient=patient,
        atype=atype,
        practitioner_id=data.practitioner_user_id,
        room_id=data.room_id,
        starts_at=data.starts_at,
        course=course,
        session_number=number,
    )


# --- changes -----------------------------------------------------------------------------------


def _visible_appointment(db: Session, principal: Principal, appointment_id: int) -> Appointment:
    appointment = db.get(Appointment, appointment_id)
    visible = False
    if appointment is not None:
        try:
            get_patient(db, principal, appointment.patient_id, audit_read=False)
            visible = principal.role is Role.PATIENT or appointment.clinic_id in principal.clinic_ids
        except NotFound:
            visible = False
    if appointment is None or not visible:
        raise NotFound(
            "No such appointment.",
            code="appointment-not-found",
            refusal=Refusal("appointment.read", "appointment", str(appointment_id)),
        )
    return appointment


def _transition(appointment: Appointment, action: str) -> str:
    outcome = rules.transition(action, appointment.status)
    if isinstance(outcome, rules.Violation):
        _refuse(outcome, f"appointment.{action}", appointment.id)
        raise AssertionError("unreachable")  # pragma: no cover
    return outcome


def get_appointment(
    db: Session, principal: Principal, appointment_id: int
) -> tuple[Appointment, list[AppointmentEvent]]:
    """One appointment with its history, oldest first."""
    appointment = _visible_appointment(db, principal, appointment_id)
    history = list(
        db.scalars(
            select(AppointmentEvent)
            .where(AppointmentEvent.appointment_id == appointment.id)
            .order_by(AppointmentEvent.occurred_at, AppointmentEvent.id)
        )
    )
    _audit_appointment(db, principal, "appointment.read", appointment)
    return appointment, history


def _move(
    db: Session, appointment: Appointment, starts_at: datetime, practitioner_id: int, room_id: int
) -> None:
    """Give a (slot-released) appointment its new time and hold its slots; the caller checked it."""
    atype = db.get(AppointmentType, appointment.appointment_type_id)
    assert atype is not None  # noqa: S101 - foreign key
    appointment.starts_at = starts_at.astimezone(UTC)
    appointment.ends_at = appointment.starts_at + timedelta(minutes=atype.duration_minutes)
    appointment.practitioner_user_id = practitioner_id
    appointment.room_id = room_id
    db.flush()
    _hold_slots(
        db, appointment, rules.occupied(appointment.starts_at, atype.duration_minutes, atype.buffer_minutes)
    )


def reschedule(db: Session, principal: Principal, appointment_id: int, data: Reschedule) -> Appointment:
    """Move a booked appointment (optionally to another practitioner or room). A course session
    must stay within the interval window after the previous session; when the move breaks the
    window of the later booked sessions it is refused (409 ``breaks-course-window``) unless
    ``replan`` asks to move those too, to the best re-plan (``rules.replan_after_move``): all of
    them or, on any refusal, nothing."""
    appointment = _visible_appointment(db, principal, appointment_id)
    _transition(appointment, "reschedule")
    clinic = db.get(Clinic, appointment.clinic_id)
    atype = db.get(AppointmentType, appointment.appointment_type_id)
    assert clinic is not None  # noqa: S101 - foreign key
    assert atype is not None  # noqa: S101 - foreign key
    zone = _zone(clinic)
    practitioner_id = data.practitioner_user_id or appointment.practitioner_user_id
    room = _room(db, clinic.id, data.room_id or appointment.room_id)
    _check_time(db, clinic, atype, room, practitioner_id, data.starts_at, "appointment.reschedule")
    course: CoursePlan | None = None
    later: list[Appointment] = []
    if appointment.course_plan_id is not None:
        course = db.get(CoursePlan, appointment.course_plan_id)
        sessions = [a for a in _course_appointments(db, appointment.course_plan_id) if a.id != appointment.id]
        earlier = [a for a in sessions if a.starts_at < appointment.starts_at]
        later = [a for a in sessions if a.starts_at > appointment.starts_at]
        if course is not None:
            violation = rules.gap_violation(
                _previous_date(earlier, zone),
                data.starts_at.astimezone(zone).date(),
                course.interval_min_days,
                course.interval_max_days,
            )
            if violation is not None:
                _refuse(violation, "appointment.reschedule", appointment.id)
            if later and rules.gap_violation(
                data.starts_at.astimezone(zone).date(),
                later[0].starts_at.astimezone(zone).date(),
                course.interval_min_days,
                course.interval_max_days,
            ):
                if not data.replan:
                    _refuse(
                        rules.Violation(
                            "breaks-course-window",
                            "The move takes the later booked sessions of the course out of their "
                            "interval window; ask to re-plan them too.",
                            "starts_at",
                        ),
                        "appointment.reschedule",
                        appointment.id,
                    )
            else:
                later = []  # the later sessions still fit: they stay where they are
    previous = (appointment.starts_at, appointment.practitioner_user_id, appointment.room_id)
    _release_slots(db, appointment)
    _move(db, appointment, data.starts_at, practitioner_id, room.id)
    _event(db, principal, appointment, "rescheduled", data.reason)
    messaging.cancel_pending_for_appointment(db, appointment.id)
    _audit_appointment(
        db,
        principal,
        "appointment.rescheduled",
        appointment,
        {"moved_from": previous[0].isoformat(), "practitioner_changed": previous[1] != practitioner_id},
    )
    if later and course is not None:
        _replan_later(db, principal, clinic, atype, course, appointment, later)
    return appointment


def _replan_later(
    db: Session,
    principal: Principal,
    clinic: Clinic,
    atype: AppointmentType,
    course: CoursePlan,
    moved: Appointment,
    later: list[Appointment],
) -> None:
    """Move the sessions after ``moved`` to the best re-plan anchored on its new date."""
    patient = db.get(Patient, moved.patient_id)
    assert patient is not None  # noqa: S101 - foreign key
    now = utcnow()
    zone = _zone(clinic)
    practitioners = bookable_practitioners(db, clinic.id, now.astimezone(zone).date())
    request, _ = course_request(db, course, patient, atype, practitioners, now, moved.practitioner_user_id)
    request = replace(request, sessions=len(later))
    span = rules.Interval(
        min(now, moved.starts_at) - timedelta(days=1),
        max(now, moved.starts_at)
        + timedelta(
            days=rules.FIRST_SESSION_HORIZON_DAYS + 3 + course.interval_max_days * max(len(later), 1)
        ),
    )
    exclude = [a.id for a in later]
    calendar = busy_time.search_calendar(db, clinic, practitioners, span, patient.id, exclude)
    number = moved.session_number or 1
    result = rules.replan_after_move(calendar, request, number, moved.starts_at)
    if result.best is None:
        _refuse(
            rules.Violation(
                "breaks-course-window",
                "The later sessions of the course cannot be re-planned around the move.",
                "starts_at",
            ),
            "appointment.reschedule",
            moved.id,
        )
        raise AssertionError("unreachable")  # pragma: no cover
    for session in later:
        _release_slots(db, session)
    for session, slot in zip(later, result.best.slots, strict=True):
        session_type = db.get(AppointmentType, session.appointment_type_id)
        assert session_type is not None  # noqa: S101 - foreign key
        room = _room(db, clinic.id, slot.room_id)
        _check_time(
            db, clinic, session_type, room, slot.practitioner_id, slot.starts_at, "appointment.reschedule"
        )
        moved_from = session.starts_at
        _move(db, session, slot.starts_at, slot.practitioner_id, room.id)
        _event(db, principal, session, "rescheduled", f"Re-planned after session {number} moved.")
        messaging.cancel_pending_for_appointment(db, session.id)
        _audit_appointment(
            db,
            principal,
            "appointment.rescheduled",
            session,
            {"moved_from": moved_from.isoformat(), "replanned_after": moved.id},
        )


def change_status(
    db: Session, principal: Principal, appointment_id: int, action: str, reason: str = ""
) -> Appointment:
    """``cancel``, ``check_in`` or ``no_show``; cancelled and no-show appointments release their time."""
    appointment = _visible_appointment(db, principal, appointment_id)
    target = _transition(appointment, action)
    if action == "no_show" and appointment.starts_at > utcnow():
        _refuse(
            rules.Violation("not-yet-started", "A patient can only miss an appointment that has started."),
            "appointment.no_show",
            appointment.id,
        )
    appointment.status = target
    if target not in rules.LIVE_STATUSES:
        _release_slots(db, appointment)
        messaging.cancel_pending_for_appointment(db, appointment.id)
    db.flush()
    _event(db, principal, appointment, target, reason)
    _audit_appointment(db, principal, f"appointment.{target}", appointment)
    return appointment


# --- calendar views ----------------------------------------------------------------------------


def _appointments_between(
    db: Session, clinic_ids: Iterable[int], span: rules.Interval, practitioner_id: int | None = None
) -> list[Appointment]:
    statement = (
        select(Appointment)
        .where(
            Appointment.clinic_id.in_(list(clinic_ids)),
            Appointment.starts_at >= span.start,
            Appointment.starts_at < span.end,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    if practitioner_id is not None:
        statement = statement.where(Appointment.practitioner_user_id == practitioner_id)
    return list(db.scalars(statement))


def practitioner_week(
    db: Session, clinic: Clinic, practitioner_id: int, start: date, clinic_ids: Iterable[int]
) -> WeekView:
    """Seven local days from ``start``: when the practitioner is available at ``clinic`` and their
    appointments at the clinics in ``clinic_ids`` (no access check: callers do it)."""
    zone = _zone(clinic)
    span = rules.Interval(
        rules.local_day(start, zone).start, rules.local_day(start + timedelta(days=6), zone).end
    )
    opening = busy_time.opening_hours(db, clinic.id)
    working = busy_time.working_hours(db, clinic.id, [practitioner_id]).get(practitioner_id, {})
    closures = busy_time.closures(db, clinic.id, start, start + timedelta(days=6))
    absences = busy_time.absences(db, [practitioner_id], span).get(practitioner_id, [])
    by_day: dict[date, list[AppointmentRead]] = defaultdict(list)
    for appointment in _appointments_between(db, clinic_ids, span, practitioner_id):
        by_day[appointment.starts_at.astimezone(zone).date()].append(
            AppointmentRead.model_validate(appointment)
        )
    days = []
    for n in range(7):
        day = start + timedelta(days=n)
        hours = rules.Hours(zone, opening, closures, working, absences)
        days.append(
            CalendarDay(
                date=day,
                available=[(i.start, i.end) for i in rules.available(hours, day)],
                appointments=by_day.get(day, []),
            )
        )
    return WeekView(practitioner_user_id=practitioner_id, clinic_id=clinic.id, days=days)


def week_view(
    db: Session, principal: Principal, practitioner_id: int, start: date, clinic_id: int | None = None
) -> WeekView:
    """A practitioner's week as staff of a shared clinic see it."""
    if not principal.is_staff:
        raise Forbidden("Only clinic staff may see the calendar.", code="staff-only")
    shared = _shared_practitioner(db, principal, practitioner_id)
    if clinic_id is None:
        clinic_id = principal.active_clinic_id if principal.active_clinic_id in shared else shared[0]
    elif clinic_id not in shared:
        raise NotFound("No such clinic.", code="clinic-not-found")
    clinic = _clinic(db, principal, clinic_id)
    view = practitioner_week(db, clinic, practitioner_id, start, shared)
    audit.record(
        db,
        principal.actor,
        "schedule.week_viewed",
        target_type="user",
        target_id=practitioner_id,
        clinic_id=clinic.id,
        details={
            "start": start.isoformat(),
            "appointment_ids": [a.id for d in view.days for a in d.appointments],
        },
    )
    return view


def clinic_day(db: Session, principal: Principal, clinic_id: int, on: date) -> ClinicDay:
    """Every appointment at the clinic on one local day."""
    clinic = _staff_clinic(db, principal, clinic_id)
    span = rules.local_day(on, _zone(clinic))
    appointments = _appointments_between(db, [clinic.id], span)
    audit.record(
        db,
        principal.actor,
        "schedule.day_viewed",
        target_type="clinic",
        target_id=clinic.id,
        clinic_id=clinic.id,
        details={"date": on.isoformat(), "appointment_ids": [a.id for a in appointments]},
    )
    return ClinicDay(
        clinic_id=clinic.id,
        date=on,
        closed=bool(busy_time.closures(db, clinic.id, on, on)),
        appointments=[AppointmentRead.model_validate(a) for a in appointments],
    )


# --- courses -----------------------------------------------------------------------------------


def _preferences(db: Session, patient_id: int) -> tuple[frozenset[int], tuple[rules.Window, ...]]:
    pref = db.get(ContactPreference, patient_id)
    if pref is None:
        return frozenset(), ()
    times: list[rules.Window] = []
    for window in pref.preferred_times:
        try:
            opens, closes = (datetime.strptime(t, "%H:%M").time() for t in window)  # noqa: DTZ007 - wall-clock
        except ValueError:
            continue  # a malformed stored preference is ignored, not fatal
        times.append((opens, closes))
    return frozenset(d for d in pref.preferred_days if 0 <= d <= 6), tuple(times)


def course_request(
    db: Session,
    course: CoursePlan,
    patient: Patient,
    atype: AppointmentType,
    practitioners: Sequence[int],
    now: datetime,
    preferred_practitioner: int | None = None,
) -> tuple[rules.CourseRequest, rules.Interval]:
    """The search request for a course's remaining sessions, and the span of calendar it needs."""
    clinic = db.get(Clinic, patient.clinic_id)
    zone = _zone(clinic) if clinic else ZoneInfo("UTC")
    progress = _course_progress(db, course.id, zone)
    previous = progress.previous_on
    if preferred_practitioner is None:
        preferred_practitioner = progress.previous_practitioner
    days, times = _preferences(db, patient.id)
    remaining = course.sessions_planned - progress.count
    request = rules.CourseRequest(
        sessions=remaining,
        duration_minutes=atype.duration_minutes,
        buffer_minutes=atype.buffer_minutes,
        interval_min_days=course.interval_min_days,
        interval_max_days=course.interval_max_days,
        practitioners=tuple(practitioners),
        not_before=now,
        previous=previous,
        required_equipment=frozenset(atype.required_equipment),
        preferred_practitioner=preferred_practitioner,
        preferred_days=days,
        preferred_times=times,
        first_session_number=progress.count + 1,
    )
    start = min(now, datetime.combine(previous, datetime.min.time(), tzinfo=zone)) if previous else now
    end = now + timedelta(
        days=rules.FIRST_SESSION_HORIZON_DAYS + 3 + course.interval_max_days * max(remaining, 1)
    )
    return request, rules.Interval(start - timedelta(days=1), end)


def _plan_read(plan: rules.CoursePlanProposal) -> ProposedPlan:
    return ProposedPlan(
        score=plan.score,
        slots=[
            ProposedSlotRead(
                session_number=s.session_number,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                practitioner_user_id=s.practitioner_id,
                room_id=s.room_id,
                score=s.score,
            )
            for s in plan.slots
        ],
    )


def propose_course(db: Session, principal: Principal, course_id: int, data: ProposalRequest) -> Proposals:
    """The best set of slots for every remaining session of a course, and alternatives."""
    course = planning.get_course(db, principal, course_id, audit_read=False)
    patient = get_patient(db, principal, course.patient_id, audit_read=False)
    if course.status != "active":
        raise Conflict(f"This course is {course.status}.", code="course-not-active")
    atype = _type(db, patient.clinic_id, data.appointment_type_id)
    if principal.role is Role.PATIENT and not atype.patient_bookable:
        raise Conflict("The clinic books this kind of appointment itself.", code="not-patient-bookable")
    clinic = db.get(Clinic, patient.clinic_id)
    assert clinic is not None  # noqa: S101 - foreign key
    now = utcnow()
    practitioners = bookable_practitioners(db, clinic.id, now.astimezone(_zone(clinic)).date())
    request, span = course_request(db, course, patient, atype, practitioners, now, data.practitioner_user_id)
    calendar = busy_time.search_calendar(db, clinic, practitioners, span, patient.id)
    result = rules.propose_course_slots(calendar, request)
    audit.record(
        db,
        principal.actor,
        "course.slots_proposed",
        target_type="course_plan",
        target_id=course.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"found": result.best is not None, "alternatives": len(result.alternatives)},
    )
    return Proposals(
        course_plan_id=course.id,
        appointment_type_id=atype.id,
        sessions_remaining=request.sessions,
        best=_plan_read(result.best) if result.best else None,
        alternatives=[_plan_read(p) for p in result.alternatives],
        reason=result.reason,
    )


def book_course(db: Session, principal: Principal, course_id: int, data: CourseBooking) -> list[Appointment]:
    """Book the chosen slots of a course at once: all of them, or (on any refusal) none."""
    if not principal.may(Permission.PATIENT_WRITE):
        raise Forbidden("Your role may not book appointments.", code="permission-denied")
    course = planning.get_course(db, principal, course_id, audit_read=False)
    patient = get_patient(db, principal, course.patient_id, audit_read=False)
    atype = _type(db, patient.clinic_id, data.appointment_type_id)
    slots = sorted(data.slots, key=lambda s: s.starts_at)
    booked_left = course.sessions_planned - len(_course_appointments(db, course.id))
    if len(slots) > booked_left:
        raise InvalidInput(
            f"The course has {booked_left} session(s) left to book.", code="too-many-sessions", field="slots"
        )
    made = []
    for slot in slots:
        number = _next_course_session(db, course, patient, slot.starts_at)
        made.append(
            _book(
                db,
                principal,
                patient=patient,
                atype=atype,
                practitioner_id=slot.practitioner_user_id,
                room_id=slot.room_id,
                starts_at=slot.starts_at,
                course=course,
                session_number=number,
            )
        )
    return made
