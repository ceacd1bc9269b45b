"""The patient portal: the intake questionnaire, upcoming appointments and self-booking of the
next course session, aftercare check-ins on the phone, aftercare instructions, consent signing
(drawn, or by typing one's name), the patient's own before/after photos with an outcome summary,
and a sourced explainer.

Thin: the patients, scheduling, aftercare and consent services decide; these routes only show
their answers and re-render a form, keeping what the patient typed, when a service refuses it
(``web.forms.attempt``). The intake form's layout lives in ``portal.intake``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.aftercare import rules as aftercare_rules
from mesoclinic.aftercare import service as aftercare
from mesoclinic.aftercare.schemas import CheckinAnswers
from mesoclinic.assessment import rules as assessment_rules
from mesoclinic.audit import service as audit
from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.auth.rules import Principal
from mesoclinic.consent import rules as consent_rules
from mesoclinic.consent import service as consent
from mesoclinic.db import utcnow
from mesoclinic.errors import Forbidden, InvalidInput, MesoClinicError, NotFound
from mesoclinic.imaging import pages as photo_pages
from mesoclinic.models import Appointment, AppointmentType, Clinic, Patient, Room, User
from mesoclinic.patients import service as patients
from mesoclinic.patients.schemas import IntakeAnswers
from mesoclinic.patients.service import get_patient
from mesoclinic.planning import service as planning
from mesoclinic.portal import intake as intake_form
from mesoclinic.scheduling import service as scheduling
from mesoclinic.scheduling.schemas import ProposalRequest, SelfBooking
from mesoclinic.web.forms import EVERY_STATUS, attempt
from mesoclinic.web.signature import consent_signature
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)


def _own_patient(db: Session, principal: Principal) -> Patient:
    """The caller's own record: the portal is for the patient role only."""
    if principal.patient_id is None:
        raise Forbidden("The portal is for patients.", code="portal-only")
    return get_patient(db, principal, principal.patient_id, audit_read=False)


async def _form(request: Request) -> dict[str, Any]:
    """Every submitted field (check-in forms have one radio group per symptom), multi-valued as lists."""
    form = await request.form()
    return {key: form.getlist(key) for key in form}


FormData = Annotated[dict[str, Any], Depends(_form)]


def _upcoming(db: Session, principal: Principal, patient: Patient) -> list[dict[str, Any]]:
    """The patient's own live appointments from now on, with the names a patient needs.

    (There is no "a patient's appointments" function in the scheduling service yet; this is the
    read-only query it would hold, made after the access check and audited.)"""
    rows = db.execute(
        select(Appointment, AppointmentType.name, Room.name, User.full_name)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Room, Room.id == Appointment.room_id)
        .join(User, User.id == Appointment.practitioner_user_id)
        .where(
            Appointment.patient_id == patient.id,
            Appointment.ends_at >= utcnow(),
            Appointment.status.in_(["booked", "checked_in"]),
        )
        .order_by(Appointment.starts_at)
    ).all()
    audit.record(
        db,
        principal.actor,
        "appointment.list_read",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"appointment_ids": [row[0].id for row in rows]},
    )
    return [{"appointment": a, "type": t, "room": r, "practitioner": p} for a, t, r, p in rows]


@router.get("/portal")
def portal(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    patient = _own_patient(db, principal)
    clinic = db.get_one(Clinic, patient.clinic_id)
    checkins = aftercare.list_checkins(db, principal, patient.id, open_only=True)
    today = datetime.now(ZoneInfo(clinic.timezone)).date()
    return render(
        request,
        "portal/home.html",
        {
            "patient": patient,
            "clinic": clinic,
            "zone": ZoneInfo(clinic.timezone),
            "intake": patients.latest_intake(db, principal, patient.id, audit_read=False),
            "intake_sent": request.query_params.get("intake") == "sent",
            "appointments": _upcoming(db, principal, patient),
            "due": [c for c in checkins if c.due_on <= today],
            # The next scheduled check-in can be answered early (the evening after a session, say).
            "soon": [c for c in checkins if c.due_on > today][:1],
            "later": [c for c in checkins if c.due_on > today][1:],
            "labels": CHECKIN_LABELS,
        },
    )


# --- intake questionnaire ------------------------------------------------------------------------


def _intake_form(
    request: Request,
    db: Session,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    patient = _own_patient(db, principal)
    questions = patients.questionnaire()
    fitzpatrick = assessment_rules.reference().scales["fitzpatrick"]
    return render(
        request,
        "portal/intake.html",
        {
            "patient": patient,
            "latest": patients.latest_intake(db, principal, patient.id, audit_read=False),
            "questions": questions,
            "yes_no": intake_form.YES_NO,
            "required_yes_no": intake_form.REQUIRED_YES_NO,
            "rows": {kind: range(count) for kind, count in intake_form.ROWS.items()},
            "fields": intake_form.fields(),
            "procedure_labels": intake_form.PROCEDURE_LABELS,
            "skin_types": sorted(fitzpatrick.anchors.items()),
            "skin_types_source": fitzpatrick.source,
            "values": values,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/portal/intake")
def intake_page(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    return _intake_form(request, db, principal, intake_form.blank())


@router.post("/portal/intake")
def submit_intake(request: Request, db: DbSession, principal: CurrentPrincipal, form: FormData) -> Response:
    """Submit the questionnaire as the patient (the patients service appends the declared history
    and the clinic sees it in the consultation's intake review)."""
    patient = _own_patient(db, principal)
    values = intake_form.typed(form)
    body, rows = intake_form.answers_body(values)
    done = attempt(
        db,
        principal,
        lambda: patients.submit_intake(db, principal, patient.id, IntakeAnswers.model_validate(body)),
    )
    if done.refused:
        errors = intake_form.friendly(done.errors, rows)
        return _intake_form(request, db, principal, values, errors, done.status)
    return RedirectResponse("/portal?intake=sent", status_code=303)


# --- aftercare ---------------------------------------------------------------------------------

CHECKIN_LABELS = {
    "day1": "Day 1",
    "day3": "Day 3",
    "day7": "Day 7",
    "week4": "Week 4",
    "week8": "Week 8",
    "week12": "Week 12",
    "unscheduled": "Something new",
}


def _checkin_form(
    request: Request,
    db: Session,
    principal: Principal,
    checkin_id: int | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    patient = _own_patient(db, principal)
    label = "Report a symptom"
    if checkin_id is not None:
        found = [c for c in aftercare.list_checkins(db, principal, patient.id) if c.id == checkin_id]
        if not found:
            raise NotFound("No such check-in.", code="checkin-not-found")
        if found[0].completed_at is not None:
            return RedirectResponse("/portal", status_code=303)
        label = f"{CHECKIN_LABELS.get(found[0].label, found[0].label)} check-in"
    return render(
        request,
        "portal/checkin.html",
        {
            "label": label,
            "action": f"/portal/checkins/{checkin_id}" if checkin_id is not None else "/portal/checkins",
            "reference": aftercare_rules.reference(),
            "values": values,
            "errors": errors or {},
            "levels": [(0, "None"), (1, "Mild"), (2, "Moderate"), (3, "Severe")],
        },
        status_code=status_code,
    )


def _values(form: dict[str, Any]) -> dict[str, Any]:
    """The submitted check-in as values to re-render the form with (and to validate)."""
    symptoms: dict[str, Any] = {}
    for code in aftercare_rules.reference().symptoms:
        raw = str((form.get(f"symptom_{code}") or [""])[0])
        if raw:
            symptoms[code] = int(raw) if raw.isdigit() else raw
    return {
        "symptoms": symptoms,
        "red_flags": [str(f) for f in form.get("red_flag", [])],
        "note": str((form.get("note") or [""])[0]),
    }


def _answers(values: dict[str, Any]) -> CheckinAnswers:
    """The values as the service's ``CheckinAnswers``; a refusal names the field."""
    try:
        return CheckinAnswers.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(str(first["msg"]), code="invalid-answer", field=str(first["loc"][0])) from None


def _checkin_result(
    request: Request, reasons: list[aftercare_rules.EscalationReason], urgency: str | None
) -> Response:
    return render(
        request,
        "portal/checkin_result.html",
        {
            "urgency": urgency,
            "advice": [r.advice for r in reasons]
            or ["Thank you. Everything you reported is within what we expect."],
        },
    )


@router.get("/portal/checkins/new")
def new_report(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    return _checkin_form(request, db, principal, None, {"symptoms": {}, "red_flags": [], "note": ""})


@router.get("/portal/checkins/{checkin_id}")
def checkin_page(request: Request, db: DbSession, principal: CurrentPrincipal, checkin_id: int) -> Response:
    return _checkin_form(request, db, principal, checkin_id, {"symptoms": {}, "red_flags": [], "note": ""})


@router.post("/portal/checkins/{checkin_id}")
def submit_checkin(
    request: Request, db: DbSession, principal: CurrentPrincipal, checkin_id: int, form: FormData
) -> Response:
    _own_patient(db, principal)
    values = _values(form)
    done = attempt(
        db,
        principal,
        lambda: aftercare.submit_checkin(db, principal, checkin_id, _answers(values)),
        show=EVERY_STATUS,
    )
    if done.refused:
        return _checkin_form(request, db, principal, checkin_id, values, done.errors, done.status)
    _checkin, escalation, reasons = done.result
    return _checkin_result(request, reasons, escalation.urgency if escalation else None)


@router.post("/portal/checkins")
def report(request: Request, db: DbSession, principal: CurrentPrincipal, form: FormData) -> Response:
    patient = _own_patient(db, principal)
    values = _values(form)
    done = attempt(
        db,
        principal,
        lambda: aftercare.report_unscheduled(db, principal, patient.id, _answers(values)),
        show=EVERY_STATUS,
    )
    if done.refused:
        return _checkin_form(request, db, principal, None, values, done.errors, done.status)
    _checkin, escalation, reasons = done.result
    return _checkin_result(request, reasons, escalation.urgency if escalation else None)


@router.get("/portal/aftercare")
def aftercare_instructions(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    _own_patient(db, principal)
    reference = aftercare_rules.reference()
    return render(
        request,
        "portal/aftercare.html",
        {
            "instructions": aftercare_rules.instructions(),
            "symptoms": reference.symptoms,
            "red_flags": reference.red_flags,
        },
    )


# --- self-booking ------------------------------------------------------------------------------


def _booking_page(
    request: Request,
    db: Session,
    principal: Principal,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    patient = _own_patient(db, principal)
    clinic = db.get_one(Clinic, patient.clinic_id)
    courses = [c for c in planning.list_courses(db, principal, patient.id) if c.status == "active"]
    types = [t for t in scheduling.list_appointment_types(db, principal, clinic.id) if t.patient_bookable]
    proposals = []
    reason = ""
    if courses and types:
        for atype in types:
            try:
                with db.begin_nested():
                    found = scheduling.propose_course(
                        db, principal, courses[0].id, ProposalRequest(appointment_type_id=atype.id)
                    )
            except MesoClinicError as refused:
                reason = refused.detail
                continue
            plans = ([found.best] if found.best else []) + found.alternatives
            seen = set()
            for plan in plans:
                first = plan.slots[0] if plan.slots else None
                if first is not None and first.starts_at not in seen:
                    seen.add(first.starts_at)
                    proposals.append((atype, first))
            reason = reason or (found.reason or "")
    ids = {s.practitioner_user_id for _, s in proposals}
    names = {u.id: u.full_name for u in db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return render(
        request,
        "portal/book.html",
        {
            "zone": ZoneInfo(clinic.timezone),
            "has_course": bool(courses),
            "proposals": proposals[:6],
            "names": names,
            "reason": reason,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/portal/book")
def booking_page(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    return _booking_page(request, db, principal)


def _self_booking(slot: str) -> SelfBooking:
    """The chosen proposal, sent as ``type|starts_at|practitioner|room``."""
    try:
        type_id, starts, practitioner_id, room_id = slot.split("|")
        return SelfBooking(
            appointment_type_id=int(type_id),
            starts_at=datetime.fromisoformat(starts),
            practitioner_user_id=int(practitioner_id),
            room_id=int(room_id),
        )
    except (ValueError, ValidationError):
        raise InvalidInput("Choose a time.", code="required", field="slot") from None


@router.post("/portal/book")
def self_book(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    slot: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    patient = _own_patient(db, principal)
    done = attempt(
        db,
        principal,
        lambda: scheduling.self_book(db, principal, patient.id, _self_booking(slot)),
        show=EVERY_STATUS,
    )
    if done.refused:
        return _booking_page(request, db, principal, done.errors, done.status)
    return RedirectResponse("/portal", status_code=303)


# --- consent -----------------------------------------------------------------------------------


def _consent_page(
    request: Request,
    db: Session,
    principal: Principal,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    patient = _own_patient(db, principal)
    overview = consent.overview(db, principal, patient.id)
    return render(
        request,
        "portal/consent.html",
        {
            "patient": patient,
            "overview": overview,
            "signed": {r.kind: r for r in overview.records if r.state == "valid"},
            "texts": {
                kind: consent.current_text(db, patient.clinic_id, kind) for kind in consent_rules.KINDS
            },
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/portal/consent")
def consent_page(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    return _consent_page(request, db, principal)


@router.post("/portal/consent")
def sign_consent(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    consent_text_id: Annotated[int, Form()],
    typed_name: Annotated[str, Form(max_length=200)] = "",
    signature_svg_path: Annotated[str, Form(max_length=100_000)] = "",
    sign_by_typing: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    patient = _own_patient(db, principal)
    by_typing = sign_by_typing == "yes"
    values = {"consent_text_id": consent_text_id, "typed_name": typed_name, "sign_by_typing": by_typing}

    def sign() -> None:
        data = consent_signature(
            consent_text_id,
            typed_name,
            signature_svg_path,
            by_typing=by_typing,
        )
        consent.sign(db, principal, patient.id, data)

    done = attempt(db, principal, sign, show=EVERY_STATUS)
    if done.refused:
        return _consent_page(request, db, principal, values, done.errors, done.status)
    return RedirectResponse("/portal/consent", status_code=303)


# --- photos ------------------------------------------------------------------------------------


@router.get("/portal/photos")
def my_photos(
    request: Request, db: DbSession, principal: CurrentPrincipal, before: str = "", after: str = ""
) -> Response:
    """The patient's own before/after (the earliest and latest measured photos of one view unless
    they choose others) and "does it work for me?" in plain words from the comparison's verdicts."""
    patient = _own_patient(db, principal)
    compared = photo_pages.compare_pair(db, principal, patient, before, after)
    return render(
        request,
        "portal/photos.html",
        {
            "patient": patient,
            "photos": compared.cards,
            "measured": compared.measured,
            "compared": compared,
            "chosen": {"before": before, "after": after},
        },
        status_code=compared.status,
    )


# --- the explainer -----------------------------------------------------------------------------


@router.get("/portal/about")
def about(request: Request) -> Response:
    """Public on purpose: the same explainer is useful before anyone has an account."""
    return render(request, "portal/about.html")
