"""The staff home page (patient search) and the patient chart with its clinical timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.aftercare import service as aftercare
from mesoclinic.assessment import service as assessment
from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.imaging import service as imaging
from mesoclinic.models import Clinic, Patient
from mesoclinic.patients import service
from mesoclinic.planning import service as planning
from mesoclinic.screening import service as screening
from mesoclinic.treatment import service as treatment
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(max_length=100)] = "",
    date_of_birth: date | None = None,
) -> Response:
    if not principal.is_staff:
        if principal.patient_id is None:
            return render(
                request,
                "error.html",
                {
                    "status": 404,
                    "title": "No record",
                    "detail": "Your account is not linked to a patient record yet.",
                },
                status_code=404,
            )
        return RedirectResponse(f"/patients/{principal.patient_id}", status_code=303)
    clinics = db.scalars(
        select(Clinic).where(Clinic.id.in_(principal.clinic_ids)).order_by(Clinic.name)
    ).all()
    patients, total = service.search_patients(
        db, principal, query=q, date_of_birth=date_of_birth, clinic_id=principal.active_clinic_id
    )
    return render(
        request,
        "home.html",
        {
            "clinics": clinics,
            "patients": patients,
            "total": total,
            "q": q,
            "date_of_birth": date_of_birth or "",
        },
    )


@dataclass(frozen=True)
class Event:
    """One line of the chart's timeline."""

    at: datetime
    kind: str
    title: str
    detail: str = ""
    #: Whether ``at`` carries a time of day (a date-only fact shows its date alone).
    timed: bool = True
    #: Where the entry is shown in full, if it has a page of its own.
    href: str = ""


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    return value.astimezone(zone)


def _day(value: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(value, time(), zone)


def timeline(db: Session, principal: Principal, patient: Patient, zone: ZoneInfo) -> list[Event]:
    """The patient's care, newest first, gathered from each domain's own (audited) list service."""
    events: list[Event] = []
    for intake in service.list_intakes(db, principal, patient.id):
        events.append(
            Event(_local(intake.submitted_at, zone), "intake", "Intake questionnaire", intake.source)
        )
    for result in screening.list_screenings(db, principal, patient.id):
        events.append(
            Event(
                _local(result.performed_at, zone), "screening", "Screening", result.outcome.replace("_", " ")
            )
        )
    for found in assessment.list_assessments(db, principal, patient.id):
        count = len(found.findings)
        events.append(
            Event(_local(found.assessed_at, zone), "assessment", "Skin assessment", f"{count} finding(s)")
        )
    for course in planning.list_courses(db, principal, patient.id):
        detail = f"{course.sessions_planned} sessions, {course.status}"
        if course.maintenance_due_on:
            detail += f"; maintenance due {course.maintenance_due_on.isoformat()}"
        events.append(Event(_local(course.created_at, zone), "course", "Course plan", detail))
    for session in treatment.list_sessions(db, principal, patient.id):
        detail = f"{session.status.replace('_', ' ')}, {len(session.injections)} injection(s)"
        events.append(
            Event(_local(session.started_at, zone), "session", f"Session {session.session_number}", detail)
        )
    for photo in imaging.list_photos(db, principal, patient.id):
        events.append(
            Event(
                _day(photo.visit_on, zone),
                "photo",
                "Photo",
                photo.view,
                timed=False,
                href=f"/patients/{patient.id}/photos#photo-{photo.id}",
            )
        )
    for checkin in aftercare.list_checkins(db, principal, patient.id):
        if checkin.completed_at is not None:
            events.append(
                Event(_local(checkin.completed_at, zone), "checkin", f"Check-in {checkin.label}", "answered")
            )
        else:
            events.append(
                Event(_day(checkin.due_on, zone), "checkin", f"Check-in {checkin.label}", "due", timed=False)
            )
    for event in aftercare.list_adverse_events(db, principal, patient.id):
        detail = f"{event.code}: {event.severity}, {event.outcome.replace('_', ' ')}"
        events.append(Event(_day(event.onset_on, zone), "adverse", "Adverse event", detail, timed=False))
    return sorted(events, key=lambda e: e.at, reverse=True)


@router.get("/patients/{patient_id}")
def patient_chart(request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int) -> Response:
    patient = service.get_patient(db, principal, patient_id)
    clinic = db.get_one(Clinic, patient.clinic_id)
    clinical = principal.is_staff and principal.may(Permission.CLINICAL_READ)
    clinics = (
        db.scalars(select(Clinic).where(Clinic.id.in_(principal.clinic_ids)).order_by(Clinic.name)).all()
        if principal.is_staff
        else []
    )
    return render(
        request,
        "patient.html",
        {
            "patient": patient,
            "clinic": clinic,
            "clinics": clinics,
            "today": date.today(),
            "timeline": timeline(db, principal, patient, ZoneInfo(clinic.timezone)) if clinical else None,
            "may_report": principal.may(Permission.CLINICAL_WRITE),
        },
    )
