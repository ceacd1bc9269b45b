"""Server-rendered pages for consultation (thin: rules live in the domain packages).

The consultation wizard at ``/patients/{id}/consultation``: one page per step (intake review →
screening → assessment → formulation → course plan → consent on the tablet), each step's form
posting to the domain service and redirecting to the next step on success, or re-rendering with
the error next to its field (and what was typed) on a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from mesoclinic.assessment import rules as assessment_rules
from mesoclinic.assessment import service as assessment
from mesoclinic.assessment.schemas import AssessmentCreate
from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.auth.rules import Principal
from mesoclinic.consent import service as consent
from mesoclinic.consent.schemas import ConsentSign
from mesoclinic.errors import Forbidden, InvalidInput, MesoClinicError
from mesoclinic.formulation import service as formulation
from mesoclinic.formulation.schemas import FinalItem, FormulationCreate, FormulationDecide
from mesoclinic.models import Patient
from mesoclinic.patients import service as patients
from mesoclinic.planning import service as planning
from mesoclinic.planning.schemas import CourseCreate
from mesoclinic.screening import service as screening
from mesoclinic.treatment import service as treatment
from mesoclinic.treatment.schemas import SessionStart
from mesoclinic.web.forms import refusal_errors
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

STEPS: tuple[tuple[str, str], ...] = (
    ("intake", "Intake review"),
    ("screening", "Screening"),
    ("assessment", "Assessment"),
    ("formulation", "Formulation"),
    ("course", "Course plan"),
    ("consent", "Consent"),
)
STEP_CODES = tuple(code for code, _ in STEPS)
#: Finding rows offered on the assessment form (more can be added in later assessments).
FINDING_ROWS = 3


# --- form helpers (shared with the session screen) ----------------------------------------------


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic errors keyed by their dotted field path (``findings.0.value``)."""
    errors: dict[str, str] = {}
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "form"
        errors.setdefault(loc, str(item["msg"]).removeprefix("Value error, "))
    return errors


def form_values(form: Any) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}


def optional_int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.lstrip("-").isdigit() else None


def attempt(db: Session, action: Callable[[], object]) -> tuple[dict[str, str], int]:
    """Run one service call; on a refusal (422 invalid input, 409 conflict) roll its request back
    and return the field errors with the status to re-render the form with (``({}, 200)`` on
    success). Forbidden and not-found refusals propagate: the error page, audited by the request."""
    try:
        action()
    except ValidationError as error:
        db.rollback()
        return validation_errors(error), 422
    except MesoClinicError as error:
        if error.status not in (409, 422):
            raise
        db.rollback()
        return refusal_errors(error), error.status
    return {}, 200


# --- the wizard ---------------------------------------------------------------------------------


def _state(db: Session, principal: Principal, patient: Patient) -> dict[str, Any]:
    """What the wizard needs to know about the patient (access-checked and audited by the services)."""
    intake = patients.latest_intake(db, principal, patient.id)
    result = screening.latest_screening(db, principal, patient.id) if principal.is_staff else None
    findings = screening.findings_of(result) if result else []
    overrides = screening.overrides_of(db, result) if result else []
    clearance = screening.clearance(db, result) if result else None
    assessments = assessment.list_assessments(db, principal, patient.id)
    formulations = formulation.list_formulations(db, principal, patient.id)
    final = next((f for f in formulations if f.status == "final"), None)
    courses = planning.list_courses(db, principal, patient.id)
    text = consent.current_text(db, patient.clinic_id, "treatment")
    overview = consent.overview(db, principal, patient.id)
    return {
        "intake": intake,
        "intake_answers": (intake.answers if intake else {}),
        "screening": result,
        "findings": findings,
        "overridden": {o.rule_code for o in overrides},
        "overrides": overrides,
        "clearance": clearance,
        "assessment": assessments[0] if assessments else None,
        "formulation": formulations[0] if formulations else None,
        "final_formulation": final,
        "course": next((c for c in courses if c.status == "active"), courses[0] if courses else None),
        "consent_text": text,
        "consent_status": overview.status.get("treatment", "none"),
    }


def _page(
    request: Request,
    db: Session,
    principal: Principal,
    patient_id: int,
    step: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    patient = patients.get_patient(db, principal, patient_id)
    reference = assessment_rules.reference()
    context = {
        "patient": patient,
        "step": step,
        "steps": STEPS,
        "errors": errors or {},
        "values": values or {},
        "zones": list(reference.zones.values()),
        "scales": [s for s in reference.scales.values() if s.level == "finding" and s.kind == "grade"],
        "concerns": list(reference.concerns.values()),
        "goals": list(reference.goals.values()),
        "finding_rows": range(FINDING_ROWS),
        **_state(db, principal, patient),
    }
    return render(request, f"consultation/{step}.html", context, status_code=status_code)


def _next(patient_id: int, step: str) -> RedirectResponse:
    return RedirectResponse(f"/patients/{patient_id}/consultation/{step}", status_code=303)


def _require_step(step: str) -> None:
    if step not in STEP_CODES:
        raise InvalidInput("No such consultation step.", code="unknown-step", field="step")


@router.get("/patients/{patient_id}/consultation")
def consultation_start(patient_id: int, principal: CurrentPrincipal) -> Response:
    return _next(patient_id, "intake")


@router.get("/patients/{patient_id}/consultation/{step}")
def consultation_step(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int, step: str
) -> Response:
    _require_step(step)
    if not principal.is_staff:
        patients.get_patient(db, principal, patient_id, audit_read=False)  # 404 for others' records
        raise Forbidden("The consultation is for clinic staff.", code="staff-only")
    return _page(request, db, principal, patient_id, step)


def _failed(
    request: Request,
    db: Session,
    principal: Principal,
    patient_id: int,
    step: str,
    errors: dict[str, str],
    values: dict[str, str],
    status: int,
) -> Response:
    return _page(request, db, principal, patient_id, step, errors=errors, values=values, status_code=status)


@router.post("/patients/{patient_id}/consultation/screening")
async def post_screening(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int
) -> Response:
    form = await request.form()
    values = form_values(form)

    def run() -> None:
        planned: list[tuple[str, tuple[str, ...]]] = []
        final = next(
            (f for f in formulation.list_formulations(db, principal, patient_id) if f.status == "final"), None
        )
        if final is not None:
            planned = formulation.final_ingredients(db, principal, final.id)
        screening.run_screening(db, principal, patient_id, planned_ingredients=planned)

    errors, status = attempt(db, run)
    if errors:
        return _failed(request, db, principal, patient_id, "screening", errors, values, status)
    return _next(patient_id, "screening")


@router.post("/patients/{patient_id}/consultation/screening/override")
async def post_override(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int
) -> Response:
    form = await request.form()
    values = form_values(form)

    def run() -> None:
        result = screening.latest_screening(db, principal, patient_id)
        if result is None:
            raise InvalidInput("Run the screening first.", code="screening-not-found", field="form")
        screening.add_override(
            db, principal, result.id, values.get("rule_code", ""), values.get("reason", "").strip()
        )

    errors, status = attempt(db, run)
    if errors:
        errors = {("reason" if k == "form" else k): v for k, v in errors.items()}
        return _failed(request, db, principal, patient_id, "screening", errors, values, status)
    return _next(patient_id, "screening")


def _assessment_body(values: dict[str, str]) -> dict[str, Any]:
    findings: list[dict[str, Any]] = []
    for row in range(FINDING_ROWS):
        concern = values.get(f"findings.{row}.concern", "")
        if not concern:
            continue
        finding: dict[str, Any] = {
            "concern": concern,
            "zone": values.get(f"findings.{row}.zone", ""),
            "scale": values.get(f"findings.{row}.scale", ""),
            "method": values.get(f"findings.{row}.method", ""),
        }
        if side := values.get(f"findings.{row}.side"):
            finding["side"] = side
        if value := values.get(f"findings.{row}.value", "").strip():
            finding["value"] = value
        if state := values.get(f"findings.{row}.state"):
            finding["components"] = {"state": state}
        findings.append(finding)
    return {
        "glogau": optional_int(values.get("glogau")),
        "fitzpatrick": optional_int(values.get("fitzpatrick")),
        "goals": [g for g in values.get("goals", "").split(",") if g] if values.get("goals") else [],
        "notes": values.get("notes", ""),
        "findings": findings,
    }


@router.post("/patients/{patient_id}/consultation/assessment")
async def post_assessment(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int
) -> Response:
    form = await request.form()
    values = form_values(form)
    goals = [g for g in form.getlist("goals") if isinstance(g, str)]
    body = _assessment_body(values)
    body["goals"] = goals
    values["goals"] = ",".join(goals)
    errors, status = attempt(
        db,
        lambda: assessment.create_assessment(
            db, principal, patient_id, AssessmentCreate.model_validate(body)
        ),
    )
    if errors:
        return _failed(request, db, principal, patient_id, "assessment", errors, values, status)
    return _next(patient_id, "formulation")


@router.post("/patients/{patient_id}/consultation/formulation")
async def post_propose(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int
) -> Response:
    form = await request.form()
    values = form_values(form)

    def run() -> None:
        latest = assessment.list_assessments(db, principal, patient_id)
        if not latest:
            raise InvalidInput("Record an assessment first.", code="assessment-missing", field="form")
        formulation.propose_formulation(
            db, principal, patient_id, FormulationCreate(assessment_id=latest[0].id)
        )

    errors, status = attempt(db, run)
    if errors:
        return _failed(request, db, principal, patient_id, "formulation", errors, values, status)
    return _next(patient_id, "formulation")


@router.post("/patients/{patient_id}/consultation/formulation/{formulation_id}/decide")
async def post_decide(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int, formulation_id: int
) -> Response:
    form = await request.form()
    values = form_values(form)
    codes = [c for c in form.getlist("codes") if isinstance(c, str)]
    extra = [c.strip() for c in values.get("extra_codes", "").split(",") if c.strip()]
    values["codes"] = ",".join(codes)

    def run() -> None:
        patients.get_patient(db, principal, patient_id, audit_read=False)
        if formulation.get_formulation(db, principal, formulation_id).patient_id != patient_id:
            raise InvalidInput("No such formulation for this patient.", code="formulation-not-found")
        data = FormulationDecide(
            final=[FinalItem(code=code) for code in [*codes, *extra]],
            note=values.get("note", ""),
            acknowledge_incompatible=values.get("acknowledge_incompatible") == "yes",
        )
        formulation.decide(db, principal, formulation_id, data)

    errors, status = attempt(db, run)
    if errors:
        return _failed(request, db, principal, patient_id, "formulation", errors, values, status)
    return _next(patient_id, "course")


@router.post("/patients/{patient_id}/consultation/course")
async def post_course(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int
) -> Response:
    form = await request.form()
    values = form_values(form)

    def run() -> None:
        final = next(
            (f for f in formulation.list_formulations(db, principal, patient_id) if f.status == "final"), None
        )
        if final is None:
            raise InvalidInput(
                "Decide the formulation first.", code="formulation-not-final", field="formulation_id"
            )
        body: dict[str, Any] = {"formulation_id": final.id}
        for name in ("sessions_planned", "interval_min_days", "interval_max_days", "session_minutes"):
            if values.get(name, "").strip():
                body[name] = values[name].strip()
        if values.get("starts_on", "").strip():
            body["starts_on"] = values["starts_on"].strip()
        planning.create_course(db, principal, patient_id, CourseCreate.model_validate(body))

    errors, status = attempt(db, run)
    if errors:
        return _failed(request, db, principal, patient_id, "course", errors, values, status)
    return _next(patient_id, "consent")


@router.post("/patients/{patient_id}/consultation/consent")
async def post_consent(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int
) -> Response:
    form = await request.form()
    values = form_values(form)

    def run() -> None:
        data = ConsentSign.model_validate(
            {
                "consent_text_id": optional_int(values.get("consent_text_id")) or 0,
                "typed_name": values.get("typed_name", "").strip(),
                "signature_svg_path": values.get("signature_svg_path", ""),
            }
        )
        consent.sign(db, principal, patient_id, data)

    errors, status = attempt(db, run)
    if errors:
        values.pop("signature_svg_path", None)  # the drawing is redone, not replayed
        return _failed(request, db, principal, patient_id, "consent", errors, values, status)
    return _next(patient_id, "consent")


@router.post("/courses/{course_id}/next-session")
async def start_next_session(
    request: Request, db: DbSession, principal: CurrentPrincipal, course_id: int
) -> Response:
    """Start the course's next session and open the session screen (refusals explained on the
    consent step, where the course is shown)."""
    course = planning.get_course(db, principal, course_id, audit_read=False)
    patient_id = course.patient_id
    session_id: list[int] = []
    errors, status = attempt(
        db, lambda: session_id.append(treatment.start_session(db, principal, course_id, SessionStart()).id)
    )
    if errors:
        errors = {"session": next(iter(errors.values()))}
        return _failed(request, db, principal, patient_id, "consent", errors, {}, status)
    return RedirectResponse(f"/sessions/{session_id[0]}", status_code=303)
