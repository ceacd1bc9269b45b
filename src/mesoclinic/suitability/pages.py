"""The public pre-consultation suitability check: no login, and nothing stored unless the person
asks for a consultation with consent ticked — then only a message to the clinic is queued (no
patient record) and the request is audited with ids only."""

from __future__ import annotations

import hmac
import secrets
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.assessment import rules as assessment
from mesoclinic.audit import service as audit
from mesoclinic.audit.service import Actor
from mesoclinic.auth.deps import DbSession
from mesoclinic.db import utcnow
from mesoclinic.errors import Forbidden, InvalidInput
from mesoclinic.messaging import service as messaging
from mesoclinic.models import Clinic
from mesoclinic.screening.ruleset import default_ruleset
from mesoclinic.suitability import rules
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

KIND = "consultation_request"
#: Double-submit cookie: a consultation request must come from our own form (no session exists).
CSRF_COOKIE = "mc_public_csrf"
PROCEDURE_LABELS = {"laser": "Laser treatment", "peel": "Chemical peel", "facial_surgery": "Facial surgery"}


async def _form(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    return {key: [str(v) for v in form.getlist(key)] for key in form}


FormData = Annotated[dict[str, list[str]], Depends(_form)]


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _date(form: dict[str, list[str]], name: str, today: date) -> date | None:
    raw = _one(form, name)
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("Give a date.", code="invalid-date", field=name) from None
    if value > today:
        raise InvalidInput("This date is in the future.", code="date-in-future", field=name)
    return value


def _options() -> dict[str, Any]:
    vocabulary = default_ruleset().vocabulary
    return {
        "concerns": {c.code: c.label for c in assessment.reference().concerns.values()},
        "conditions": vocabulary.conditions,
        "skin_problems": vocabulary.skin_problems,
        "drug_classes": vocabulary.drug_classes,
        "procedures": PROCEDURE_LABELS,
    }


def answers_from(form: dict[str, list[str]], today: date) -> rules.Answers:
    """The questionnaire as ``rules.Answers``; unknown codes and bad dates are refused by field."""
    options = _options()

    def codes(name: str) -> list[str]:
        chosen = form.get(name, [])
        if unknown := sorted(set(chosen) - set(options[name])):
            raise InvalidInput(f"Unknown choice: {', '.join(unknown)}.", code="unknown-choice", field=name)
        return chosen

    medications = []
    for drug_class in codes("drug_classes"):
        medications.append(rules.Medication(drug_class, _date(form, f"stopped_{drug_class}", today)))
    procedures = {}
    for category in codes("procedures"):
        on = _date(form, f"procedure_{category}", today)
        if on is None:
            raise InvalidInput("When was it?", code="date-required", field=f"procedure_{category}")
        procedures[category] = on
    allergies = tuple(a.strip() for a in _one(form, "allergies").split(",") if a.strip())
    return rules.Answers(
        concerns=tuple(codes("concerns")),
        pregnant=_one(form, "pregnant") == "yes",
        breastfeeding=_one(form, "breastfeeding") == "yes",
        planning_pregnancy=_one(form, "planning_pregnancy") == "yes",
        conditions=frozenset(codes("conditions")),
        skin_problems=frozenset(codes("skin_problems")),
        medications=tuple(medications),
        allergies=allergies[:20],
        procedures=procedures,
        vaccination_on=_date(form, "vaccination_on", today),
    )


def _clinics(db: Session) -> list[Clinic]:
    return list(db.scalars(select(Clinic).where(Clinic.email != "").order_by(Clinic.name)))


def _page(
    request: Request,
    db: Session,
    form: dict[str, list[str]],
    result: rules.Result | None = None,
    error: InvalidInput | None = None,
    sent: bool = False,
    status_code: int = 200,
) -> Response:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "suitability/check.html",
        _options()
        | {
            "form": form,
            "result": result,
            "error": error,
            "sent": sent,
            "clinics": _clinics(db),
            "public_csrf": token,
            "durability": rules.DURABILITY,
            "durability_source": rules.DURABILITY_SOURCE,
            "not_a_facelift": rules.NOT_A_FACELIFT,
            "not_a_facelift_source": rules.NOT_A_FACELIFT_SOURCE,
        },
        status_code=status_code,
    )
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.app.state.settings.secure_cookies
    )
    return response


@router.get("/suitability")
def suitability(request: Request, db: DbSession) -> Response:
    return _page(request, db, {})


@router.post("/suitability")
def check(request: Request, db: DbSession, form: FormData) -> Response:
    """Compute the answer. Stores nothing unless ``request_consultation`` is set with consent."""
    today = utcnow().date()
    try:
        answers = answers_from(form, today)
    except InvalidInput as error:
        return _page(request, db, form, error=error, status_code=422)
    result = rules.assess(answers, today)
    if _one(form, "action") != "request":
        return _page(request, db, form, result)
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), _one(form, "public_csrf").encode()):
        raise Forbidden("The form expired. Please try again.", code="csrf-failed")
    try:
        _request_consultation(db, form, answers, result)
    except InvalidInput as error:
        return _page(request, db, form, result, error=error, status_code=422)
    return _page(request, db, {}, sent=True)


def _request_consultation(
    db: Session, form: dict[str, list[str]], answers: rules.Answers, result: rules.Result
) -> None:
    if _one(form, "consent") != "yes":
        raise InvalidInput(
            "Tick the box to let the clinic store and use your details to contact you.",
            code="consent-required",
            field="consent",
        )
    name, contact = _one(form, "name")[:200], _one(form, "contact")[:254]
    if not name:
        raise InvalidInput("Tell us your name.", code="required", field="name")
    if not contact:
        raise InvalidInput("Tell us how to reach you (email or phone).", code="required", field="contact")
    clinic_id = _one(form, "clinic_id")
    clinic = db.get(Clinic, int(clinic_id)) if clinic_id.isdigit() else None
    if clinic is None or not clinic.email:
        raise InvalidInput("Choose a clinic.", code="required", field="clinic_id")
    token = secrets.token_urlsafe(16)
    body = "\n".join(
        [
            "Consultation request from the website suitability check, "
            f"{datetime.now(ZoneInfo(clinic.timezone)):%Y-%m-%d %H:%M}.",
            f"Name: {name}",
            f"Contact: {contact}",
            f"Concerns: {', '.join(answers.concerns) or 'none given'}",
            f"Suitability answer: {result.verdict}"
            + (f", reconsider from {result.reconsider_on.isoformat()}" if result.reconsider_on else ""),
            f"Rules that applied: {', '.join(r.code for r in result.reasons) or 'none'}",
            f"Message: {_one(form, 'message')[:2000]}",
            "The person consented to being contacted about this request.",
        ]
    )
    message = messaging.enqueue(
        db,
        key=f"{KIND}:{token}",
        kind=KIND,
        channel="email",
        recipient=clinic.email,
        subject="Consultation request",
        body=body,
        due_at=utcnow(),
        clinic_id=clinic.id,
    )
    audit.record(
        db,
        Actor(user_id=None, label="public suitability check", ip=""),
        "consultation.requested",
        target_type="outbox_message",
        target_id=message.id,
        clinic_id=clinic.id,
        details={"verdict": result.verdict, "rule_codes": [r.code for r in result.reasons]},
    )
