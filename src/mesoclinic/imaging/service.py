"""Imaging use cases: photo intake, reading photos, analysing them and comparing two visits.

Every use case loads the patient through ``patients.service.get_patient`` (the access check: 404
outside the caller's scope) and audits what it did with ids only. Services never commit; the
encrypted files are written last, after the row is flushed, and removed again if anything fails
before the service returns.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date
from typing import Literal, cast
from zoneinfo import ZoneInfo

from PIL import Image
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Principal
from mesoclinic.consent.service import valid_consent
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, Refusal
from mesoclinic.imaging import intake, rules
from mesoclinic.imaging.landmarks import LandmarkDetector, default_detector
from mesoclinic.imaging.schemas import CaptureConditions, PhotoComparison
from mesoclinic.imaging.storage import DISPLAY_SUFFIX, MediaStore, new_storage_key
from mesoclinic.models import Clinic, Patient, Photo, PhotoAnalysis, TreatmentSession
from mesoclinic.patients.service import get_patient

ImageSize = Literal["display", "original"]


def parse_capture_conditions(raw: str) -> CaptureConditions:
    """The multipart ``capture_conditions`` field (a JSON object; empty means nothing declared)."""
    try:
        return CaptureConditions.model_validate_json(raw or "{}")
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(
            f"capture_conditions: {first['msg']}" + (f" ({where})" if where else ""),
            code="invalid-capture-conditions",
            field="capture_conditions",
        ) from error


def _clinic_today(db: Session, clinic_id: int) -> date:
    clinic = db.get(Clinic, clinic_id)
    return utcnow().astimezone(ZoneInfo(clinic.timezone if clinic else "UTC")).date()


def upload_photo(
    db: Session,
    principal: Principal,
    store: MediaStore,
    patient_id: int,
    *,
    data: bytes,
    max_bytes: int,
    view: rules.View,
    visit_on: date,
    capture_conditions: CaptureConditions,
    session_id: int | None = None,
    detector: LandmarkDetector | None = None,
) -> Photo:
    """Take in one standard-view photo under the patient's valid photo consent.

    Order of refusals: not visible (404), no valid photo consent (409), too large (413), not
    JPEG/PNG (415), bomb/absurd dimensions/unreadable/no face/several faces (422). Nothing is
    stored on refusal."""
    from mesoclinic.imaging import analysis  # scikit-image/SciPy: loaded on first use, not at start-up

    patient = get_patient(db, principal, patient_id, audit_read=False)
    consent = valid_consent(db, patient.id, "photo")
    if consent is None:
        raise Conflict(
            "The patient has no valid photo consent: they must sign the current photo consent first.",
            code=rules.PHOTO_CONSENT_MISSING,
            refusal=Refusal(
                "photo.create", "patient", str(patient.id), {"reason": rules.PHOTO_CONSENT_MISSING}
            ),
        )
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"Photos are limited to {max_bytes} bytes.", code=rules.PHOTO_TOO_LARGE, field="file"
        )
    if problem := rules.visit_problem(visit_on, _clinic_today(db, patient.clinic_id)):
        raise InvalidInput(problem.reason, code=problem.code, field="visit_on")
    if session_id is not None:
        session = db.get(TreatmentSession, session_id)
        if session is None or session.patient_id != patient.id:
            raise InvalidInput("No such treatment session for this patient.", field="session_id")
    clean = intake.clean(data)
    face_frame = analysis.frame(clean.image, detector or default_detector())
    quality = analysis.capture_quality(face_frame, view)
    if clean.icc_converted:
        quality["icc_converted_to_srgb"] = True
    key = new_storage_key()
    photo = Photo(
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        session_id=session_id,
        consent_record_id=consent.id,
        visit_on=visit_on,
        view=view,
        capture_conditions=capture_conditions.model_dump(exclude_none=True),
        storage_key=key,
        sha256=hashlib.sha256(clean.original).hexdigest(),
        media_type=clean.media_type,
        width=clean.image.width,
        height=clean.image.height,
        quality=quality,
        created_by_user_id=principal.user_id,
    )
    db.add(photo)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "photo.created",
        target_type="photo",
        target_id=photo.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"view": view, "consent_record_id": consent.id, "session_id": session_id},
    )
    try:
        store.put(key, clean.original)
        store.put(key + DISPLAY_SUFFIX, clean.display)
    except BaseException:
        store.delete(key)
        store.delete(key + DISPLAY_SUFFIX)
        raise
    return photo


def list_photos(db: Session, principal: Principal, patient_id: int) -> list[Photo]:
    """The patient's photos, newest visit first."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    photos = list(
        db.scalars(
            select(Photo)
            .where(Photo.patient_id == patient.id)
            .order_by(Photo.visit_on.desc(), Photo.id.desc())
        )
    )
    audit.record(
        db,
        principal.actor,
        "photo.listed",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"photo_ids": [p.id for p in photos]},
    )
    return photos


def _visible_photo(db: Session, principal: Principal, photo_id: int, action: str) -> tuple[Photo, Patient]:
    """The photo if the caller may see its patient; the same 404 whether it is absent or out of reach."""
    photo = db.get(Photo, photo_id)
    missing = NotFound(
        "No such photo.", code="photo-not-found", refusal=Refusal(action, "photo", str(photo_id))
    )
    if photo is None:
        raise missing
    try:
        patient = get_patient(db, principal, photo.patient_id, audit_read=False)
    except NotFound as error:
        raise missing from error
    return photo, patient


def _audit_photo(
    db: Session, principal: Principal, action: str, photo: Photo, details: dict[str, object] | None = None
) -> None:
    audit.record(
        db,
        principal.actor,
        action,
        target_type="photo",
        target_id=photo.id,
        patient_id=photo.patient_id,
        clinic_id=photo.clinic_id,
        details=details,
    )


def get_photo(db: Session, principal: Principal, photo_id: int) -> Photo:
    photo, _ = _visible_photo(db, principal, photo_id, "photo.read")
    _audit_photo(db, principal, "photo.read", photo)
    return photo


def read_image(
    db: Session, principal: Principal, store: MediaStore, photo_id: int, size: ImageSize
) -> tuple[bytes, str]:
    """The decrypted image bytes and their media type (the display copy is always JPEG)."""
    photo, _ = _visible_photo(db, principal, photo_id, "photo.image_read")
    _audit_photo(db, principal, "photo.image_read", photo, {"size": size})
    if size == "display":
        return store.get(photo.storage_key + DISPLAY_SUFFIX), "image/jpeg"
    return store.get(photo.storage_key), photo.media_type


def analyse_photo(
    db: Session,
    principal: Principal,
    store: MediaStore,
    photo_id: int,
    detector: LandmarkDetector | None = None,
) -> PhotoAnalysis:
    """Measure the stored original (landmarks → alignment → zones → metrics) and keep the result."""
    from mesoclinic.imaging import analysis  # scikit-image/SciPy: loaded on first use, not at start-up

    photo, _ = _visible_photo(db, principal, photo_id, "photo.analysed")
    image = Image.open(io.BytesIO(store.get(photo.storage_key)))
    result = analysis.analyse(image, detector or default_detector(), cast(rules.View, photo.view))
    row = PhotoAnalysis(
        photo_id=photo.id,
        method_version=analysis.METHOD_VERSION,
        zones=result.zones,
        quality=result.quality,
        alignment=result.alignment,
    )
    db.add(row)
    db.flush()
    _audit_photo(db, principal, "photo.analysed", photo, {"analysis_id": row.id})
    return row


def latest_analysis(db: Session, photo_id: int) -> PhotoAnalysis | None:
    return db.scalar(
        select(PhotoAnalysis)
        .where(PhotoAnalysis.photo_id == photo_id)
        .order_by(PhotoAnalysis.id.desc())
        .limit(1)
    )


def compare_photos(
    db: Session, principal: Principal, patient_id: int, before_id: int, after_id: int
) -> PhotoComparison:
    """Per-zone deltas between two analysed photos of one patient, each judged against the
    metric's smallest real change; the pair is flagged when alignment or pose make it unreliable."""
    from mesoclinic.imaging import analysis  # scikit-image/SciPy: loaded on first use, not at start-up

    patient = get_patient(db, principal, patient_id, audit_read=False)
    analyses: list[PhotoAnalysis] = []
    for field, photo_id in (("before", before_id), ("after", after_id)):
        photo = db.get(Photo, photo_id)
        if photo is None or photo.patient_id != patient.id:
            raise NotFound(f"No such photo of this patient ({field}).", code="photo-not-found", field=field)
        found = latest_analysis(db, photo.id)
        if found is None:
            raise Conflict(
                f"The {field} photo has not been analysed yet: "
                f"POST /api/v1/photos/{photo.id}/analysis first.",
                code=rules.NOT_ANALYSED,
                field=field,
            )
        analyses.append(found)
    before, after = analyses
    result = analysis.compare(before.zones, before.alignment, after.zones, after.alignment)
    audit.record(
        db,
        principal.actor,
        "photo.compared",
        target_type="patient",
        target_id=patient.id,
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        details={"before_photo_id": before_id, "after_photo_id": after_id},
    )
    return PhotoComparison(
        patient_id=patient.id,
        before_photo_id=before_id,
        after_photo_id=after_id,
        before_analysis_id=before.id,
        after_analysis_id=after.id,
        **result,
    )
