"""Server-rendered pages for consultation (thin: rules live in the domain packages).

The consultation wizard at ``/patients/{id}/consultation``: one page per step (intake review →
screening → assessment → formulation → course plan → consent on the tablet), each step's form
posting to the domain service and redirecting to the next step on success, or re-rendering with
the error next to its field (and what was typed) on a refusal.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from mesoclinic.assessment import rules as assessment_rules
from mesoclinic.assessment import service as assessment
from mesoclinic.assessment.schemas import AssessmentCreate
from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.auth.rules import Principal
from mesoclinic.consent import service as consent
from mesoclinic.errors import Forbidden, InvalidInput
from mesoclinic.formulation import service as formulation
from mesoclinic.formulation.schemas import FinalItem, FormulationCreate, FormulationDecide
from mesoclinic.models import Patient
from mesoclinic.patients import service as patients
from mesoclinic.planning import service as planning
from mesoclinic.planning.schemas import CourseCreate
from mesoclinic.screening import service as screening
from mesoclinic.treatment import service as treatment
from mesoclinic.treatment.schemas import SessionStart
from mesoclinic.web.forms import attempt, form_values
from mesoclinic.web.signature import consent_signature
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


# --- form helpers -----------------------------------------------------------------------------


def optional_int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.lstrip("-").isdigit() else None


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
        "labels": _intake_labels() if step == "intake" else {},
        **_state(db, principal, patient),
    }
    return render(request, f"consultation/{step}.html", context, status_code=status_code)


def _intake_labels() -> dict[str, dict[str, str]]:
    """The words the patient ticked, for the codes an intake stores."""
    questions = patients.questionnaire()
    return {
        "conditions": {c.code: c.label for c in questions.conditions},
        "skin_problems": {c.code: c.label for c in questions.skin_problems},
        "drug_classes": {c.code: c.label for c in questions.drug_classes},
    }


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

    done = attempt(db, principal, run)
    if done.refused:
        return _failed(request, db, principal, patient_id, "screening", done.errors, values, done.status)
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

    done = attempt(db, principal, run)
    if done.refused:
        errors = {("reason" if k == "form" else k): v for k, v in done.errors.items()}
        return _failed(request, db, principal, patient_id, "screening", errors, values, done.status)
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
    done = attempt(
        db,
        principal,
        lambda: assessment.create_assessment(
            db, principal, patient_id, AssessmentCreate.model_validate(body)
        ),
    )
    if done.refused:
        return _failed(request, db, principal, patient_id, "assessment", done.errors, values, done.status)
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

    done = attempt(db, principal, run)
    if done.refused:
        return _failed(request, db, principal, patient_id, "formulation", done.errors, values, done.status)
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

    done = attempt(db, principal, run)
    if done.refused:
        return _failed(request, db, principal, patient_id, "formulation", done.errors, values, done.status)
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

    done = attempt(db, principal, run)
    if done.refused:
        return _failed(request, db, principal, patient_id, "course", done.errors, values, done.status)
    return _next(patient_id, "consent")


@router.post("/patients/{patient_id}/consultation/consent")
async def post_consent(
    request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int
) -> Response:
    form = await request.form()
    values = form_values(form)

    def run() -> None:
        data = consent_signature(
            optional_int(values.get("consent_text_id")) or 0,
            values.get("typed_name", ""),
            values.get("signature_svg_path", ""),
            by_typing=values.get("sign_by_typing") == "yes",
        )
        consent.sign(db, principal, patient_id, data)

    done = attempt(db, principal, run)
    if done.refused:
        values.pop("signature_svg_path", None)  # the drawing is redone, not replayed
        return _failed(request, db, principal, patient_id, "consent", done.errors, values, done.status)
    return _next(patient_id, "consent")


@router.post("/courses/{course_id}/next-session")
async def start_next_session(
    request: Request, db: DbSession, principal: CurrentPrincipal, course_id: int
) -> Response:
    """Start the course's next session and open the session screen (refusals explained on the
    consent step, where the course is shown)."""
    course = planning.get_course(db, principal, course_id, audit_read=False)
    patient_id = course.patient_id
    done = attempt(db, principal, lambda: treatment.start_session(db, principal, course_id, SessionStart()))
    if done.refused:
        errors = {"session": next(iter(done.errors.values()))}
        return _failed(request, db, principal, patient_id, "consent", errors, {}, done.status)
    return RedirectResponse(f"/sessions/{done.result.id}", status_code=303)
