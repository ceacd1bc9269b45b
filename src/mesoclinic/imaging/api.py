"""REST routes for imaging (thin: decisions live in rules.py and the metric modules)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status

from mesoclinic.auth.deps import AppSettings, DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.imaging import service
from mesoclinic.imaging.rules import Layout, View
from mesoclinic.imaging.schemas import GhostGuides, PhotoAnalysisRead, PhotoComparison, PhotoRead
from mesoclinic.imaging.storage import media_store

router = APIRouter(prefix="/api/v1", tags=["imaging"])

Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]
Reader = Annotated[Principal, Depends(requires(Permission.CLINICAL_READ))]

NO_STORE = {"Cache-Control": "no-store"}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"description": "Problem document (RFC 9457) with `code` and `field`",
               "content": {"application/problem+json": {}}}
        for code in statuses
    }  # fmt: skip


def _image(media_type: str, description: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media_type: {}},
        "headers": {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in {"Cache-Control": "no-store", **(headers or {})}.items()
        },
    }


@router.post("/patients/{patient_id}/photos", response_model=PhotoRead, status_code=status.HTTP_201_CREATED)
def upload_photo(
    db: DbSession,
    principal: Clinician,
    settings: AppSettings,
    patient_id: int,
    file: Annotated[UploadFile, File(description="JPEG, PNG or HEIC, recognised from its content")],
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
    consent (409 ``photo-consent-missing``). The file's real type must be JPEG, PNG or HEIC (415); it
    is refused when larger than the configured limit (413 ``photo-too-large``), a decompression bomb,
    of absurd dimensions, unreadable, or showing no face or several faces (422). EXIF, GPS and XMP
    are stripped; the original (a HEIC as JPEG) and a display copy are stored encrypted. Capture
    quality is measured: ``capture_advice`` says in plain words what each quality flag means and
    ``retake_advised`` is true when the capture page should ask for the photo again."""
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


@router.get(
    "/patients/{patient_id}/photo-comparison",
    response_model=PhotoComparison,
    responses=_problems(404, 409, 422),
)
def compare_photos(
    db: DbSession,
    principal: Reader,
    patient_id: int,
    before: Annotated[int, Query(description="Photo id of the earlier visit")],
    after: Annotated[int, Query(description="Photo id of the later visit")],
) -> PhotoComparison:
    """Per-zone metric deltas between two analysed photos of the patient. A delta counts as
    ``improved``/``worsened`` only beyond the metric's smallest real change; ``reliable`` is false
    when alignment residual, pose or view make the pair unfit for comparison (``flags``, explained
    in ``advice``). 404 ``photo-not-found``, 422 ``photo-of-another-patient``, 409
    ``photo-not-analysed``, each with ``field`` ``before`` or ``after``."""
    return service.compare_photos(db, principal, patient_id, before, after)


@router.get(
    "/patients/{patient_id}/photo-comparison/image",
    response_class=Response,
    responses={
        200: _image(
            "image/jpeg",
            "The two photos aligned in the canonical frame, composed as asked",
            {
                "X-Comparison-Reliable": "true or false, as ``reliable`` in the JSON comparison",
                "X-Comparison-Flags": "comma-separated pair flags (empty when reliable)",
                "X-Pair-Residual-Iod": "misalignment of the pair, in inter-ocular distances",
            },
        ),
        **_problems(404, 409, 422),
    },
)
def comparison_image(
    db: DbSession,
    principal: Reader,
    settings: AppSettings,
    patient_id: int,
    before: Annotated[int, Query(description="Photo id of the earlier visit")],
    after: Annotated[int, Query(description="Photo id of the later visit")],
    layout: Annotated[
        Layout,
        Query(
            description="side-by-side (labelled with visit dates), overlay (50 % blend) or "
            "checkerboard (alternating squares, before in the top-left one)"
        ),
    ] = "side-by-side",
) -> Response:
    """Before and after, both resampled into the canonical frame with their stored alignment, as one
    JPEG. The pair's reliability is in the headers; an unreliable pair also has the reasons printed
    under the photos. Refusals as for the JSON comparison. Audited as an image read of each photo;
    never cached."""
    made = service.comparison_image(db, principal, media_store(settings), patient_id, before, after, layout)
    headers = {
        **NO_STORE,
        "X-Comparison-Reliable": str(made.reliable).lower(),
        "X-Comparison-Flags": ",".join(made.flags),
        "X-Pair-Residual-Iod": f"{made.pair_residual_iod:.4f}",
    }
    return Response(made.jpeg, media_type="image/jpeg", headers=headers)


@router.get(
    "/photos/{photo_id}/aligned",
    response_class=Response,
    responses={
        200: _image(
            "image/jpeg",
            "The photo in the canonical frame (256 px between the outer eye corners; one size for all)",
            {"X-Analysis-Id": "the analysis whose alignment was used"},
        ),
        **_problems(404, 409),
    },
)
def aligned_image(db: DbSession, principal: Reader, settings: AppSettings, photo_id: int) -> Response:
    """One analysed photo resampled into the canonical frame: every photo comes out the same size
    with the eyes at the same place, so two of them stack for a before/after slider (the pair's
    reliability: the JSON comparison). Outside the original photo the frame is neutral grey.
    404 ``photo-not-found``, 409 ``photo-not-analysed``. Audited; never cached."""
    body, analysis = service.aligned_image(db, principal, media_store(settings), photo_id)
    return Response(body, media_type="image/jpeg", headers={**NO_STORE, "X-Analysis-Id": str(analysis.id)})


@router.get(
    "/photos/{photo_id}/findings",
    response_class=Response,
    responses={
        200: _image(
            "image/png",
            "The photo in the canonical frame with its zones (yellow), fine lines (red) and spots (blue)",
            {"X-Analysis-Id": "the photo's latest analysis", "X-Method-Version": "the method that drew them"},
        ),
        **_problems(404, 409),
    },
)
def findings_image(db: DbSession, principal: Reader, settings: AppSettings, photo_id: int) -> Response:
    """What the measurement saw on one analysed photo: its zones, and the fine lines and spots the
    metrics counted, drawn on the aligned photo (measured again by the current method, whose version is
    in ``X-Method-Version``). 404 ``photo-not-found``, 409 ``photo-not-analysed``. Audited; never cached."""
    from mesoclinic.imaging.analysis import METHOD_VERSION

    body, analysis = service.findings_image(db, principal, media_store(settings), photo_id)
    headers = {**NO_STORE, "X-Analysis-Id": str(analysis.id), "X-Method-Version": METHOD_VERSION}
    return Response(body, media_type="image/png", headers=headers)


GhostView = Annotated[View, Query(description="The view about to be captured")]
GhostBefore = Annotated[
    date | None,
    Query(description="Only photos of visits before this date (e.g. today's, to skip today's attempts)"),
]


@router.get(
    "/patients/{patient_id}/photos/ghost",
    response_class=Response,
    responses={
        200: _image(
            "image/png",
            "The latest analysed photo of the view, display size (≤ 1024 px), with uniform alpha",
            {"X-Photo-Id": "the photo shown", "X-Visit-On": "its visit date"},
        ),
        **_problems(404),
    },
)
def ghost_image(
    db: DbSession,
    principal: Reader,
    settings: AppSettings,
    patient_id: int,
    view: GhostView,
    before: GhostBefore = None,
    opacity: Annotated[
        float | None, Query(ge=0.1, le=0.9, description="Alpha of the ghost (default 0.4)")
    ] = None,
) -> Response:
    """A semi-transparent ghost of the previous capture of this view, in the photo's own frame (not
    the canonical one), to lay over the live camera preview so the next photo is taken with the
    same framing and pose. 404 ``no-earlier-photo`` when the patient has no analysed photo of the
    view (404 ``patient-not-found`` outside the caller's reach). Audited; never cached."""
    body, photo = service.ghost_image(
        db, principal, media_store(settings), patient_id, view, before=before, opacity=opacity
    )
    headers = {**NO_STORE, "X-Photo-Id": str(photo.id), "X-Visit-On": photo.visit_on.isoformat()}
    return Response(body, media_type="image/png", headers=headers)


@router.get(
    "/patients/{patient_id}/photos/ghost/guides", response_model=GhostGuides, responses=_problems(404)
)
def ghost_guides(
    db: DbSession,
    principal: Reader,
    settings: AppSettings,
    response: Response,
    patient_id: int,
    view: GhostView,
    before: GhostBefore = None,
) -> GhostGuides:
    """The ghost photo's face outline and key points (eyes, nose, mouth, chin…) as fractions of its
    width and height, to draw capture guides over the live preview. Same photo choice and refusals
    as the ghost image. Audited; never cached."""
    response.headers.update(NO_STORE)
    return service.ghost_guides(db, principal, media_store(settings), patient_id, view, before=before)
