"""Imaging use cases: photo intake, reading photos, analysing them and comparing two visits.

Every use case loads the patient through ``patients.service.get_patient`` (the access check: 404
outside the caller's scope) and audits what it did with ids only. Services never commit; the
encrypted files are written last, after the row is flushed, and removed again if anything fails
before the service returns.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, cast
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
from mesoclinic.imaging.schemas import CaptureConditions, GhostGuides, PhotoComparison
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
    JPEG/PNG/HEIC (415), bomb/absurd dimensions/unreadable/no face/several faces (422). Nothing is
    stored on refusal. A HEIC upload is stored as JPEG (see ``intake``); ``quality`` then records
    ``converted_from``."""
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
    quality = analysis.intake_quality(clean.image, detector or default_detector(), view)
    if clean.icc_converted:
        quality["icc_converted_to_srgb"] = True
    if clean.source_media_type != clean.media_type:
        quality["converted_from"] = clean.source_media_type
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


def analysed_photo_ids(db: Session, photo_ids: Iterable[int]) -> set[int]:
    """Which of these photos have been analysed (one query for a whole list of photos)."""
    ids = list(photo_ids)
    if not ids:
        return set()
    return set(db.scalars(select(PhotoAnalysis.photo_id).where(PhotoAnalysis.photo_id.in_(ids)).distinct()))


def _analysed(db: Session, photo: Photo, field: str) -> PhotoAnalysis:
    """The photo's latest analysis; 409 ``photo-not-analysed`` when it has none."""
    found = latest_analysis(db, photo.id)
    if found is None:
        raise Conflict(
            f"The {field} photo has not been analysed yet: POST /api/v1/photos/{photo.id}/analysis first.",
            code=rules.NOT_ANALYSED,
            field=field,
        )
    return found


def _patient_photo(db: Session, principal: Principal, patient: Patient, photo_id: int, field: str) -> Photo:
    """A photo named in the query for ``patient``: 404 when the caller cannot see it (whoever it
    belongs to), 422 ``photo-of-another-patient`` when it is visible but of someone else."""
    photo = db.get(Photo, photo_id)
    missing = NotFound(
        f"No such photo ({field}).",
        code="photo-not-found",
        field=field,
        refusal=Refusal("photo.read", "photo", str(photo_id)),
    )
    if photo is None:
        raise missing
    if photo.patient_id != patient.id:
        try:
            get_patient(db, principal, photo.patient_id, audit_read=False)
        except NotFound as error:
            raise missing from error
        raise InvalidInput(
            f"The {field} photo is of another patient.",
            code=rules.OTHER_PATIENT,
            field=field,
            refusal=Refusal("photo.compared", "photo", str(photo_id), {"reason": rules.OTHER_PATIENT}),
        )
    return photo


@dataclass(frozen=True)
class _Pair:
    patient: Patient
    before: tuple[Photo, PhotoAnalysis]
    after: tuple[Photo, PhotoAnalysis]
    #: ``analysis.compare`` of the two latest analyses: reliable, flags, pair_residual_iod, zones.
    comparison: dict[str, Any]


def _pair(db: Session, principal: Principal, patient_id: int, before_id: int, after_id: int) -> _Pair:
    from mesoclinic.imaging import analysis  # scikit-image/SciPy: loaded on first use, not at start-up

    patient = get_patient(db, principal, patient_id, audit_read=False)
    before = _patient_photo(db, principal, patient, before_id, "before")
    after = _patient_photo(db, principal, patient, after_id, "after")
    before_analysis, after_analysis = _analysed(db, before, "before"), _analysed(db, after, "after")
    comparison = analysis.compare(before_analysis, after_analysis)
    return _Pair(patient, (before, before_analysis), (after, after_analysis), comparison)


def compare_photos(
    db: Session, principal: Principal, patient_id: int, before_id: int, after_id: int
) -> PhotoComparison:
    """Per-zone deltas between two analysed photos of one patient, each judged against the
    metric's smallest real change; the pair is flagged when alignment or pose make it unreliable."""
    pair = _pair(db, principal, patient_id, before_id, after_id)
    audit.record(
        db,
        principal.actor,
        "photo.compared",
        target_type="patient",
        target_id=pair.patient.id,
        patient_id=pair.patient.id,
        clinic_id=pair.patient.clinic_id,
        details={"before_photo_id": before_id, "after_photo_id": after_id},
    )
    return PhotoComparison.model_validate(
        {
            "patient_id": pair.patient.id,
            "before_photo_id": before_id,
            "after_photo_id": after_id,
            "before_analysis_id": pair.before[1].id,
            "after_analysis_id": pair.after[1].id,
            **pair.comparison,
        }
    )


# --------------------------------------------------------------------------- images for people


def _aligned(store: MediaStore, photo: Photo, row: PhotoAnalysis, field: str) -> Image.Image:
    """The stored original resampled into the canonical frame with the alignment its analysis
    stored (no second landmark detection)."""
    from mesoclinic.imaging import renderings  # scikit-image: loaded on first use, not at start-up

    try:
        alignment = renderings.stored_alignment(row.alignment)
    except (KeyError, TypeError, ValueError) as error:
        raise Conflict(
            f"The {field} photo's analysis has no alignment to reuse: "
            f"POST /api/v1/photos/{photo.id}/analysis again.",
            code=rules.NOT_ANALYSED,
            field=field,
        ) from error
    return renderings.aligned(Image.open(io.BytesIO(store.get(photo.storage_key))), alignment)


def aligned_image(
    db: Session, principal: Principal, store: MediaStore, photo_id: int
) -> tuple[bytes, PhotoAnalysis]:
    """The photo in the canonical frame as JPEG (the analysis's alignment) and that analysis.

    Every photo of every patient comes out the same size with the eyes in the same place: the web
    UI's before/after slider stacks two of them. 409 ``photo-not-analysed`` before an analysis."""
    from mesoclinic.imaging import renderings  # scikit-image: loaded on first use, not at start-up

    photo, _ = _visible_photo(db, principal, photo_id, "photo.image_read")
    row = _analysed(db, photo, "photo_id")
    body = renderings.jpeg_bytes(_aligned(store, photo, row, "photo_id"))
    _audit_photo(db, principal, "photo.image_read", photo, {"size": "aligned", "analysis_id": row.id})
    return body, row


def findings_image(
    db: Session,
    principal: Principal,
    store: MediaStore,
    photo_id: int,
    detector: LandmarkDetector | None = None,
) -> tuple[bytes, PhotoAnalysis]:
    """The photo in the canonical frame with its zones, fine lines and spots drawn (PNG), so a
    practitioner sees what the numbers counted. The maps are not stored, so the original is measured
    again, by the current method. 409 ``photo-not-analysed`` before an analysis."""
    from mesoclinic.imaging import analysis, renderings  # loaded on first use, not at start-up

    photo, _ = _visible_photo(db, principal, photo_id, "photo.image_read")
    row = _analysed(db, photo, "photo_id")
    image = Image.open(io.BytesIO(store.get(photo.storage_key)))
    result = analysis.analyse(image, detector or default_detector(), cast(rules.View, photo.view))
    body = renderings.png_bytes(renderings.findings(result))
    _audit_photo(db, principal, "photo.image_read", photo, {"size": "findings", "analysis_id": row.id})
    return body, row


@dataclass(frozen=True)
class ComparisonImage:
    jpeg: bytes
    reliable: bool
    flags: list[str]
    pair_residual_iod: float


def _label(role: str, photo: Photo) -> str:
    return f"{role} {photo.visit_on.isoformat()} · {photo.view}"


def comparison_image(
    db: Session,
    principal: Principal,
    store: MediaStore,
    patient_id: int,
    before_id: int,
    after_id: int,
    layout: rules.Layout,
) -> ComparisonImage:
    """Two analysed photos of one patient aligned and composed (``renderings.LAYOUTS``) as one JPEG,
    with the pair's reliability. Audited as an image read of each photo."""
    from mesoclinic.imaging import renderings  # scikit-image: loaded on first use, not at start-up

    pair = _pair(db, principal, patient_id, before_id, after_id)
    (before, before_analysis), (after, after_analysis) = pair.before, pair.after
    flags: list[str] = pair.comparison["flags"]
    warning = " ".join(a.advice for a in rules.pair_advice(flags)) or None
    image = renderings.comparison(
        layout,
        _aligned(store, before, before_analysis, "before"),
        _aligned(store, after, after_analysis, "after"),
        (_label("Before", before), _label("After", after)),
        warning,
    )
    for photo, other in ((before, after), (after, before)):
        _audit_photo(
            db,
            principal,
            "photo.image_read",
            photo,
            {"size": "comparison", "layout": layout, "compared_with_photo_id": other.id},
        )
    return ComparisonImage(
        renderings.jpeg_bytes(image),
        bool(pair.comparison["reliable"]),
        flags,
        float(pair.comparison["pair_residual_iod"]),
    )


def _ghost_photo(
    db: Session, principal: Principal, patient_id: int, view: rules.View, before: date | None
) -> Photo:
    """The latest analysed photo of ``view`` (of a visit before ``before`` when given)."""
    patient = get_patient(db, principal, patient_id, audit_read=False)
    query = select(Photo).where(
        Photo.patient_id == patient.id,
        Photo.view == view,
        select(PhotoAnalysis.id).where(PhotoAnalysis.photo_id == Photo.id).exists(),
    )
    if before is not None:
        query = query.where(Photo.visit_on < before)
    photo = db.scalar(query.order_by(Photo.visit_on.desc(), Photo.id.desc()).limit(1))
    if photo is None:
        raise NotFound(
            f"The patient has no earlier analysed {view} photo to guide the capture.",
            code=rules.NO_EARLIER_PHOTO,
            field="view",
        )
    return photo


def ghost_image(
    db: Session,
    principal: Principal,
    store: MediaStore,
    patient_id: int,
    view: rules.View,
    *,
    before: date | None = None,
    opacity: float | None = None,
) -> tuple[bytes, Photo]:
    """The latest analysed photo of the view as a semi-transparent PNG (display size, the photo's
    own frame) to lay over the live camera preview of the next capture."""
    from mesoclinic.imaging import renderings  # scikit-image: loaded on first use, not at start-up

    photo = _ghost_photo(db, principal, patient_id, view, before)
    display = Image.open(io.BytesIO(store.get(photo.storage_key + DISPLAY_SUFFIX)))
    body = renderings.png_bytes(
        renderings.ghost(display, renderings.GHOST_OPACITY if opacity is None else opacity)
    )
    _audit_photo(db, principal, "photo.image_read", photo, {"size": "ghost"})
    return body, photo


def ghost_guides(
    db: Session,
    principal: Principal,
    store: MediaStore,
    patient_id: int,
    view: rules.View,
    *,
    before: date | None = None,
    detector: LandmarkDetector | None = None,
) -> GhostGuides:
    """Face outline and key points of the ghost photo, as fractions of its size. The landmarks are
    found again on the display copy: the analysis stores only the rigid points, not the outline."""
    import numpy as np

    from mesoclinic.imaging import renderings  # scikit-image: loaded on first use, not at start-up
    from mesoclinic.imaging.landmarks import one_face

    photo = _ghost_photo(db, principal, patient_id, view, before)
    display = Image.open(io.BytesIO(store.get(photo.storage_key + DISPLAY_SUFFIX))).convert("RGB")
    points = one_face(detector or default_detector(), np.asarray(display, dtype=np.uint8))
    outline, landmarks, box = renderings.guides(points, display.width, display.height)
    _audit_photo(db, principal, "photo.read", photo, {"derived": "capture-guides"})
    return GhostGuides(
        photo_id=photo.id,
        visit_on=photo.visit_on,
        view=cast(rules.View, photo.view),
        width=photo.width,
        height=photo.height,
        face_outline=outline,
        landmarks=landmarks,
        face_box=box,
    )
