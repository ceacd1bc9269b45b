"""Check-ins after a session, escalation of what falls outside expectations, adverse events."""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from mesoclinic.aftercare import rules
from mesoclinic.aftercare.schemas import AdverseEventFollowUp, AdverseEventIn, CheckinAnswers
from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Principal
from mesoclinic.clinics import clinic_today
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound
from mesoclinic.models import (
    AdverseEvent,
    AftercareCheckin,
    Escalation,
    Lot,
    Patient,
    Product,
    TreatmentSession,
)
from mesoclinic.patients.service import get_patient, visible_patients

URGENCY_ORDER = case({"emergency": 0, "urgent": 1, "routine": 2}, value=Escalation.urgency, else_=3)


def schedule_checkins(db: Session, session: TreatmentSession, session_on: date) -> list[AftercareCheckin]:
    """Create the follow-up check-ins of a just-signed session (day 1, 3, 7, weeks 4-12)."""
    checkins = [
        AftercareCheckin(session_id=session.id, patient_id=session.patient_id, label=label, due_on=due_on)
        for label, due_on in rules.checkin_schedule(session_on)
    ]
    db.add_all(checkins)
    db.flush()
    return checkins


def _visible_checkin(db: Session, principal: Principal, checkin_id: int) -> AftercareCheckin:
    visible_ids = visible_patients(principal).with_only_columns(Patient.id)
    checkin = db.scalar(
        select(AftercareCheckin).where(
            AftercareCheckin.id == checkin_id, AftercareCheckin.patient_id.in_(visible_ids)
        )
    )
    if checkin is None:
        raise NotFound("No such check-in.", code="checkin-not-found")
    return checkin


def aftercare_plan(
    db: Session, principal: Principal, session_id: int
) -> tuple[TreatmentSession, list[AftercareCheckin]]:
    visible_ids = visible_patients(principal).with_only_columns(Patient.id)
    session = db.scalar(
        select(TreatmentSession).where(
            TreatmentSession.id == session_id, TreatmentSession.patient_id.in_(visible_ids)
        )
    )
    if session is None:
        raise NotFound("No such session.", code="session-not-found")
    checkins = list(
        db.scalars(
            select(AftercareCheckin)
            .where(AftercareCheckin.session_id == session.id)
            .order_by(AftercareCheckin.due_on)
        )
    )
    audit.record(
        db,
        principal.actor,
        "aftercare.read",
        target_type="treatment_session",
        target_id=session.id,
        patient_id=session.patient_id,
        clinic_id=session.clinic_id,
    )
    return session, checkins


def list_checkins(
    db: Session, principal: Principal, patient_id: int, *, open_only: bool = False
) -> list[AftercareCheckin]:
    patient = get_patient(db, principal, patient_id, audit_read=False)
    statement = select(AftercareCheckin).where(AftercareCheckin.patient_id == patient.id)
    if open_only:
        statement = statement.where(AftercareCheckin.completed_at.is_(None))
    audit.record(
        db,
        principal.actor,
        "aftercare.checkins.read",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
    )
    return list(db.scalars(statement.order_by(AftercareCheckin.due_on, AftercareCheckin.id)))


def _escalate(
    db: Session,
    principal: Principal,
    checkin: AftercareCheckin,
    session: TreatmentSession,
    reasons: list[rules.EscalationReason],
) -> Escalation | None:
    urgency = rules.overall_urgency(reasons)
    if urgency is None:
        return None
    escalation = Escalation(
        patient_id=checkin.patient_id,
        clinic_id=session.clinic_id,
        session_id=session.id,
        checkin_id=checkin.id,
        urgency=urgency.label,
        reasons=[
            {
                "code": r.code,
                "urgency": r.urgency.label,
                "reason": r.reason,
                "advice": r.advice,
                "source": r.source,
            }
            for r in reasons
        ],
    )
    db.add(escalation)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "escalation.raised",
        target_type="escalation",
        target_id=escalation.id,
        patient_id=checkin.patient_id,
        clinic_id=session.clinic_id,
        details={"urgency": urgency.label},
    )
    return escalation


def submit_checkin(
    db: Session, principal: Principal, checkin_id: int, answers: CheckinAnswers
) -> tuple[AftercareCheckin, Escalation | None, list[rules.EscalationReason]]:
    """Record the patient's answers; anything outside its window or any red flag is escalated."""
    checkin = _visible_checkin(db, principal, checkin_id)
    if checkin.completed_at is not None:
        raise Conflict(
            "This check-in was already answered; report anything new as a new check-in.",
            code="checkin-already-completed",
        )
    session = db.get_one(TreatmentSession, checkin.session_id)
    return _complete(db, principal, checkin, session, answers)


def _complete(
    db: Session,
    principal: Principal,
    checkin: AftercareCheckin,
    session: TreatmentSession,
    answers: CheckinAnswers,
) -> tuple[AftercareCheckin, Escalation | None, list[rules.EscalationReason]]:
    today = clinic_today(db, session.clinic_id)
    session_on = clinic_today(db, session.clinic_id, session.started_at)
    reasons = rules.evaluate_checkin(
        dict(answers.symptoms), set(answers.red_flags), (today - session_on).days
    )
    checkin.answers = answers.model_dump()
    checkin.completed_at = utcnow()
    checkin.submitted_by_user_id = principal.user_id
    db.flush()
    audit.record(
        db,
        principal.actor,
        "aftercare.checkin",
        target_type="aftercare_checkin",
        target_id=checkin.id,
        patient_id=checkin.patient_id,
        clinic_id=session.clinic_id,
        details={"escalated": bool(reasons)},
    )
    return checkin, _escalate(db, principal, checkin, session, reasons), reasons


def report_unscheduled(
    db: Session, principal: Principal, patient_id: int, answers: CheckinAnswers
) -> tuple[AftercareCheckin, Escalation | None, list[rules.EscalationReason]]:
    """A check-in the patient starts themself (a new lump at week 10, say), tied to their latest session."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    session = db.scalar(
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == patient.id, TreatmentSession.status == "signed")
        .order_by(TreatmentSession.started_at.desc())
        .limit(1)
    )
    if session is None:
        raise Conflict("There is no treatment to report about.", code="no-signed-session")
    count = (
        db.scalar(
            select(func.count())
            .select_from(AftercareCheckin)
            .where(AftercareCheckin.session_id == session.id, AftercareCheckin.label.like("report%"))
        )
        or 0
    )
    checkin = AftercareCheckin(
        session_id=session.id,
        patient_id=patient.id,
        label=f"report{count + 1}",
        due_on=clinic_today(db, session.clinic_id),
    )
    db.add(checkin)
    db.flush()
    return _complete(db, principal, checkin, session, answers)


def escalation_queue(db: Session, principal: Principal, status: str = "open") -> list[Escalation]:
    """Open escalations in the caller's clinics, most urgent and oldest first."""
    if not principal.is_staff:
        raise Forbidden("The escalation queue is for clinic staff.", code="staff-only")
    statement = (
        select(Escalation)
        .where(Escalation.clinic_id.in_(principal.clinic_ids), Escalation.status == status)
        .order_by(URGENCY_ORDER, Escalation.created_at)
    )
    escalations = list(db.scalars(statement))
    audit.record(
        db,
        principal.actor,
        "escalation.queue.read",
        target_type="escalation",
        details={"status": status, "escalation_ids": [e.id for e in escalations]},
    )
    return escalations


def _visible_escalation(db: Session, principal: Principal, escalation_id: int) -> Escalation:
    escalation = db.get(Escalation, escalation_id)
    if escalation is None or not principal.is_staff or escalation.clinic_id not in principal.clinic_ids:
        raise NotFound("No such escalation.", code="escalation-not-found")
    return escalation


def acknowledge(db: Session, principal: Principal, escalation_id: int) -> Escalation:
    escalation = _visible_escalation(db, principal, escalation_id)
    if escalation.status != "open":
        raise Conflict(f"The escalation is already {escalation.status}.", code="escalation-not-open")
    escalation.status = "acknowledged"
    escalation.acknowledged_by_user_id = principal.user_id
    escalation.acknowledged_at = utcnow()
    audit.record(
        db,
        principal.actor,
        "escalation.acknowledged",
        target_type="escalation",
        target_id=escalation.id,
        patient_id=escalation.patient_id,
        clinic_id=escalation.clinic_id,
    )
    return escalation


def resolve(db: Session, principal: Principal, escalation_id: int, note: str) -> Escalation:
    escalation = _visible_escalation(db, principal, escalation_id)
    if escalation.status == "resolved":
        raise Conflict("The escalation is already resolved.", code="escalation-resolved")
    now = utcnow()
    if escalation.acknowledged_at is None:
        escalation.acknowledged_by_user_id, escalation.acknowledged_at = principal.user_id, now
    escalation.status = "resolved"
    escalation.resolved_by_user_id = principal.user_id
    escalation.resolved_at = now
    escalation.resolution_note = note
    audit.record(
        db,
        principal.actor,
        "escalation.resolved",
        target_type="escalation",
        target_id=escalation.id,
        patient_id=escalation.patient_id,
        clinic_id=escalation.clinic_id,
    )
    return escalation


def report_adverse_event(
    db: Session, principal: Principal, patient_id: int, data: AdverseEventIn
) -> AdverseEvent:
    if not principal.is_staff:
        raise Forbidden(
            "Adverse events are reported by clinic staff; use a check-in to tell the clinic.",
            code="staff-only",
        )
    patient = get_patient(db, principal, patient_id, audit_read=False)
    if data.onset_on > clinic_today(db, patient.clinic_id):
        raise InvalidInput("The onset cannot be in the future.", code="onset-in-future", field="onset_on")
    if data.session_id is not None:
        session = db.get(TreatmentSession, data.session_id)
        if session is None or session.patient_id != patient.id:
            raise InvalidInput(
                "That session is not this patient's.", code="session-not-patients", field="session_id"
            )
    if data.suspected_lot_id is not None:
        lot_clinic = db.scalar(
            select(Product.clinic_id)
            .join(Lot, Lot.product_id == Product.id)
            .where(Lot.id == data.suspected_lot_id)
        )
        if lot_clinic != patient.clinic_id:
            raise InvalidInput("No such lot at this clinic.", code="lot-not-found", field="suspected_lot_id")
    if data.escalation_id is not None:
        escalation = db.get(Escalation, data.escalation_id)
        if escalation is None or escalation.patient_id != patient.id:
            raise InvalidInput(
                "That escalation is not this patient's.",
                code="escalation-not-patients",
                field="escalation_id",
            )
    event = AdverseEvent(patient_id=patient.id, reported_by_user_id=principal.user_id, **data.model_dump())
    db.add(event)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "adverse_event.reported",
        target_type="adverse_event",
        target_id=event.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"seriousness": data.seriousness, "lot_id": data.suspected_lot_id},
    )
    return event


def follow_up_adverse_event(
    db: Session, principal: Principal, event_id: int, data: AdverseEventFollowUp
) -> AdverseEvent:
    """An update is a new row pointing at the previous report: the history is never rewritten."""
    original = db.get(AdverseEvent, event_id)
    if original is None or not principal.is_staff:
        raise NotFound("No such adverse event.", code="adverse-event-not-found")
    patient = get_patient(db, principal, original.patient_id, audit_read=False)
    event = AdverseEvent(
        patient_id=patient.id,
        session_id=original.session_id,
        suspected_lot_id=original.suspected_lot_id,
        escalation_id=original.escalation_id,
        follows_up_id=original.id,
        code=original.code,
        onset_on=original.onset_on,
        reported_by_user_id=principal.user_id,
        **data.model_dump(),
    )
    db.add(event)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "adverse_event.followed_up",
        target_type="adverse_event",
        target_id=event.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"follows_up_id": original.id},
    )
    return event


def list_adverse_events(db: Session, principal: Principal, patient_id: int) -> list[AdverseEvent]:
    patient = get_patient(db, principal, patient_id, audit_read=False)
    audit.record(
        db,
        principal.actor,
        "adverse_event.read",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
    )
    return list(
        db.scalars(
            select(AdverseEvent).where(AdverseEvent.patient_id == patient.id).order_by(AdverseEvent.id)
        )
    )
