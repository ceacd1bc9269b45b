"""Skin assessments: record graded findings per zone, with the advice the rules produce.

Every read and write goes through ``patients.service.get_patient`` (the access check) and is
audited with ids only.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mesoclinic.assessment import rules
from mesoclinic.assessment.schemas import AssessmentCreate
from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.models import AssessmentFinding, Patient, SkinAssessment
from mesoclinic.patients.service import get_patient


def raise_problems(problems: Sequence[rules.Problem]) -> None:
    """Refuse with the first problem, listing all of them (same shape as request validation)."""
    if problems:
        first = problems[0]
        raise InvalidInput(
            first.message,
            code=first.code,
            field=first.field,
            extra={"errors": [{"field": p.field, "code": p.code, "message": p.message} for p in problems]},
        )


def as_findings(assessment: SkinAssessment) -> list[rules.Finding]:
    return [
        rules.Finding(
            concern=f.concern,
            zone=f.zone,
            side=f.side,  # type: ignore[arg-type]  # stored only after validation
            scale=f.scale,
            value=f.value,
            method=f.method,
            components=f.components,
        )
        for f in assessment.findings
    ]


def concern_severity(assessment: SkinAssessment) -> dict[str, float]:
    """The assessed concerns, most severe first (0–1): what the formulation proposal starts from."""
    return rules.concern_severity(as_findings(assessment), assessment.glogau)


def _require_clinical(principal: Principal) -> None:
    if not principal.may(Permission.CLINICAL_WRITE):
        raise Forbidden("Only practitioners record clinical assessments.", code="permission-denied")


def create_assessment(
    db: Session, principal: Principal, patient_id: int, data: AssessmentCreate
) -> SkinAssessment:
    """Validate every finding against its scale, compute MASI/mMASI, derive the advice, store."""
    _require_clinical(principal)
    patient = get_patient(db, principal, patient_id, audit_read=False)
    findings, problems = rules.check_findings(
        [
            rules.FindingInput(
                concern=f.concern,
                zone=f.zone,
                scale=f.scale,
                value=f.value,
                side=f.side,
                method=f.method,
                components=f.components,
            )
            for f in data.findings
        ]
    )
    raise_problems([*rules.check_goals(data.goals), *problems])
    assessment = SkinAssessment(
        patient_id=patient.id,
        assessed_at=utcnow(),
        assessor_user_id=principal.user_id,
        glogau=data.glogau,
        fitzpatrick=data.fitzpatrick,
        goals=list(data.goals),
        notes=data.notes,
        advice=[a.as_dict() for a in rules.advice(data.glogau, data.goals, findings, data.fitzpatrick)],
    )
    db.add(assessment)
    db.flush()
    db.add_all(
        AssessmentFinding(
            assessment_id=assessment.id,
            concern=f.concern,
            zone=f.zone,
            side=f.side,
            scale=f.scale,
            value=f.value,
            method=f.method,
            components=dict(f.components),
        )
        for f in findings
    )
    db.flush()
    audit.record(
        db,
        principal.actor,
        "assessment.created",
        target_type="skin_assessment",
        target_id=assessment.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"findings": len(findings), "advice": [a["code"] for a in assessment.advice]},
    )
    return _load(db, assessment.id)


def _load(db: Session, assessment_id: int) -> SkinAssessment:
    found = db.scalar(
        select(SkinAssessment)
        .where(SkinAssessment.id == assessment_id)
        .options(selectinload(SkinAssessment.findings))
        .execution_options(populate_existing=True)
    )
    if found is None:  # pragma: no cover - callers checked existence
        raise NotFound("No such assessment.", code="assessment-not-found")
    return found


def get_assessment(
    db: Session, principal: Principal, assessment_id: int, *, audit_read: bool = True
) -> SkinAssessment:
    """One assessment with its findings; outside the caller's scope it does not exist (404)."""
    assessment = db.get(SkinAssessment, assessment_id)
    patient: Patient | None = None
    if assessment is not None:
        try:
            patient = get_patient(db, principal, assessment.patient_id, audit_read=False)
        except NotFound:
            patient = None
    if assessment is None or patient is None:
        raise NotFound(
            "No such assessment.",
            code="assessment-not-found",
            refusal=Refusal("assessment.read", "skin_assessment", str(assessment_id)),
        )
    if audit_read:
        audit.record(
            db,
            principal.actor,
            "assessment.read",
            target_type="skin_assessment",
            target_id=assessment.id,
            patient_id=patient.id,
            clinic_id=patient.clinic_id,
        )
    return _load(db, assessment.id)


def list_assessments(db: Session, principal: Principal, patient_id: int) -> list[SkinAssessment]:
    """A patient's assessments, newest first."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    assessments = list(
        db.scalars(
            select(SkinAssessment)
            .where(SkinAssessment.patient_id == patient.id)
            .options(selectinload(SkinAssessment.findings))
            .order_by(SkinAssessment.assessed_at.desc(), SkinAssessment.id.desc())
        )
    )
    audit.record(
        db,
        principal.actor,
        "assessment.listed",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"assessment_ids": [a.id for a in assessments]},
    )
    return assessments
