"""Formulations: the proposed cocktail from an assessment, and the practitioner's final decision.

Loaded through ``patients.service.get_patient`` (the access check); every proposal, decision and
read is audited with ids and rule codes only (never ingredient names or clinical text).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.assessment import rules as assessment_rules
from mesoclinic.assessment import service as assessment_service
from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.formulation import rules
from mesoclinic.formulation.schemas import ClinicIngredientCreate, FormulationCreate, FormulationDecide
from mesoclinic.models import ClinicIngredient, Formulation, Patient, SkinAssessment
from mesoclinic.patients.service import get_patient

PROPOSED = "proposed"
FINAL = "final"


def _require_clinical(principal: Principal) -> None:
    if not principal.may(Permission.CLINICAL_WRITE):
        raise Forbidden("Only practitioners decide formulations.", code="permission-denied")


# --------------------------------------------------------------------------- catalogue


def clinic_extras(db: Session, clinic_id: int) -> list[rules.Ingredient]:
    """One clinic's additions to the catalogue, as rule inputs."""
    rows = db.scalars(
        select(ClinicIngredient)
        .where(ClinicIngredient.clinic_id == clinic_id)
        .order_by(ClinicIngredient.code)
    )
    return [
        rules.Ingredient(
            code=row.code,
            name=row.name,
            ingredient_class=row.ingredient_class,
            concerns=tuple(row.concerns),
            incompatible_with=tuple(row.incompatible_with),
            evidence="clinic",
            evidence_note="Added by the clinic.",
            source=row.source,
            clinic_id=row.clinic_id,
        )
        for row in rows
    ]


def catalogue_for(
    db: Session, principal: Principal, clinic_id: int | None = None
) -> tuple[rules.Catalogue, int | None]:
    """The built-in catalogue with one of the caller's clinics' extensions (default: the active one)."""
    if clinic_id is not None and clinic_id not in principal.clinic_ids:
        raise NotFound("No such clinic.", code="clinic-not-found")
    chosen = clinic_id if clinic_id is not None else principal.active_clinic_id
    base = rules.catalogue()
    if chosen is None:
        return base, None
    return base.with_extras(clinic_extras(db, chosen)), chosen


def add_clinic_ingredient(
    db: Session, principal: Principal, clinic_id: int, data: ClinicIngredientCreate
) -> rules.Ingredient:
    """Extend (or override by code) the catalogue for one clinic; practitioners and admins of it only."""
    _require_clinical(principal)
    if clinic_id not in principal.clinic_ids:
        raise Forbidden("You do not work at that clinic.", code="clinic-not-yours")
    known_concerns = assessment_rules.concern_codes()
    problems = [
        assessment_rules.Problem("unknown-concern", f"concerns.{i}", f"Unknown concern {c!r}.")
        for i, c in enumerate(data.concerns)
        if c not in known_concerns
    ]
    known_codes = {*rules.catalogue().by_code(), *(i.code for i in clinic_extras(db, clinic_id)), data.code}
    problems += [
        assessment_rules.Problem("unknown-ingredient", f"incompatible_with.{i}", f"Unknown ingredient {c!r}.")
        for i, c in enumerate(data.incompatible_with)
        if c not in known_codes or c == data.code
    ]
    assessment_service.raise_problems(problems)
    taken = db.scalar(
        select(ClinicIngredient.id).where(
            ClinicIngredient.clinic_id == clinic_id, ClinicIngredient.code == data.code
        )
    )
    if taken is not None:
        raise Conflict(
            "This clinic already has an ingredient with that code.",
            code="ingredient-code-taken",
            field="code",
        )
    row = ClinicIngredient(
        clinic_id=clinic_id,
        code=data.code,
        name=data.name,
        ingredient_class=data.ingredient_class,
        concerns=list(dict.fromkeys(data.concerns)),
        incompatible_with=list(dict.fromkeys(data.incompatible_with)),
        source=data.source,
    )
    db.add(row)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "ingredient.created",
        target_type="clinic_ingredient",
        target_id=row.id,
        clinic_id=clinic_id,
        details={"code": row.code, "overrides_builtin": row.code in rules.catalogue().by_code()},
    )
    return next(i for i in clinic_extras(db, clinic_id) if i.code == row.code)


# --------------------------------------------------------------------------- formulations


def _audit(
    db: Session,
    principal: Principal,
    action: str,
    formulation: Formulation,
    patient: Patient,
    details: dict[str, object] | None = None,
) -> None:
    audit.record(
        db,
        principal.actor,
        action,
        target_type="formulation",
        target_id=formulation.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details=details,
    )


def propose_formulation(
    db: Session, principal: Principal, patient_id: int, data: FormulationCreate
) -> Formulation:
    """Propose a cocktail from one of the patient's assessments, cross-checked against their allergies."""
    _require_clinical(principal)
    patient = get_patient(db, principal, patient_id, audit_read=False)
    assessment = db.get(SkinAssessment, data.assessment_id)
    if assessment is None or assessment.patient_id != patient.id:
        raise InvalidInput(
            "No such assessment for this patient.", code="assessment-not-found", field="assessment_id"
        )
    assessment = assessment_service.get_assessment(db, principal, assessment.id, audit_read=False)
    proposal = rules.propose(
        assessment_service.concern_severity(assessment),
        [a.substance for a in patient.allergies],
        clinic_extras(db, patient.clinic_id),
    )
    formulation = Formulation(
        patient_id=patient.id,
        assessment_id=assessment.id,
        status=PROPOSED,
        proposed=[i.as_dict() for i in proposal.ingredients],
        warnings=[w.as_dict() for w in proposal.warnings],
        created_at=utcnow(),
        created_by_user_id=principal.user_id,
    )
    db.add(formulation)
    db.flush()
    _audit(
        db,
        principal,
        "formulation.proposed",
        formulation,
        patient,
        {"assessment_id": assessment.id, "warning_codes": sorted({w.code for w in proposal.warnings})},
    )
    return formulation


def _visible(db: Session, principal: Principal, formulation_id: int) -> tuple[Formulation, Patient]:
    formulation = db.get(Formulation, formulation_id)
    patient: Patient | None = None
    if formulation is not None:
        try:
            patient = get_patient(db, principal, formulation.patient_id, audit_read=False)
        except NotFound:
            patient = None
    if formulation is None or patient is None:
        raise NotFound(
            "No such formulation.",
            code="formulation-not-found",
            refusal=Refusal("formulation.read", "formulation", str(formulation_id)),
        )
    return formulation, patient


def get_formulation(
    db: Session, principal: Principal, formulation_id: int, *, audit_read: bool = True
) -> Formulation:
    """One formulation the caller may see (404 otherwise, so existence does not leak)."""
    formulation, patient = _visible(db, principal, formulation_id)
    if audit_read:
        _audit(db, principal, "formulation.read", formulation, patient)
    return formulation


def list_formulations(db: Session, principal: Principal, patient_id: int) -> list[Formulation]:
    """A patient's formulations, newest first."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    found = list(
        db.scalars(
            select(Formulation)
            .where(Formulation.patient_id == patient.id)
            .order_by(Formulation.created_at.desc(), Formulation.id.desc())
        )
    )
    audit.record(
        db,
        principal.actor,
        "formulation.listed",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"formulation_ids": [f.id for f in found]},
    )
    return found


def decide(db: Session, principal: Principal, formulation_id: int, data: FormulationDecide) -> Formulation:
    """Record the practitioner's final cocktail and who decided. A final formulation is never
    changed: a change is a new formulation."""
    _require_clinical(principal)
    formulation, patient = _visible(db, principal, formulation_id)
    if formulation.status == FINAL:
        raise Conflict(
            "This formulation is already final; propose a new one to change it.",
            code="formulation-already-final",
        )
    codes = [item.code for item in data.final]
    issues = rules.check(
        codes,
        [a.substance for a in patient.allergies],
        clinic_extras(db, patient.clinic_id),
        acknowledge_incompatible=data.acknowledge_incompatible,
    )
    invalid = [i for i in issues if i.blocking == "invalid"]
    assessment_service.raise_problems([assessment_rules.Problem(i.code, i.field, i.message) for i in invalid])
    if conflicts := [i for i in issues if i.blocking == "conflict"]:
        raise Conflict(
            conflicts[0].message + " Acknowledge it to proceed anyway.",
            code="incompatible-ingredients",
            field="final",
            extra={
                "pairs": [list(i.ingredients) for i in conflicts],
                "sources": [i.source for i in conflicts],
            },
        )
    acknowledged = [
        rules.ProposalWarning(i.code, i.message, i.ingredients, i.source).as_dict()
        for i in issues
        if i.blocking == "none"
    ]
    formulation.final = [item.model_dump() for item in data.final]
    formulation.status = FINAL
    formulation.decided_at = utcnow()
    formulation.decided_by_user_id = principal.user_id
    formulation.decision_note = data.note
    formulation.warnings = [*formulation.warnings, *acknowledged]
    db.flush()
    _audit(
        db,
        principal,
        "formulation.decided",
        formulation,
        patient,
        {"ingredient_count": len(codes), "acknowledged": [w["code"] for w in acknowledged]},
    )
    return formulation


def final_ingredients(
    db: Session, principal: Principal, formulation_id: int
) -> list[tuple[str, tuple[str, ...]]]:
    """``[(code, names)]`` of a FINAL formulation, names including synonyms, for allergy matching
    (screening). Access-checked (404); a formulation not yet decided is a 409 ``formulation-not-final``.
    Not audited here: the caller records its own use."""
    formulation, patient = _visible(db, principal, formulation_id)
    if formulation.status != FINAL or formulation.final is None:
        raise Conflict("This formulation has not been decided yet.", code="formulation-not-final")
    table = rules.catalogue().with_extras(clinic_extras(db, patient.clinic_id)).by_code()
    result: list[tuple[str, tuple[str, ...]]] = []
    for item in formulation.final:
        code = str(item["code"])
        ingredient = table.get(code)
        result.append((code, ingredient.names if ingredient else (code,)))
    return result
