"""Screening use cases: run the rules over the latest intake, store the result, record overrides,
and tell later steps (booking, the session) whether treatment may go ahead.

Results are read only through the patient's access scope (``visible_patients``): a screening of
a patient the caller may not see is "not found", like the patient.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Principal
from mesoclinic.clinics import clinic_today
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.models import Intake, Patient, Role, ScreeningOverride, ScreeningResult
from mesoclinic.patients import service as patients
from mesoclinic.patients.schemas import stored_answers
from mesoclinic.screening import rules
from mesoclinic.screening.ruleset import Ruleset, default_ruleset

MIN_OVERRIDE_REASON = 10
OVERRIDER_ROLES = frozenset({Role.PRACTITIONER, Role.ADMIN})
MAX_RESULTS = 100


def _staff_only(principal: Principal, action: str, patient_id: int | str) -> None:
    if not principal.is_staff:
        raise Forbidden(
            "Screening is done by clinic staff.",
            code="staff-only",
            refusal=Refusal(action, "patient", str(patient_id)),
        )


def screening_input(
    patient: Patient, intake: Intake, planned_ingredients: Iterable[rules.PlannedIngredient] = ()
) -> rules.ScreeningInput:
    """What the rules look at: the intake answers and the patient's recorded history (which
    includes what that intake declared). ``patient`` must have its history loaded."""
    return rules.ScreeningInput(
        answers=stored_answers(intake.answers_version, intake.answers),
        medications=tuple(
            rules.MedicationFact(m.name, m.drug_class, m.started_on, m.stopped_on)
            for m in patient.medications
        ),
        allergies=tuple(rules.AllergyFact(a.substance, a.reaction) for a in patient.allergies),
        procedures=tuple(
            rules.ProcedureFact(p.procedure, p.category, p.performed_on) for p in patient.previous_procedures
        ),
        planned_ingredients=tuple(planned_ingredients),
    )


def run_screening(
    db: Session,
    principal: Principal,
    patient_id: int,
    *,
    planned_ingredients: Iterable[rules.PlannedIngredient | tuple[str, Iterable[str]]] = (),
    on_date: date | None = None,
    ruleset: Ruleset | None = None,
) -> ScreeningResult:
    """Screen the patient's latest intake and current history for ``on_date`` (default today),
    store the findings and audit it. Run again before every session: circumstances change."""
    _staff_only(principal, "screening.performed", patient_id)
    patient = patients.get_patient(db, principal, patient_id, audit_read=False)
    intake = patients.latest_intake(db, principal, patient.id, audit_read=False)
    if intake is None:
        raise Conflict(
            "Screening needs an intake: submit the intake questionnaire first.",
            code="intake-missing",
            refusal=Refusal("screening.performed", "patient", str(patient.id)),
        )
    ruleset = ruleset or default_ruleset()
    planned = tuple(rules.PlannedIngredient.coerce(i) for i in planned_ingredients)
    decision = rules.screen(
        screening_input(patient, intake, planned),
        ruleset,
        on_date or clinic_today(db, patient.clinic_id),
    )
    result = ScreeningResult(
        patient_id=patient.id,
        intake_id=intake.id,
        performed_by_user_id=principal.user_id,
        ruleset_version=decision.ruleset_version,
        screened_on=decision.on_date,
        planned_ingredient_codes=sorted({i.code for i in planned}),
        outcome=decision.outcome,
        findings=[f.as_json() for f in decision.findings],
    )
    db.add(result)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "screening.performed",
        target_type="screening",
        target_id=result.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={
            "intake_id": intake.id,
            "ruleset_version": decision.ruleset_version,
            "on_date": decision.on_date.isoformat(),
            "outcome": decision.outcome,
            "findings": len(decision.findings),
            "planned_ingredients": [i.code for i in planned],
        },
    )
    return result


def get_screening(
    db: Session,
    principal: Principal,
    screening_id: int,
    *,
    audit_read: bool = True,
    action: str = "screening.read",
) -> ScreeningResult:
    visible_patient_ids = patients.visible_patients(principal).with_only_columns(Patient.id)
    result = db.scalar(
        select(ScreeningResult).where(
            ScreeningResult.id == screening_id, ScreeningResult.patient_id.in_(visible_patient_ids)
        )
    )
    if result is None or not principal.is_staff:
        # A patient's own screening is not shown to them either: it is the clinician's tool.
        raise NotFound(
            "No such screening.",
            code="screening-not-found",
            refusal=Refusal(action, "screening", str(screening_id)),
        )
    if audit_read:
        _audit_read(db, principal, result)
    return result


def _audit_read(db: Session, principal: Principal, result: ScreeningResult) -> None:
    audit.record(
        db,
        principal.actor,
        "screening.read",
        target_type="screening",
        target_id=result.id,
        patient_id=result.patient_id,
    )


def list_screenings(db: Session, principal: Principal, patient_id: int) -> list[ScreeningResult]:
    """A patient's screenings, newest first."""
    _staff_only(principal, "screening.read", patient_id)
    patient = patients.get_patient(db, principal, patient_id, audit_read=False)
    results = list(
        db.scalars(
            select(ScreeningResult)
            .where(ScreeningResult.patient_id == patient.id)
            .order_by(ScreeningResult.performed_at.desc(), ScreeningResult.id.desc())
            .limit(MAX_RESULTS)
        )
    )
    audit.record(
        db,
        principal.actor,
        "screening.read",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"screening_ids": [r.id for r in results]},
    )
    return results


def latest_screening(db: Session, principal: Principal, patient_id: int) -> ScreeningResult | None:
    """The patient's most recent screening, or ``None`` if they were never screened."""
    _staff_only(principal, "screening.read", patient_id)
    patient = patients.get_patient(db, principal, patient_id, audit_read=False)
    result = db.scalar(
        select(ScreeningResult)
        .where(ScreeningResult.patient_id == patient.id)
        .order_by(ScreeningResult.performed_at.desc(), ScreeningResult.id.desc())
        .limit(1)
    )
    if result is not None:
        _audit_read(db, principal, result)
    return result


def overrides_of(db: Session, result: ScreeningResult) -> list[ScreeningOverride]:
    return list(
        db.scalars(
            select(ScreeningOverride)
            .where(ScreeningOverride.screening_result_id == result.id)
            .order_by(ScreeningOverride.id)
        )
    )


def findings_of(result: ScreeningResult) -> list[rules.Finding]:
    return [rules.Finding.from_json(f) for f in result.findings]


def clearance(db: Session, result: ScreeningResult) -> rules.Clearance:
    return rules.clearance(findings_of(result), (o.rule_code for o in overrides_of(db, result)))


def add_override(
    db: Session, principal: Principal, screening_id: int, rule_code: str, reason: str
) -> ScreeningOverride:
    """A practitioner's documented decision to treat despite a relative contraindication.

    Only practitioners (and administrators) may override, only relative findings can be
    overridden, and the reason must say something (at least 10 characters).
    """
    refusal = Refusal("screening.overridden", "screening", str(screening_id), {"rule_code": rule_code})
    result = get_screening(db, principal, screening_id, audit_read=False, action="screening.overridden")
    if principal.role not in OVERRIDER_ROLES:
        raise Forbidden(
            "Only a practitioner may override a contraindication.", code="practitioner-only", refusal=refusal
        )
    finding = next((f for f in findings_of(result) if f.code == rule_code), None)
    if finding is None:
        raise InvalidInput(
            f"This screening has no finding {rule_code!r} to override.",
            code="unknown-rule",
            field="rule_code",
            refusal=refusal,
        )
    if finding.kind != "relative":
        raise Conflict(
            f"{rule_code} is an {finding.kind} contraindication: it cannot be overridden.",
            code="not-overridable",
            field="rule_code",
            extra={"rule_code": rule_code, "kind": finding.kind},
            refusal=refusal,
        )
    reason = reason.strip()
    if len(reason) < MIN_OVERRIDE_REASON:
        raise InvalidInput(
            f"Give the reason for overriding in at least {MIN_OVERRIDE_REASON} characters.",
            code="reason-too-short",
            field="reason",
            refusal=refusal,
        )
    if any(o.rule_code == rule_code for o in overrides_of(db, result)):
        raise Conflict(
            f"{rule_code} is already overridden on this screening.",
            code="already-overridden",
            field="rule_code",
            refusal=refusal,
        )
    override = ScreeningOverride(
        screening_result_id=result.id,
        rule_code=rule_code,
        practitioner_user_id=principal.user_id,
        reason=reason,
    )
    db.add(override)
    try:
        db.flush()
    except IntegrityError as error:  # a concurrent override of the same finding won the race
        raise Conflict(
            f"{rule_code} is already overridden on this screening.",
            code="already-overridden",
            field="rule_code",
        ) from error
    audit.record(
        db,
        principal.actor,
        "screening.overridden",
        target_type="screening",
        target_id=result.id,
        patient_id=result.patient_id,
        details={"override_id": override.id, "rule_code": rule_code},
    )
    return override


def require_cleared(db: Session, result: ScreeningResult, *, action: str = "screening.clearance") -> None:
    """Refuse to go ahead (409) unless this screening lets treatment proceed.

    ``contraindicated``: an absolute or defer finding applies; ``extra`` names the rule codes and
    ``reconsider_on``, the first day none of them applies (``null`` if not a matter of waiting).
    ``override-required``: relative findings without a practitioner's override. The refusal is
    audited under ``action`` (the caller's: e.g. ``appointment.booked``).
    """
    state = clearance(db, result)
    refusal = Refusal(action, "screening", str(result.id))
    if state.blocking:
        codes = [f.code for f in state.blocking]
        reconsider = state.reconsider_on
        when = f" Reconsider on {reconsider.isoformat()}." if reconsider else ""
        raise Conflict(
            f"Treatment is contraindicated ({', '.join(codes)}).{when}",
            code="contraindicated",
            extra={
                "rule_codes": codes,
                "reconsider_on": reconsider.isoformat() if reconsider else None,
                "screening_id": result.id,
            },
            refusal=refusal,
        )
    if state.needs_override:
        codes = [f.code for f in state.needs_override]
        raise Conflict(
            f"A practitioner must document an override for: {', '.join(codes)}.",
            code="override-required",
            extra={"rule_codes": codes, "screening_id": result.id},
            refusal=refusal,
        )
