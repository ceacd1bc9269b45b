"""Course plans: created from a final formulation, adjusted while active, completed by the session
domain, cancelled. Loaded through ``patients.service.get_patient`` and audited with ids only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.assessment import service as assessment_service
from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.formulation import service as formulation_service
from mesoclinic.models import Clinic, CoursePlan, Formulation, Patient
from mesoclinic.patients.service import get_patient
from mesoclinic.planning import rules
from mesoclinic.planning.schemas import CourseCreate, CourseUpdate

ACTIVE = "active"
COMPLETED = "completed"
CANCELLED = "cancelled"
PLAN_FIELDS = (
    "sessions_planned",
    "interval_min_days",
    "interval_max_days",
    "maintenance_interval_days",
    "session_minutes",
)


def _require_clinical(principal: Principal) -> None:
    if not principal.may(Permission.CLINICAL_WRITE):
        raise Forbidden("Only practitioners plan courses.", code="permission-denied")


def plan_of(course: CoursePlan) -> rules.Plan:
    return rules.Plan(
        sessions=course.sessions_planned,
        interval_min_days=course.interval_min_days,
        interval_max_days=course.interval_max_days,
        maintenance_interval_days=course.maintenance_interval_days,
        session_minutes=course.session_minutes,
    )


def _bounds(db: Session, patient: Patient) -> rules.Bounds:
    clinic = db.get(Clinic, patient.clinic_id)
    return rules.bounds_for(clinic.slug if clinic else None)


def _audit(
    db: Session,
    principal: Principal,
    action: str,
    course: CoursePlan,
    patient: Patient,
    details: dict[str, object] | None = None,
) -> None:
    audit.record(
        db,
        principal.actor,
        action,
        target_type="course_plan",
        target_id=course.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details=details,
    )


def create_course(db: Session, principal: Principal, patient_id: int, data: CourseCreate) -> CoursePlan:
    """Plan a course from a FINAL formulation: defaults from the rules, overridable within bounds."""
    _require_clinical(principal)
    patient = get_patient(db, principal, patient_id, audit_read=False)
    formulation = db.get(Formulation, data.formulation_id)
    if formulation is None or formulation.patient_id != patient.id:
        raise InvalidInput(
            "No such formulation for this patient.", code="formulation-not-found", field="formulation_id"
        )
    if formulation.status != formulation_service.FINAL:
        raise Conflict(
            "Decide the formulation before planning a course.",
            code="formulation-not-final",
            field="formulation_id",
        )
    active = db.scalar(
        select(CoursePlan.id).where(CoursePlan.patient_id == patient.id, CoursePlan.status == ACTIVE)
    )
    if active is not None:
        raise Conflict(
            "This patient already has an active course; complete or cancel it first.",
            code="course-already-active",
            extra={"course_id": active},
        )
    if data.protocol is not None:
        try:
            rules.protocol(data.protocol)
        except LookupError:
            raise InvalidInput(
                f"Unknown protocol {data.protocol!r}.", code="unknown-protocol", field="protocol"
            ) from None
    assessment = assessment_service.get_assessment(db, principal, formulation.assessment_id, audit_read=False)
    bounds = _bounds(db, patient)
    defaults = rules.default_course(
        list(assessment_service.concern_severity(assessment)),
        data.protocol,
        [str(item["code"]) for item in formulation.final or []],
        bounds,
    )
    overrides = {name: value for name in PLAN_FIELDS if (value := getattr(data, name)) is not None}
    plan = rules.with_changes(defaults.plan, overrides)
    assessment_service.raise_problems(rules.validate_plan(plan, bounds))
    rationale = defaults.rationale
    if overrides:
        rationale += f" Adjusted by the practitioner: {', '.join(sorted(overrides))}."
    course = CoursePlan(
        patient_id=patient.id,
        formulation_id=formulation.id,
        sessions_planned=plan.sessions,
        session_minutes=plan.session_minutes,
        interval_min_days=plan.interval_min_days,
        interval_max_days=plan.interval_max_days,
        maintenance_interval_days=plan.maintenance_interval_days,
        rationale=rationale,
        status=ACTIVE,
        starts_on=data.starts_on,
        created_at=utcnow(),
        created_by_user_id=principal.user_id,
    )
    db.add(course)
    db.flush()
    _audit(
        db,
        principal,
        "course.created",
        course,
        patient,
        {"formulation_id": formulation.id, "protocol": defaults.protocol, "overridden": sorted(overrides)},
    )
    return course


def _visible(db: Session, principal: Principal, course_id: int) -> tuple[CoursePlan, Patient]:
    course = db.get(CoursePlan, course_id)
    patient: Patient | None = None
    if course is not None:
        try:
            patient = get_patient(db, principal, course.patient_id, audit_read=False)
        except NotFound:
            patient = None
    if course is None or patient is None:
        raise NotFound(
            "No such course.",
            code="course-not-found",
            refusal=Refusal("course.read", "course_plan", str(course_id)),
        )
    return course, patient


def get_course(db: Session, principal: Principal, course_id: int, *, audit_read: bool = True) -> CoursePlan:
    """One course the caller may see; 404 ``course-not-found`` otherwise (existence does not leak)."""
    course, patient = _visible(db, principal, course_id)
    if audit_read:
        _audit(db, principal, "course.read", course, patient)
    return course


def list_courses(db: Session, principal: Principal, patient_id: int) -> list[CoursePlan]:
    """A patient's courses, newest first."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    courses = list(
        db.scalars(
            select(CoursePlan)
            .where(CoursePlan.patient_id == patient.id)
            .order_by(CoursePlan.created_at.desc(), CoursePlan.id.desc())
        )
    )
    audit.record(
        db,
        principal.actor,
        "course.listed",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"course_ids": [c.id for c in courses]},
    )
    return courses


def update_course(db: Session, principal: Principal, course_id: int, data: CourseUpdate) -> CoursePlan:
    """Adjust sessions, intervals, length or start while the course is active; the maintenance
    interval may also be adjusted after completion (the due date follows)."""
    _require_clinical(principal)
    course, patient = _visible(db, principal, course_id)
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise InvalidInput(f"{name} cannot be empty.", code="required", field=name)
    maintenance_only = set(changes) <= {"maintenance_interval_days"}
    if course.status != ACTIVE and not (course.status == COMPLETED and maintenance_only):
        raise Conflict(
            f"This course is {course.status}; it can no longer be changed.", code="course-not-active"
        )
    plan = rules.with_changes(plan_of(course), {k: v for k, v in changes.items() if k in PLAN_FIELDS})
    assessment_service.raise_problems(rules.validate_plan(plan, _bounds(db, patient)))
    for name, value in changes.items():
        setattr(course, name, value)
    if course.status == COMPLETED and course.completed_on is not None:
        course.maintenance_due_on = rules.maintenance_due(course.completed_on, plan)
    db.flush()
    _audit(db, principal, "course.updated", course, patient, {"fields": sorted(changes)})
    return course


def cancel_course(db: Session, principal: Principal, course_id: int) -> CoursePlan:
    """Cancel an active course (kept on record with status ``cancelled``)."""
    _require_clinical(principal)
    course, patient = _visible(db, principal, course_id)
    if course.status != ACTIVE:
        raise Conflict(
            f"This course is {course.status}; only an active course can be cancelled.",
            code="course-not-active",
        )
    course.status = CANCELLED
    db.flush()
    _audit(db, principal, "course.cancelled", course, patient)
    return course


def session_completed(
    db: Session, principal: Principal, course: CoursePlan, session_number: int, on_date: date
) -> None:
    """Called by the session domain when session ``session_number`` (1-based) is signed. The last
    planned session completes the course: ``completed_on`` and ``maintenance_due_on`` are set."""
    _require_clinical(principal)
    course, patient = _visible(db, principal, course.id)
    if course.status != ACTIVE:
        raise Conflict(f"This course is {course.status}.", code="course-not-active")
    if not 1 <= session_number <= course.sessions_planned:
        raise InvalidInput(
            f"The course has {course.sessions_planned} sessions.",
            code="session-number-out-of-range",
            field="session_number",
        )
    if session_number < course.sessions_planned:
        return
    course.status = COMPLETED
    course.completed_on = on_date
    course.maintenance_due_on = rules.maintenance_due(on_date, plan_of(course))
    db.flush()
    _audit(db, principal, "course.completed", course, patient, {"session_number": session_number})


def planned_dates(course: CoursePlan) -> list[date]:
    return rules.planned_dates(course.starts_on, plan_of(course)) if course.starts_on else []
