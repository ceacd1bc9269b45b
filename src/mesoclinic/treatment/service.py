"""The session record as a guarded sequence: start (screening, consent, credential, interval),
checklist steps, injections per zone with their lots, sign-off, then amendments only.

Every refusal happens before anything is written, so a refused step changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mesoclinic.aftercare import service as aftercare
from mesoclinic.assessment import rules as assessment_rules
from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Principal
from mesoclinic.clinics import clinic_today
from mesoclinic.consent import service as consent
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.formulation import service as formulation
from mesoclinic.inventory import service as inventory
from mesoclinic.models import (
    Injection,
    Patient,
    Role,
    ScreeningResult,
    SessionAmendment,
    TreatmentSession,
)
from mesoclinic.patients.service import get_patient, visible_patients
from mesoclinic.planning import rules as planning_rules
from mesoclinic.planning import service as planning
from mesoclinic.practitioners import service as practitioners
from mesoclinic.screening import service as screening
from mesoclinic.treatment import rules
from mesoclinic.treatment.schemas import AmendmentIn, InjectionIn, NumbingStep, SessionSign, SessionStart

MAX_NUMBING_AGE = timedelta(hours=4)


def get_session(
    db: Session, principal: Principal, session_id: int, *, audit_read: bool = True
) -> TreatmentSession:
    """A session the caller may see (through its patient), with injections loaded."""
    visible_ids = visible_patients(principal).with_only_columns(Patient.id)
    session = db.scalar(
        select(TreatmentSession)
        .where(TreatmentSession.id == session_id, TreatmentSession.patient_id.in_(visible_ids))
        .options(selectinload(TreatmentSession.injections))
    )
    if session is None:
        raise NotFound("No such session.", code="session-not-found")
    if audit_read:
        audit.record(
            db,
            principal.actor,
            "session.read",
            target_type="treatment_session",
            target_id=session.id,
            patient_id=session.patient_id,
            clinic_id=session.clinic_id,
        )
    return session


def amendments_of(db: Session, session_id: int) -> list[SessionAmendment]:
    return list(
        db.scalars(
            select(SessionAmendment)
            .where(SessionAmendment.session_id == session_id)
            .order_by(SessionAmendment.id)
        )
    )


def list_sessions(db: Session, principal: Principal, patient_id: int) -> list[TreatmentSession]:
    patient = get_patient(db, principal, patient_id, audit_read=False)
    sessions = list(
        db.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.patient_id == patient.id)
            .options(selectinload(TreatmentSession.injections))
            .order_by(TreatmentSession.started_at)
        )
    )
    audit.record(
        db,
        principal.actor,
        "session.list",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
    )
    return sessions


def _todays_screening(
    db: Session, patient: Patient, screening_id: int, today: date, planned_codes: set[str]
) -> ScreeningResult:
    """A screening the practitioner ran (and overrode) beforehand: usable only if it is the
    patient's latest, judged today, and checked the course's whole cocktail for allergies."""
    result = db.get(ScreeningResult, screening_id)
    if result is None or result.patient_id != patient.id:
        raise InvalidInput(
            "No such screening for this patient.", code="screening-not-found", field="screening_id"
        )
    latest = db.scalar(select(func.max(ScreeningResult.id)).where(ScreeningResult.patient_id == patient.id))
    if result.screened_on != today or latest != result.id:
        raise Conflict(
            "Screening must be re-run on the day of the session; this one is not today's latest.",
            code="screening-stale",
        )
    if unchecked := sorted(planned_codes - set(result.planned_ingredient_codes)):
        raise Conflict(
            f"This screening did not check the course's ingredients ({', '.join(unchecked)}) for allergies; "
            "screen again with the planned cocktail.",
            code="screening-missed-ingredients",
            extra={"unchecked": unchecked},
        )
    return result


def start_session(db: Session, principal: Principal, course_id: int, data: SessionStart) -> TreatmentSession:
    """Open the next session of a course once every precondition holds."""
    course = planning.get_course(db, principal, course_id)
    patient = get_patient(db, principal, course.patient_id, audit_read=False)
    # Refused starts are audited as denied (the request's changes are rolled back first).
    refusal = Refusal("session.start", "course_plan", str(course.id))
    if course.status != "active":
        raise Conflict(f"The course is {course.status}.", code="course-not-active", refusal=refusal)
    today = clinic_today(db, patient.clinic_id)
    previous = list(
        db.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.course_plan_id == course.id)
            .order_by(TreatmentSession.session_number)
        )
    )
    if open_session := next((s for s in previous if s.status == "in_progress"), None):
        raise Conflict(
            "A session of this course is already in progress.",
            code="session-in-progress",
            extra={"session_id": open_session.id},
            refusal=refusal,
        )
    number = len(previous) + 1
    if number > course.sessions_planned:
        raise Conflict(
            "Every planned session of this course is done.", code="course-complete", refusal=refusal
        )
    if previous:
        last_on = clinic_today(db, patient.clinic_id, previous[-1].started_at)
        earliest, _latest = planning_rules.session_window(last_on, course)
        if today < earliest:
            raise Conflict(
                f"Too soon after the previous session: the earliest date is {earliest.isoformat()}.",
                code="interval-too-short",
                extra={"earliest": earliest.isoformat()},
                refusal=refusal,
            )

    practitioner_id = data.practitioner_user_id or principal.user_id
    if practitioner_id != principal.user_id and principal.role is not Role.ADMIN:
        raise Forbidden(
            "Only an administrator may assign a session to someone else.", code="assign-forbidden"
        )
    practitioners.require_qualified(db, practitioner_id, today, clinic_id=patient.clinic_id)
    consent_record = consent.require_valid_consent(db, patient.id, "treatment")
    planned = formulation.final_ingredients(db, principal, course.formulation_id)
    if data.screening_id is not None:
        result = _todays_screening(db, patient, data.screening_id, today, {code for code, _names in planned})
    else:
        result = screening.run_screening(
            db, principal, patient.id, planned_ingredients=planned, on_date=today
        )
    screening.require_cleared(db, result)

    now = utcnow()
    session = TreatmentSession(
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        course_plan_id=course.id,
        session_number=number,
        practitioner_user_id=practitioner_id,
        started_at=now,
        screening_result_id=result.id,
        consent_record_id=consent_record.id,
        checklist={
            "screening_confirmed": {"at": now.isoformat(), "screening_id": result.id},
            "consent_confirmed": {"at": now.isoformat(), "consent_record_id": consent_record.id},
        },
    )
    db.add(session)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "session.started",
        target_type="treatment_session",
        target_id=session.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"session_number": number},
    )
    return get_session(db, principal, session.id, audit_read=False)


def _editable(db: Session, principal: Principal, session_id: int) -> TreatmentSession:
    session = get_session(db, principal, session_id, audit_read=False)
    if session.status == "signed":
        raise Conflict(
            "The session is signed; record an amendment instead.",
            code="session-signed",
            refusal=Refusal("session.document", "treatment_session", str(session.id)),
        )
    if session.practitioner_user_id != principal.user_id:
        raise Forbidden(
            "Only the practitioner treating this session may document it.", code="not-assigned-practitioner"
        )
    return session


def _set_step(session: TreatmentSession, step: str, value: dict[str, object]) -> None:
    # JSON columns track reassignment, not in-place mutation.
    session.checklist = {**session.checklist, step: value}


def mark_skin_cleansed(db: Session, principal: Principal, session_id: int) -> TreatmentSession:
    session = _editable(db, principal, session_id)
    _set_step(session, "skin_cleansed", {"at": utcnow().isoformat()})
    audit.record(
        db,
        principal.actor,
        "session.step",
        target_type="treatment_session",
        target_id=session.id,
        patient_id=session.patient_id,
        clinic_id=session.clinic_id,
        details={"step": "skin_cleansed"},
    )
    return session


def record_numbing(db: Session, principal: Principal, session_id: int, data: NumbingStep) -> TreatmentSession:
    session = _editable(db, principal, session_id)
    now = utcnow()
    if data.declined_reason is not None:
        value: dict[str, object] = {"declined_reason": data.declined_reason, "at": now.isoformat()}
    else:
        applied_at = data.applied_at
        if applied_at is None:  # NumbingStep's validator requires it when not declined
            raise InvalidInput("Give the time the cream was applied.", code="required", field="applied_at")
        if applied_at > now + timedelta(minutes=1):
            raise InvalidInput(
                "The numbing cream cannot be applied in the future.",
                code="time-in-future",
                field="applied_at",
            )
        if now - applied_at > MAX_NUMBING_AGE:
            raise InvalidInput(
                "That application is too long ago to count for this session.",
                code="numbing-too-old",
                field="applied_at",
            )
        minimum = rules.protocol().numbing.minimum_wait_minutes
        value = {
            "product_name": data.product_name,
            "applied_at": applied_at.isoformat(),
            "wait_minutes": max(data.wait_minutes or 0, minimum),
        }
    _set_step(session, "numbing", value)
    audit.record(
        db,
        principal.actor,
        "session.step",
        target_type="treatment_session",
        target_id=session.id,
        patient_id=session.patient_id,
        clinic_id=session.clinic_id,
        details={"step": "numbing"},
    )
    return session


def add_injection(
    db: Session, principal: Principal, session_id: int, data: InjectionIn
) -> tuple[Injection, list[str]]:
    """Record one zone's injections; returns the row and any notices (unusual values)."""
    session = _editable(db, principal, session_id)
    if missing := rules.missing_steps(session.checklist):
        raise Conflict(
            f"Complete the checklist first: {', '.join(missing)}.",
            code="checklist-incomplete",
            extra={"missing": missing},
            refusal=Refusal("session.injection", "treatment_session", str(session.id)),
        )
    ready_at = rules.numbing_ready_at(session.checklist)
    now = utcnow()
    if ready_at is not None and now < ready_at:
        minutes = int((ready_at - now).total_seconds() // 60) + 1
        raise Conflict(
            f"The numbing cream needs about {minutes} more minute(s).",
            code="numbing-wait-not-honoured",
            extra={"ready_at": ready_at.isoformat()},
            refusal=Refusal("session.injection", "treatment_session", str(session.id)),
        )
    entry = rules.InjectionEntry(
        zone=data.zone,
        side=data.side,
        technique=data.technique,
        depth_mm=data.depth_mm,
        volume_per_point_ml=data.volume_per_point_ml,
        points=data.points,
        needle_gauge=data.needle_gauge,
        needle_length_mm=data.needle_length_mm,
        total_volume_ml=data.total_volume_ml,
    )
    if problems := rules.injection_problems(entry, assessment_rules.zone_sides()):
        first = problems[0]
        raise InvalidInput(
            first.message,
            code=first.code,
            field=first.field,
            extra={"problems": [p.__dict__ for p in problems]},
        )
    today = clinic_today(db, session.clinic_id, now)
    lot = inventory.require_usable_lot(db, principal, data.lot_id, session.clinic_id, today)
    if lot.product_id != data.product_id:
        raise InvalidInput(
            "That lot belongs to another product.", code="lot-product-mismatch", field="lot_id"
        )
    if all(existing.lot_id != lot.id for existing in session.injections):
        inventory.record_use(db, principal, lot, 1, session.id)
    injection = Injection(
        session_id=session.id,
        zone=data.zone,
        side=data.side,
        technique=data.technique,
        depth_mm=data.depth_mm,
        volume_per_point_ml=data.volume_per_point_ml,
        points=data.points,
        total_volume_ml=rules.total_volume(data.volume_per_point_ml, data.points),
        needle_gauge=data.needle_gauge,
        needle_length_mm=data.needle_length_mm,
        product_id=data.product_id,
        lot_id=lot.id,
        chart_points=[list(p) for p in data.chart_points],
    )
    session.injections.append(injection)  # keeps the loaded collection true within this unit of work
    db.flush()
    audit.record(
        db,
        principal.actor,
        "session.injection",
        target_type="treatment_session",
        target_id=session.id,
        patient_id=session.patient_id,
        clinic_id=session.clinic_id,
        details={"injection_id": injection.id, "lot_id": lot.id},
    )
    return injection, rules.injection_notices(entry)


def sign_session(db: Session, principal: Principal, session_id: int, data: SessionSign) -> TreatmentSession:
    """Sign off: the record becomes immutable, aftercare check-ins are scheduled and the course
    advances (maintenance is planned after its last session)."""
    session = get_session(db, principal, session_id, audit_read=False)
    refusal = Refusal("session.sign", "treatment_session", str(session.id))
    if session.status == "signed":
        raise Conflict("This session is already signed.", code="session-already-signed", refusal=refusal)
    if session.practitioner_user_id != principal.user_id:
        raise Forbidden(
            "Only the practitioner treating this session may sign it.", code="not-assigned-practitioner"
        )
    now = utcnow()
    today = clinic_today(db, session.clinic_id, now)
    practitioners.require_qualified(db, principal.user_id, today, clinic_id=session.clinic_id)
    if not session.injections:
        raise Conflict("Record at least one injection before signing.", code="no-injections", refusal=refusal)
    ended_at = data.ended_at or now
    if ended_at < session.started_at or ended_at > now + timedelta(minutes=1):
        raise InvalidInput(
            "The end time must fall between the start and now.", code="invalid-end-time", field="ended_at"
        )
    session.pain_score = data.pain_score
    session.notes = data.notes
    session.ended_at = ended_at
    session.status = "signed"
    session.signed_at = now
    db.flush()
    aftercare.schedule_checkins(db, session, today)
    course = planning.get_course(db, principal, session.course_plan_id)
    planning.session_completed(db, principal, course, session.session_number, today)
    audit.record(
        db,
        principal.actor,
        "session.signed",
        target_type="treatment_session",
        target_id=session.id,
        patient_id=session.patient_id,
        clinic_id=session.clinic_id,
    )
    return session


def amend_session(db: Session, principal: Principal, session_id: int, data: AmendmentIn) -> SessionAmendment:
    session = get_session(db, principal, session_id, audit_read=False)
    if session.status != "signed":
        raise Conflict(
            "The session is not signed yet: correct it directly.",
            code="session-not-signed",
            refusal=Refusal("session.amend", "treatment_session", str(session.id)),
        )
    amendment = SessionAmendment(
        session_id=session.id, author_user_id=principal.user_id, reason=data.reason, changes=data.changes
    )
    db.add(amendment)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "session.amended",
        target_type="treatment_session",
        target_id=session.id,
        patient_id=session.patient_id,
        clinic_id=session.clinic_id,
        details={"amendment_id": amendment.id, "fields": sorted(data.changes)},
    )
    return amendment
