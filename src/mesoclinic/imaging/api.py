"""REST routes for imaging (thin: decisions live in rules.py and the metric modules)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status

from mesoclinic.auth.deps import AppSettings, DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.imaging import service
from mesoclinic.imaging.rules import View
from mesoclinic.imaging.schemas import PhotoAnalysisRead, PhotoComparison, PhotoRead
from mesoclinic.imaging.storage import media_store

router = APIRouter(prefix="/api/v1", tags=["imaging"])

Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]
Reader = Annotated[Principal, Depends(requires(Permission.CLINICAL_READ))]


@router.post("/patients/{patient_id}/photos", response_model=PhotoRead, status_code=status.HTTP_201_CREATED)
def upload_photo(
    db: DbSession,
    principal: Clinician,
    settings: AppSettings,
    patient_id: int,
    file: Annotated[UploadFile, File(description="JPEG or PNG, recognised from its content")],
    view: Annotated[View, Form()],
    visit_on: Annotated[date, Form()],
    capture_conditions: Annotated[
        str,
        Form(
            description='JSON, e.g. {"lighting": "flash", "polarisation": "cross", "makeup_present": false}'
        ),
    ] = "{}",
    session_id: Annotated[int | None, Form()] = None,
) -> PhotoRead:
    """Upload one standard-view photo (front, left45, right45) of a visit. Requires a valid photo
    consent (409 ``photo-consent-missing``). The file's real type must be JPEG or PNG (415); it is
    refused when larger than the configured limit (413 ``photo-too-large``), a decompression bomb,
    of absurd dimensions, unreadable, or showing no face or several faces (422). EXIF and GPS are
    stripped; the original and a display copy are stored encrypted. Capture quality is measured."""
    # Read at most limit + 1 bytes: a chunked body carries no Content-Length for the guard to check.
    data = file.file.read(settings.photo_max_bytes + 1)
    return PhotoRead.model_validate(
        service.upload_photo(
            db,
            principal,
            media_store(settings),
            patient_id,
            data=data,
            max_bytes=settings.photo_max_bytes,
            view=view,
            visit_on=visit_on,
            capture_conditions=service.parse_capture_conditions(capture_conditions),
            session_id=session_id,
        )
    )


@router.get("/patients/{patient_id}/photos", response_model=list[PhotoRead])
def list_photos(db: DbSession, principal: Reader, patient_id: int) -> list[PhotoRead]:
    """The patient's photos (metadata only), newest visit first."""
    return [PhotoRead.model_validate(p) for p in service.list_photos(db, principal, patient_id)]


@router.get("/photos/{photo_id}", response_model=PhotoRead)
def get_photo(db: DbSession, principal: Reader, photo_id: int) -> PhotoRead:
    """One photo's metadata: view, visit, capture conditions, consent, capture quality."""
    return PhotoRead.model_validate(service.get_photo(db, principal, photo_id))


@router.get(
    "/photos/{photo_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def get_image(
    db: DbSession,
    principal: Reader,
    settings: AppSettings,
    photo_id: int,
    size: Annotated[service.ImageSize, Query(description="display (≤1024 px JPEG) or original")] = "display",
) -> Response:
    """The image, decrypted on the fly (EXIF-free). Every read is audited; never cached."""
    body, media_type = service.read_image(db, principal, media_store(settings), photo_id, size)
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})


@router.post(
    "/photos/{photo_id}/analysis", response_model=PhotoAnalysisRead, status_code=status.HTTP_201_CREATED
)
def analyse_photo(
    db: DbSession, principal: Clinician, settings: AppSettings, photo_id: int
) -> PhotoAnalysisRead:
    """Measure the photo: landmarks, alignment to the canonical frame, zones and per-zone skin
    metrics (units and methods in ``imaging/data/imaging.yaml``). Each call stores a new analysis."""
    return PhotoAnalysisRead.model_validate(
        service.analyse_photo(db, principal, media_store(settings), photo_id)
    )


@router.get("/patients/{patient_id}/photo-comparison", response_model=PhotoComparison)
def compare_photos(
    db: DbSession,
    principal: Reader,
    patient_id: int,
    before: Annotated[int, Query(description="Photo id of the earlier visit")],
    after: Annotated[int, Query(description="Photo id of the later visit")],
) -> PhotoComparison:
    """Per-zone metric deltas between two analysed photos of the patient. A delta counts as
    ``improved``/``worsened`` only beyond the metric's smallest real change; ``reliable`` is false
    when alignment residual, pose or view make the pair unfit for comparison."""
    return service.compare_photos(db, principal, patient_id, before, after)
