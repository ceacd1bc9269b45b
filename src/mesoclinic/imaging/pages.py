"""Photo pages: capture with the previous visit's ghost, quality feedback, analysis, and the aligned
before/after with a slider and per-zone changes. Every decision is ``imaging.service``'s.

Staff (clinical roles) work at ``/patients/{id}/photos``; the patient's own before/after and outcome
summary is the portal's ``/portal/photos``, built from the same helpers here. The images themselves
come from the imaging API (``/api/v1/photos/{id}/aligned``, ``…/photos/ghost``), which accepts the
browser's session cookie; photos.js adds the camera, the ghost overlay, the analysis progress and
the slider, and every page works without it (plain upload, POST + redirect, side-by-side photos).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from mesoclinic.auth.deps import AppSettings, DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.consent import service as consent
from mesoclinic.errors import InvalidInput, NotFound
from mesoclinic.imaging import outcome as outcomes
from mesoclinic.imaging import service
from mesoclinic.imaging.rules import View
from mesoclinic.imaging.schemas import (
    CaptureConditions,
    PhotoComparison,
    PhotoRead,
)
from mesoclinic.imaging.storage import media_store
from mesoclinic.models import Clinic, Patient, Photo
from mesoclinic.patients.service import get_patient
from mesoclinic.web.forms import attempt, validation_errors
from mesoclinic.web.signature import consent_signature
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(requires(Permission.CLINICAL_READ))]
Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]

VIEWS: tuple[tuple[str, str], ...] = (("front", "Front"), ("left45", "Left 45°"), ("right45", "Right 45°"))
VIEW_LABELS = dict(VIEWS)
LIGHTING = (("flash", "Flash"), ("ring-light", "Ring light"), ("led-panel", "LED panel"),
            ("daylight", "Daylight"), ("ambient", "Room light"), ("other", "Other"))  # fmt: skip
POLARISATION = (("cross", "Cross-polarised"), ("parallel", "Parallel-polarised"), ("none", "None"))
#: Refusals of an upload shown on the form: consent (409), size (413), type (415), content (422).
UPLOAD_REFUSALS = frozenset({409, 413, 415, 422})
#: Refusals of a chosen pair shown next to the picker (the service names ``before`` or ``after``).
PAIR_REFUSALS = frozenset({404, 409, 422})

# --- photos as the pages show them ---------------------------------------------------------


@dataclass(frozen=True)
class PhotoCard:
    """One photo as the pages show it: its metadata, capture advice and whether it is measured."""

    photo: PhotoRead
    analysed: bool

    @property
    def id(self) -> int:
        return self.photo.id

    @property
    def view_label(self) -> str:
        return VIEW_LABELS.get(self.photo.view, self.photo.view)

    @property
    def label(self) -> str:
        return f"{self.photo.visit_on.strftime('%d %b %Y')} · {self.view_label}"

    @property
    def badge(self) -> str:
        """``retake`` (a flag asks for another photo), ``note`` (flags to know about) or ``good``."""
        if self.photo.retake_advised:
            return "retake"
        return "note" if self.photo.capture_advice else "good"


def photo_cards(db: Session, principal: Principal, patient_id: int) -> list[PhotoCard]:
    """The patient's photos, newest visit first (the service checks access and audits the list)."""
    photos = service.list_photos(db, principal, patient_id)
    analysed = service.analysed_photo_ids(db, (photo.id for photo in photos))
    return [PhotoCard(PhotoRead.model_validate(photo), photo.id in analysed) for photo in photos]


def default_pair(cards: Sequence[PhotoCard]) -> tuple[int, int] | None:
    """The earliest and the latest analysed photo of one view (front first), on different visits."""
    for view, _ in VIEWS:
        measured = sorted(
            (c for c in cards if c.analysed and c.photo.view == view), key=lambda c: (c.photo.visit_on, c.id)
        )
        if len(measured) >= 2 and measured[0].photo.visit_on < measured[-1].photo.visit_on:
            return measured[0].id, measured[-1].id
    return None


@dataclass
class Compared:
    """The patient's photos, a chosen pair and what came of comparing it (or the refusal, for the
    picker)."""

    cards: list[PhotoCard]
    before: PhotoCard | None = None
    after: PhotoCard | None = None
    comparison: PhotoComparison | None = None
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 200

    @property
    def measured(self) -> list[PhotoCard]:
        """The photos that can be compared (analysed), for the picker."""
        return [c for c in self.cards if c.analysed]

    @property
    def rows(self) -> list[tuple[str, list[outcomes.ChangeRow]]]:
        return outcomes.change_rows(self.comparison) if self.comparison else []

    @property
    def outcome(self) -> outcomes.Outcome | None:
        return outcomes.outcome(self.comparison) if self.comparison else None


def _photo_id(raw: str, name: str) -> int:
    if not raw.strip().isdigit():
        raise InvalidInput(f"Choose the {name} photo.", code="required", field=name)
    return int(raw)


def compare_pair(db: Session, principal: Principal, patient: Patient, before: str, after: str) -> Compared:
    """The patient's photos and the chosen pair (or the default one when none is chosen) compared
    through the service; a refusal (not analysed, another patient's photo, not found) comes back
    for the picker."""
    cards = photo_cards(db, principal, patient.id)
    if not before and not after:
        pair = default_pair(cards)
        if pair is None:
            return Compared(cards)
        before, after = str(pair[0]), str(pair[1])

    def run() -> PhotoComparison:
        return service.compare_photos(
            db, principal, patient.id, _photo_id(before, "before"), _photo_id(after, "after")
        )

    done = attempt(db, principal, run, show=PAIR_REFUSALS)
    if done.refused:
        # The refusal rolled the request back (listing audit included): list again for the picker.
        return Compared(photo_cards(db, principal, patient.id), errors=done.errors, status=done.status)
    found = done.result
    by_id = {c.id: c for c in cards}
    return Compared(cards, by_id.get(found.before_photo_id), by_id.get(found.after_photo_id), found)


# --- the staff photo page ------------------------------------------------------------------------


def _patient(db: Session, principal: Principal, patient_id: int) -> Patient:
    return get_patient(db, principal, patient_id, audit_read=False)


def _clinic_today(db: Session, patient: Patient) -> date:
    return datetime.now(ZoneInfo(db.get_one(Clinic, patient.clinic_id).timezone)).date()


@dataclass(frozen=True)
class VisitRow:
    on: date
    views: list[tuple[str, str, list[PhotoCard]]]


def visits(cards: Sequence[PhotoCard]) -> list[VisitRow]:
    """Photos per visit (newest first), each visit's three standard views side by side."""
    days = sorted({c.photo.visit_on for c in cards}, reverse=True)
    return [
        VisitRow(
            day,
            [
                (view, label, [c for c in cards if c.photo.visit_on == day and c.photo.view == view])
                for view, label in VIEWS
            ],
        )
        for day in days
    ]


def _capture_defaults(cards: Sequence[PhotoCard], today: date) -> dict[str, str]:
    """A new capture: today's first view still missing, under the last photo's declared conditions
    (the same lighting visit after visit is what makes photos comparable)."""
    taken = {c.photo.view for c in cards if c.photo.visit_on == today}
    view = next((v for v, _ in VIEWS if v not in taken), "front")
    last = cards[0].photo.capture_conditions if cards else {}
    makeup = last.get("makeup_present")
    return {
        "view": view,
        "visit_on": today.isoformat(),
        "lighting": str(last.get("lighting") or ""),
        "polarisation": str(last.get("polarisation") or ""),
        "makeup": "" if makeup is None else ("yes" if makeup else "no"),
        "colour_chart": "yes" if last.get("colour_chart_present") else "",
    }


def _photos_page(
    request: Request,
    db: Session,
    principal: Principal,
    patient: Patient,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    cards = photo_cards(db, principal, patient.id)
    today = _clinic_today(db, patient)
    uploaded = analysed = None
    query = request.query_params
    by_id = {c.id: c for c in cards}
    if query.get("uploaded", "").isdigit():
        uploaded = by_id.get(int(query["uploaded"]))
    if query.get("analysed", "").isdigit():
        analysed = by_id.get(int(query["analysed"]))
    if values is None:
        values = _capture_defaults(cards, today)
        if uploaded is not None and uploaded.photo.retake_advised:  # the retake: same view, same visit
            values.update(view=uploaded.photo.view, visit_on=uploaded.photo.visit_on.isoformat())
    measured = [c for c in cards if c.analysed]
    pair = default_pair(cards)
    return render(
        request,
        "photos/index.html",
        {
            "patient": patient,
            "visits": visits(cards),
            "measured": measured,
            "pair": pair,
            "uploaded": uploaded,
            "analysed": analysed,
            "consent_signed": query.get("consent") == "signed",
            "photo_consent": consent.valid_consent(db, patient.id, "photo"),
            "values": values,
            "errors": errors or {},
            "today": today,
            "views": VIEWS,
            "lighting": LIGHTING,
            "polarisation": POLARISATION,
            "may_write": principal.may(Permission.CLINICAL_WRITE),
        },
        status_code=status_code,
    )


@router.get("/patients/{patient_id}/photos")
def photos_page(request: Request, db: DbSession, principal: Reader, patient_id: int) -> Response:
    if not principal.is_staff:
        return RedirectResponse("/portal/photos", status_code=303)
    return _photos_page(request, db, principal, _patient(db, principal, patient_id))


def _capture_conditions(values: dict[str, str]) -> CaptureConditions:
    raw: dict[str, Any] = {
        "lighting": values["lighting"] or None,
        "polarisation": values["polarisation"] or None,
        "makeup_present": {"yes": True, "no": False}.get(values["makeup"]),
        "colour_chart_present": True if values["colour_chart"] == "yes" else None,
    }
    return CaptureConditions.model_validate(raw)


def _upload_problems(values: dict[str, str], has_file: bool) -> dict[str, str]:
    """What the form lacks before the service is asked (the service checks everything else)."""
    errors: dict[str, str] = {}
    if values["view"] not in VIEW_LABELS:
        errors["view"] = "Choose the view: front, left 45° or right 45°."
    try:
        date.fromisoformat(values["visit_on"])
    except ValueError:
        errors["visit_on"] = "Enter the visit date."
    try:
        _capture_conditions(values)
    except ValidationError as error:
        errors.update({k.replace("makeup_present", "makeup"): v for k, v in validation_errors(error).items()})
    if not has_file:
        errors["file"] = "Choose a photo to upload, or take one with the camera."
    return errors


@router.post("/patients/{patient_id}/photos")
def upload(
    request: Request,
    db: DbSession,
    principal: Clinician,
    settings: AppSettings,
    patient_id: int,
    file: Annotated[UploadFile | None, File()] = None,
    view: Annotated[str, Form(max_length=20)] = "",
    visit_on: Annotated[str, Form(max_length=20)] = "",
    lighting: Annotated[str, Form(max_length=40)] = "",
    polarisation: Annotated[str, Form(max_length=40)] = "",
    makeup: Annotated[str, Form(max_length=10)] = "",
    colour_chart: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Upload (or, from photos.js, a camera capture of) one standard view; on success the page
    shows the capture-quality feedback for it, on a refusal the form again with the reason next to
    the field and what was chosen kept (a browser never keeps a chosen file: choose it again)."""
    patient = _patient(db, principal, patient_id)
    values = {
        "view": view,
        "visit_on": visit_on,
        "lighting": lighting,
        "polarisation": polarisation,
        "makeup": makeup,
        "colour_chart": colour_chart,
    }
    # Read at most limit + 1 bytes: the service refuses anything longer (413) without holding it all.
    data = file.file.read(settings.photo_max_bytes + 1) if file is not None else b""
    if errors := _upload_problems(values, bool(data)):
        return _photos_page(request, db, principal, patient, values=values, errors=errors, status_code=422)
    done = attempt(
        db,
        principal,
        lambda: service.upload_photo(
            db,
            principal,
            media_store(settings),
            patient.id,
            data=data,
            max_bytes=settings.photo_max_bytes,
            view=cast(View, view),
            visit_on=date.fromisoformat(visit_on),
            capture_conditions=_capture_conditions(values),
        ),
        show=UPLOAD_REFUSALS,
    )
    if done.refused:
        return _photos_page(
            request, db, principal, patient, values=values, errors=done.errors, status_code=done.status
        )
    return RedirectResponse(f"/patients/{patient.id}/photos?uploaded={done.result.id}#feedback", 303)


def _own_photo(db: Session, principal: Principal, patient: Patient, photo_id: int) -> Photo:
    photo = service.get_photo(db, principal, photo_id)
    if photo.patient_id != patient.id:
        raise NotFound("No such photo.", code="photo-not-found")
    return photo


@router.post("/patients/{patient_id}/photos/{photo_id}/analysis")
def analyse(
    request: Request,
    db: DbSession,
    principal: Clinician,
    settings: AppSettings,
    patient_id: int,
    photo_id: int,
) -> Response:
    """Measure a photo (the page's form without JavaScript; photos.js posts to the API instead and
    shows progress while it runs). Then back to the photos, with the measured one announced."""
    patient = _patient(db, principal, patient_id)
    _own_photo(db, principal, patient, photo_id)
    done = attempt(
        db,
        principal,
        lambda: service.analyse_photo(db, principal, media_store(settings), photo_id),
        show=frozenset({409, 422}),
    )
    if done.refused:
        errors = {f"analysis-{photo_id}": next(iter(done.errors.values()))}
        return _photos_page(request, db, principal, patient, errors=errors, status_code=done.status)
    return RedirectResponse(f"/patients/{patient.id}/photos?analysed={photo_id}#photo-{photo_id}", 303)


@router.get("/patients/{patient_id}/photos/compare")
def compare_page(
    request: Request,
    db: DbSession,
    principal: Reader,
    patient_id: int,
    before: str = "",
    after: str = "",
) -> Response:
    """Two analysed photos of the patient, aligned: a slider over the two, the pair's reliability,
    and every zone's metric changes judged against the smallest real change."""
    if not principal.is_staff:
        return RedirectResponse("/portal/photos", status_code=303)
    patient = _patient(db, principal, patient_id)
    compared = compare_pair(db, principal, patient, before, after)
    return render(
        request,
        "photos/compare.html",
        {
            "patient": patient,
            "measured": compared.measured,
            "compared": compared,
            "chosen": {"before": before, "after": after},
        },
        status_code=compared.status,
    )


# --- the photo consent step ----------------------------------------------------------------------


def _consent_page(
    request: Request,
    db: Session,
    patient: Patient,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "photos/consent.html",
        {
            "patient": patient,
            "text": consent.current_text(db, patient.clinic_id, "photo"),
            "record": consent.valid_consent(db, patient.id, "photo"),
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/patients/{patient_id}/photos/consent")
def consent_page(request: Request, db: DbSession, principal: Clinician, patient_id: int) -> Response:
    """The photo consent signed on the tablet (drawn, or by typing the name), witnessed by the
    clinician: the step a refused upload links to."""
    return _consent_page(request, db, _patient(db, principal, patient_id))


@router.post("/patients/{patient_id}/photos/consent")
def sign_consent(
    request: Request,
    db: DbSession,
    principal: Clinician,
    patient_id: int,
    consent_text_id: Annotated[int, Form()],
    typed_name: Annotated[str, Form(max_length=200)] = "",
    signature_svg_path: Annotated[str, Form(max_length=100_000)] = "",
    sign_by_typing: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    patient = _patient(db, principal, patient_id)
    by_typing = sign_by_typing == "yes"

    def sign() -> None:
        data = consent_signature(consent_text_id, typed_name, signature_svg_path, by_typing=by_typing)
        consent.sign(db, principal, patient.id, data)

    done = attempt(db, principal, sign, show=frozenset({404, 409, 422}))
    if done.refused:
        values = {"typed_name": typed_name, "sign_by_typing": by_typing}
        return _consent_page(request, db, patient, values, done.errors, done.status)
    return RedirectResponse(f"/patients/{patient.id}/photos?consent=signed#capture", status_code=303)
