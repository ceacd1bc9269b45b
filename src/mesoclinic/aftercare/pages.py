"""The aftercare queue: escalations by urgency with the patient's answers, one-click contact,
acknowledge/resolve, and the adverse event form. Decisions stay in ``aftercare.service``."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from mesoclinic.aftercare import service
from mesoclinic.aftercare.schemas import AdverseEventIn, AEOutcome, AESeverity, ResolveIn, Seriousness
from mesoclinic.auth.deps import CurrentPrincipal, DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.clinics import clinic_today
from mesoclinic.models import AftercareCheckin, Patient
from mesoclinic.patients.service import get_patient
from mesoclinic.web.forms import EVERY_STATUS, attempt, validate_form
from mesoclinic.web.pages import require_staff_clinic, staff_clinics
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]
#: Refusals shown on the aftercare forms; an unknown escalation or patient goes to the error page.
SHOWN = EVERY_STATUS - {404}


def _queue(
    request: Request,
    db: DbSession,
    principal: Principal,
    *,
    errors: dict[int, dict[str, str]] | None = None,
    typed: dict[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    require_staff_clinic(principal)
    escalations = service.escalation_queue(db, principal, "open") + service.escalation_queue(
        db, principal, "acknowledged"
    )
    patient_ids = {e.patient_id for e in escalations}
    checkin_ids = {e.checkin_id for e in escalations if e.checkin_id is not None}
    patients = (
        {p.id: p for p in db.scalars(select(Patient).where(Patient.id.in_(patient_ids)))}
        if patient_ids
        else {}
    )
    checkins = (
        {c.id: c for c in db.scalars(select(AftercareCheckin).where(AftercareCheckin.id.in_(checkin_ids)))}
        if checkin_ids
        else {}
    )
    return render(
        request,
        "aftercare/queue.html",
        {
            "clinics": staff_clinics(db, principal),
            "escalations": escalations,
            "patients": patients,
            "checkins": checkins,
            "may_act": principal.may(Permission.CLINICAL_WRITE),
            "errors": errors or {},
            "typed": typed or {},
        },
        status_code=status_code,
    )


@router.get("/aftercare")
def queue(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    return _queue(request, db, principal)


@router.post("/aftercare/escalations/{escalation_id}/acknowledge")
def acknowledge(request: Request, db: DbSession, principal: Clinician, escalation_id: int) -> Response:
    done = attempt(db, principal, lambda: service.acknowledge(db, principal, escalation_id), show=SHOWN)
    if done.refused:
        return _queue(request, db, principal, errors={escalation_id: done.errors}, status_code=done.status)
    return RedirectResponse(f"/aftercare#escalation-{escalation_id}", status_code=303)


@router.post("/aftercare/escalations/{escalation_id}/resolve")
def resolve(
    request: Request,
    db: DbSession,
    principal: Clinician,
    escalation_id: int,
    note: Annotated[str, Form()] = "",
) -> Response:
    data, errors = validate_form(ResolveIn, {"note": note})
    status = 422
    if isinstance(data, ResolveIn):
        done = attempt(
            db, principal, lambda: service.resolve(db, principal, escalation_id, data.note), show=SHOWN
        )
        if not done.refused:
            return RedirectResponse("/aftercare", status_code=303)
        errors, status = done.errors, done.status
    return _queue(
        request,
        db,
        principal,
        errors={escalation_id: errors},
        typed={escalation_id: note},
        status_code=status,
    )


# --- adverse events -----------------------------------------------------------------------------

CHOICES = {
    "seriousness": get_args(Seriousness),
    "severity": get_args(AESeverity),
    "outcome": get_args(AEOutcome),
}


def _ae_form(
    request: Request,
    db: DbSession,
    principal: Principal,
    patient_id: int,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    patient = get_patient(db, principal, patient_id)
    return render(
        request,
        "aftercare/adverse_event.html",
        {
            "clinics": staff_clinics(db, principal),
            "patient": patient,
            "values": values,
            "choices": CHOICES,
            "errors": errors or {},
            "events": service.list_adverse_events(db, principal, patient.id),
        },
        status_code=status_code,
    )


@router.get("/patients/{patient_id}/adverse-events/new")
def adverse_event_form(
    request: Request,
    db: DbSession,
    principal: Clinician,
    patient_id: int,
    escalation_id: int | None = None,
) -> Response:
    patient = get_patient(db, principal, patient_id)
    values = {
        "escalation_id": escalation_id or "",
        "onset_on": clinic_today(db, patient.clinic_id).isoformat(),
    }
    return _ae_form(request, db, principal, patient_id, values)


@router.post("/patients/{patient_id}/adverse-events/new")
def report_adverse_event(
    request: Request,
    db: DbSession,
    principal: Clinician,
    patient_id: int,
    code: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    onset_on: Annotated[str, Form()] = "",
    seriousness: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    session_id: Annotated[str, Form()] = "",
    suspected_lot_id: Annotated[str, Form()] = "",
    escalation_id: Annotated[str, Form()] = "",
) -> Response:
    values: dict[str, Any] = {
        "code": code,
        "description": description,
        "onset_on": onset_on,
        "seriousness": seriousness,
        "severity": severity,
        "outcome": outcome,
        "session_id": session_id,
        "suspected_lot_id": suspected_lot_id,
        "escalation_id": escalation_id,
    }
    data, errors = validate_form(AdverseEventIn, values)
    status = 422
    if isinstance(data, AdverseEventIn):
        done = attempt(
            db, principal, lambda: service.report_adverse_event(db, principal, patient_id, data), show=SHOWN
        )
        if not done.refused:
            return RedirectResponse(f"/patients/{patient_id}#timeline", status_code=303)
        errors, status = done.errors, done.status
    return _ae_form(request, db, principal, patient_id, values, errors, status)
