"""REST routes for aftercare: instructions and check-ins, the escalation queue, adverse events."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status

from mesoclinic.aftercare import rules, service
from mesoclinic.aftercare.schemas import (
    AdverseEventFollowUp,
    AdverseEventIn,
    AdverseEventRead,
    AftercarePlan,
    CheckinAnswers,
    CheckinRead,
    CheckinResult,
    EscalationRead,
    ResolveIn,
    SymptomWindow,
)
from mesoclinic.auth.deps import DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.models import AftercareCheckin, Escalation

router = APIRouter(prefix="/api/v1", tags=["aftercare"])

Reader = Annotated[Principal, Depends(requires(Permission.PATIENT_READ))]
ClinicalReader = Annotated[Principal, Depends(requires(Permission.CLINICAL_READ))]
Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]


def _result(
    checkin: AftercareCheckin, escalation: Escalation | None, reasons: list[rules.EscalationReason]
) -> CheckinResult:
    advice = [r.advice for r in reasons] or ["Thank you. Everything you reported is within what we expect."]
    return CheckinResult(
        checkin=CheckinRead.model_validate(checkin),
        escalation=EscalationRead.model_validate(escalation) if escalation else None,
        advice=advice,
    )


@router.get("/sessions/{session_id}/aftercare", response_model=AftercarePlan)
def aftercare_plan(db: DbSession, principal: Reader, session_id: int) -> AftercarePlan:
    """Written aftercare instructions, the check-in schedule, expected symptom windows and red flags."""
    _session, checkins = service.aftercare_plan(db, principal, session_id)
    reference, instructions = rules.reference(), rules.instructions()
    return AftercarePlan(
        title=instructions.title,
        instructions=instructions.items,
        instructions_source=instructions.source,
        checkins=[CheckinRead.model_validate(c) for c in checkins],
        expected_symptoms=[
            SymptomWindow(code=code, label=s.label, expected_days=s.expected_days, source=s.source)
            for code, s in reference.symptoms.items()
        ],
        red_flags={code: flag.label for code, flag in reference.red_flags.items()},
    )


@router.get("/patients/{patient_id}/checkins", response_model=list[CheckinRead])
def list_checkins(
    db: DbSession, principal: Reader, patient_id: int, open_only: bool = False
) -> list[CheckinRead]:
    """A patient's scheduled and reported check-ins."""
    return [
        CheckinRead.model_validate(c)
        for c in service.list_checkins(db, principal, patient_id, open_only=open_only)
    ]


@router.post("/checkins/{checkin_id}", response_model=CheckinResult)
def submit_checkin(
    db: DbSession, principal: Reader, checkin_id: int, answers: CheckinAnswers
) -> CheckinResult:
    """Answer a scheduled check-in (the patient on their phone, or staff on their behalf)."""
    return _result(*service.submit_checkin(db, principal, checkin_id, answers))


@router.post(
    "/patients/{patient_id}/checkins", response_model=CheckinResult, status_code=status.HTTP_201_CREATED
)
def report(db: DbSession, principal: Reader, patient_id: int, answers: CheckinAnswers) -> CheckinResult:
    """Report symptoms at any time, outside the schedule (e.g. a new painful lump weeks later)."""
    return _result(*service.report_unscheduled(db, principal, patient_id, answers))


@router.get("/escalations", response_model=list[EscalationRead])
def escalation_queue(
    db: DbSession, principal: Reader, status: Literal["open", "acknowledged", "resolved"] = "open"
) -> list[EscalationRead]:
    """The clinic's escalation queue, most urgent first."""
    return [EscalationRead.model_validate(e) for e in service.escalation_queue(db, principal, status)]


@router.post("/escalations/{escalation_id}/acknowledge", response_model=EscalationRead)
def acknowledge(db: DbSession, principal: Clinician, escalation_id: int) -> EscalationRead:
    """A practitioner has seen the escalation and is acting on it."""
    return EscalationRead.model_validate(service.acknowledge(db, principal, escalation_id))


@router.post("/escalations/{escalation_id}/resolve", response_model=EscalationRead)
def resolve(db: DbSession, principal: Clinician, escalation_id: int, data: ResolveIn) -> EscalationRead:
    """Close the escalation with what was done."""
    return EscalationRead.model_validate(service.resolve(db, principal, escalation_id, data.note))


@router.post(
    "/patients/{patient_id}/adverse-events",
    response_model=AdverseEventRead,
    status_code=status.HTTP_201_CREATED,
)
def report_adverse_event(
    db: DbSession, principal: Clinician, patient_id: int, data: AdverseEventIn
) -> AdverseEventRead:
    """Record an adverse event with seriousness, severity, outcome and the suspected lot."""
    return AdverseEventRead.model_validate(service.report_adverse_event(db, principal, patient_id, data))


@router.post(
    "/adverse-events/{event_id}/follow-ups",
    response_model=AdverseEventRead,
    status_code=status.HTTP_201_CREATED,
)
def follow_up(
    db: DbSession, principal: Clinician, event_id: int, data: AdverseEventFollowUp
) -> AdverseEventRead:
    """Update an adverse event (a new row: the earlier report stays as it was)."""
    return AdverseEventRead.model_validate(service.follow_up_adverse_event(db, principal, event_id, data))


@router.get("/patients/{patient_id}/adverse-events", response_model=list[AdverseEventRead])
def list_adverse_events(db: DbSession, principal: ClinicalReader, patient_id: int) -> list[AdverseEventRead]:
    """A patient's adverse events and their follow-ups."""
    return [
        AdverseEventRead.model_validate(e) for e in service.list_adverse_events(db, principal, patient_id)
    ]
