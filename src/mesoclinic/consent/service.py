"""Consent texts (versioned, never edited), signatures, withdrawal, and the gate a session passes.

Texts belong to a clinic; each publication of a kind is the next version and supersedes the
previous one. Signatures are loaded only for patients the caller may see (``patients.service``).
"""

from __future__ import annotations

import functools
from datetime import datetime
from importlib import resources
from typing import Literal

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mesoclinic.audit import service as audit
from mesoclinic.audit.service import Actor
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.consent import rules
from mesoclinic.consent.schemas import (
    ConsentOverview,
    ConsentRecordRead,
    ConsentRecordStatus,
    ConsentSign,
    ConsentTextCreate,
    ConsentWithdraw,
    DefaultText,
    DefaultTexts,
)
from mesoclinic.consent.typed_signature import typed_signature
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.models import ConsentRecord, ConsentText, Patient, Role
from mesoclinic.patients.service import get_patient, visible_patients

# --- default texts (reference data) ------------------------------------------------------------


@functools.cache
def _defaults() -> DefaultTexts:
    raw = resources.files("mesoclinic.consent").joinpath("data/default_texts.yaml").read_text("utf-8")
    return DefaultTexts.model_validate(yaml.safe_load(raw))


def default_texts() -> tuple[DefaultText, ...]:
    """The built-in first drafts (treatment, photo, marketing), each statement with its source.
    ``text.body`` is what a patient reads."""
    return _defaults().texts


def publish_default_texts(
    db: Session, actor: Actor, clinic_id: int, created_by_user_id: int
) -> list[ConsentText]:
    """Publish the default text of every kind the clinic has none of yet (for the demo seeder and
    new clinics); kinds already published are left alone."""
    published = set(db.scalars(select(ConsentText.kind).where(ConsentText.clinic_id == clinic_id)))
    created = [
        _publish(db, actor, clinic_id, default.kind, default.title, default.body, created_by_user_id)
        for default in default_texts()
        if default.kind not in published
    ]
    return created


# --- texts ---------------------------------------------------------------------------------------


def current_text(db: Session, clinic_id: int, kind: str, at: datetime | None = None) -> ConsentText | None:
    """The version of ``kind`` in force at the clinic at ``at`` (now by default)."""
    return db.scalar(
        select(ConsentText)
        .where(
            ConsentText.clinic_id == clinic_id,
            ConsentText.kind == kind,
            ConsentText.published_at <= (at or utcnow()),
        )
        .order_by(ConsentText.version.desc())
        .limit(1)
    )


def _require_clinic_visible(db: Session, principal: Principal, clinic_id: int) -> None:
    """Staff see their clinics' texts; a patient sees the texts of the clinic that treats them."""
    if principal.role is Role.PATIENT:
        visible = db.scalar(
            visible_patients(principal).with_only_columns(Patient.id).where(Patient.clinic_id == clinic_id)
        )
    else:
        visible = clinic_id if clinic_id in principal.clinic_ids else None
    if visible is None:
        raise NotFound("No such clinic.", code="clinic-not-found")


def _publish(
    db: Session, actor: Actor, clinic_id: int, kind: str, title: str, body: str, user_id: int
) -> ConsentText:
    latest = db.scalar(
        select(func.max(ConsentText.version)).where(
            ConsentText.clinic_id == clinic_id, ConsentText.kind == kind
        )
    )
    text = ConsentText(
        clinic_id=clinic_id,
        kind=kind,
        version=(latest or 0) + 1,
        title=title,
        body=body,
        published_at=utcnow(),
        created_by_user_id=user_id,
    )
    try:
        with db.begin_nested():
            db.add(text)
            db.flush()
    except IntegrityError as error:
        raise Conflict(
            "Another version of this consent was published at the same moment; reload and retry.",
            code="consent-version-taken",
        ) from error
    audit.record(
        db,
        actor,
        "consent_text.published",
        target_type="consent_text",
        target_id=text.id,
        clinic_id=clinic_id,
        details={"kind": kind, "version": text.version},
    )
    return text


def publish_text(db: Session, principal: Principal, clinic_id: int, data: ConsentTextCreate) -> ConsentText:
    """Publish the next version of a consent text (administrators of the clinic only). Earlier
    versions stay as they were; signatures on them no longer count as valid consent."""
    _require_clinic_visible(db, principal, clinic_id)
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only an administrator may publish consent texts.", code="admin-only")
    return _publish(db, principal.actor, clinic_id, data.kind, data.title, data.body, principal.user_id)


def list_texts(
    db: Session, principal: Principal, clinic_id: int, kind: str | None = None
) -> list[tuple[ConsentText, bool]]:
    """Every version (newest first per kind), each flagged whether it is the one in force."""
    _require_clinic_visible(db, principal, clinic_id)
    statement = select(ConsentText).where(ConsentText.clinic_id == clinic_id)
    if kind is not None:
        statement = statement.where(ConsentText.kind == kind)
    texts = list(db.scalars(statement.order_by(ConsentText.kind, ConsentText.version.desc())))
    now = utcnow()
    current: dict[str, int] = {}
    for text in texts:
        if text.published_at <= now and text.kind not in current:
            current[text.kind] = text.id
    return [(text, current.get(text.kind) == text.id) for text in texts]


# --- signatures ----------------------------------------------------------------------------------


def _signature_path(data: ConsentSign) -> str:
    """The signature to store: the drawing, or for ``typed`` the typed name drawn here."""
    if data.signature_method == "typed":
        if data.signature_svg_path:
            raise InvalidInput(
                "Signing by typing adopts the typed name as the signature: send no drawing with it.",
                code="signature-method-conflict",
                field="signature_svg_path",
            )
        return typed_signature(data.typed_name)
    if not data.signature_svg_path:
        raise InvalidInput(
            "Draw the signature, or choose to sign by typing the name.",
            code="signature-missing",
            field="signature_svg_path",
        )
    return data.signature_svg_path


def sign(db: Session, principal: Principal, patient_id: int, data: ConsentSign) -> ConsentRecord:
    """Record the patient's signature on a consent text: by the patient in the portal, or on the
    clinic's tablet with the staff member recorded as witness."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    text = db.scalar(
        select(ConsentText).where(
            ConsentText.id == data.consent_text_id, ConsentText.clinic_id == patient.clinic_id
        )
    )
    if text is None:
        raise NotFound("No such consent text at the patient's clinic.", code="consent-text-not-found")
    witness: int | None = None
    if principal.role is not Role.PATIENT:
        needed = rules.witness_permission(text.kind)
        if not principal.may(needed):
            raise Forbidden(
                f"Your role may not witness {text.kind} consent ({needed.value}).",
                code="permission-denied",
                refusal=Refusal("consent.sign", "patient", str(patient.id), {"kind": text.kind}),
            )
        witness = principal.user_id
    if not rules.typed_name_matches(data.typed_name, patient.given_name, patient.family_name):
        raise InvalidInput(
            "The typed name must be the patient's full name as registered.",
            code="typed-name-mismatch",
            field="typed_name",
        )
    signature = rules.check_signature(_signature_path(data))
    if signature.problem is not None:
        raise InvalidInput(signature.problem, code="invalid-signature", field="signature_svg_path")
    now = utcnow()
    current = current_text(db, patient.clinic_id, text.kind, now)
    if current is None or current.id != text.id:
        raise Conflict(
            f"This is version {text.version} of the {text.kind} consent; "
            f"version {current.version if current else '?'} is now in force. Sign the current version.",
            code=rules.TEXT_SUPERSEDED,
            field="consent_text_id",
            extra={"current_consent_text_id": current.id if current else None},
        )
    decision = _decide(db, patient.id, patient.clinic_id, text.kind, now)
    if decision.valid:
        raise Conflict(
            f"The patient has already signed this {text.kind} consent and has not withdrawn it.",
            code="consent-already-signed",
            extra={"consent_record_id": decision.record_id},
        )
    record = ConsentRecord(
        patient_id=patient.id,
        consent_text_id=text.id,
        kind=text.kind,
        typed_name=" ".join(data.typed_name.split()),
        signature_svg_path=signature.canonical,
        signature_method=data.signature_method,
        signed_at=now,
        witnessed_by_user_id=witness,
    )
    db.add(record)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "consent.signed",
        target_type="consent_record",
        target_id=record.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={
            "kind": text.kind,
            "consent_text_id": text.id,
            "version": text.version,
            "witnessed_by_user_id": witness,
        },
    )
    return record


def withdraw(db: Session, principal: Principal, consent_id: int, data: ConsentWithdraw) -> ConsentRecord:
    """Record the withdrawal of a consent (by the patient, or by staff on their behalf). The
    signature is kept; it simply stops counting from now on."""
    found = db.execute(
        select(ConsentRecord, Patient.clinic_id)
        .join(Patient, Patient.id == ConsentRecord.patient_id)
        .where(
            ConsentRecord.id == consent_id,
            ConsentRecord.patient_id.in_(visible_patients(principal).with_only_columns(Patient.id)),
        )
    ).one_or_none()
    if found is None:
        raise NotFound(
            "No such consent.",
            code="consent-not-found",
            refusal=Refusal("consent.withdraw", "consent_record", str(consent_id)),
        )
    record, clinic_id = found
    if principal.role is not Role.PATIENT and not principal.may(Permission.PATIENT_WRITE):
        raise Forbidden("Your role may not record a withdrawal.", code="permission-denied")
    if record.withdrawn_at is not None:
        raise Conflict(
            f"This consent was already withdrawn on {record.withdrawn_at:%Y-%m-%d}.",
            code="consent-already-withdrawn",
        )
    record.withdrawn_at = utcnow()
    record.withdrawal_reason = data.reason
    db.flush()
    audit.record(
        db,
        principal.actor,
        "consent.withdrawn",
        target_type="consent_record",
        target_id=record.id,
        patient_id=record.patient_id,
        clinic_id=clinic_id,
        details={"kind": record.kind, "by_patient": principal.role is Role.PATIENT},
    )
    return record


def overview(db: Session, principal: Principal, patient_id: int) -> ConsentOverview:
    """Every signature of the patient with its state, and whether each kind of consent holds now."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    now = utcnow()
    rows = list(
        db.execute(
            select(ConsentRecord, ConsentText.version)
            .join(ConsentText, ConsentText.id == ConsentRecord.consent_text_id)
            .where(ConsentRecord.patient_id == patient.id)
            .order_by(ConsentRecord.signed_at.desc(), ConsentRecord.id.desc())
        )
    )
    status: dict[str, rules.ConsentState] = {}
    valid_ids: set[int] = set()
    for kind in rules.KINDS:
        current = current_text(db, patient.clinic_id, kind, now)
        records = [r for r, _ in rows if r.kind == kind]
        decision = rules.consent_decision(records, current.id if current else None, now, kind)
        status[kind] = decision.state
        if decision.valid and decision.record_id is not None:
            valid_ids.add(decision.record_id)
    current_ids = {t.id for t in (current_text(db, patient.clinic_id, k, now) for k in rules.KINDS) if t}
    result = [
        ConsentRecordStatus(
            **ConsentRecordRead.model_validate(record).model_dump(),
            version=version,
            state=_record_state(record, valid_ids, current_ids),
        )
        for record, version in rows
    ]
    audit.record(
        db,
        principal.actor,
        "consent.read",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"consent_record_ids": [r.id for r, _ in rows]},
    )
    return ConsentOverview(patient_id=patient.id, status=status, records=result)


def _record_state(
    record: ConsentRecord, valid_ids: set[int], current_ids: set[int]
) -> Literal["valid", "withdrawn", "superseded", "replaced"]:
    if record.id in valid_ids:
        return "valid"
    if record.withdrawn_at is not None:
        return "withdrawn"
    return "replaced" if record.consent_text_id in current_ids else "superseded"


# --- the gate other domains call ---------------------------------------------------------------


def _decide(db: Session, patient_id: int, clinic_id: int, kind: str, at: datetime) -> rules.ConsentDecision:
    current = current_text(db, clinic_id, kind, at)
    records = db.scalars(
        select(ConsentRecord).where(ConsentRecord.patient_id == patient_id, ConsentRecord.kind == kind)
    )
    return rules.consent_decision(list(records), current.id if current else None, at, kind)


def _patient_clinic(db: Session, patient_id: int) -> int:
    clinic_id = db.scalar(select(Patient.clinic_id).where(Patient.id == patient_id))
    if clinic_id is None:
        raise NotFound("No such patient.", code="patient-not-found")
    return clinic_id


def valid_consent(
    db: Session, patient_id: int, kind: str = "treatment", at: datetime | None = None
) -> ConsentRecord | None:
    """The signature that makes ``kind`` consent valid at ``at`` (now by default), or None.

    Valid means: not withdrawn by then, and signed on the version in force then at the patient's
    clinic. The caller has already checked it may see the patient (``patients.service.get_patient``)."""
    at = at or utcnow()
    decision = _decide(db, patient_id, _patient_clinic(db, patient_id), kind, at)
    return db.get(ConsentRecord, decision.record_id) if decision.valid and decision.record_id else None


def require_valid_consent(db: Session, patient_id: int, kind: str = "treatment") -> ConsentRecord:
    """The valid consent a session relies on; 409 ``consent-missing`` otherwise, the detail saying
    whether there is none, it was withdrawn, or it was signed on a superseded version."""
    now = utcnow()
    decision = _decide(db, patient_id, _patient_clinic(db, patient_id), kind, now)
    if not decision.valid or decision.record_id is None:
        raise Conflict(
            decision.reason,
            code=rules.CONSENT_MISSING,
            extra={"consent_state": decision.state, "kind": kind},
            refusal=Refusal(
                "consent.check", "patient", str(patient_id), {"kind": kind, "consent_state": decision.state}
            ),
        )
    return db.get_one(ConsentRecord, decision.record_id)
