"""Request and response shapes for photos, analyses and comparisons."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from mesoclinic.imaging import rules
from mesoclinic.imaging.rules import Verdict, View


class CaptureConditions(BaseModel):
    """As declared by the person taking the photo (multipart field ``capture_conditions``, JSON)."""

    model_config = ConfigDict(extra="forbid")

    lighting: Literal["flash", "ring-light", "led-panel", "daylight", "ambient", "other"] | None = None
    polarisation: Literal["cross", "parallel", "none"] | None = None
    makeup_present: bool | None = None
    colour_chart_present: bool | None = None


class FlagAdvice(BaseModel):
    """One quality flag in plain language, for the person taking or reading the photos."""

    flag: str
    #: True when the photo should be taken again before it is measured or compared.
    retake: bool
    advice: str

    @classmethod
    def of(cls, advice: list[rules.Advice]) -> list[FlagAdvice]:
        return [cls(flag=a.flag, retake=a.retake, advice=a.advice) for a in advice]


class PhotoRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    clinic_id: int
    session_id: int | None
    consent_record_id: int
    visit_on: date
    view: View
    capture_conditions: dict[str, Any]
    media_type: str
    width: int
    height: int
    sha256: str
    #: Capture quality at intake: sharpness, clipping, pose, alignment residual and their flags.
    quality: dict[str, Any]
    created_at: datetime
    created_by_user_id: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def capture_advice(self) -> list[FlagAdvice]:
        """Each capture-quality flag with what to do about it (``retake`` true: take it again)."""
        return FlagAdvice.of(rules.capture_advice(list(self.quality.get("flags", []))))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def retake_advised(self) -> bool:
        """True when any flag says the photo should be taken again: the capture page asks for it."""
        return any(a.retake for a in self.capture_advice)


class PhotoAnalysisRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    photo_id: int
    method_version: str
    #: ``{zone: {metric: number}}``; units and methods in ``imaging/data/imaging.yaml``.
    zones: dict[str, dict[str, float]]
    quality: dict[str, Any]
    alignment: dict[str, Any]
    created_at: datetime


class MetricChangeRead(BaseModel):
    before: float
    after: float
    delta: float
    #: The change must exceed this (the metric's unit) to count as improved or worsened.
    smallest_real_change: float
    verdict: Verdict


class PhotoComparison(BaseModel):
    patient_id: int
    before_photo_id: int
    after_photo_id: int
    before_analysis_id: int
    after_analysis_id: int
    #: False when alignment, pose or view make the comparison unreliable (see ``flags``).
    reliable: bool
    flags: list[str]
    pair_residual_iod: float
    #: Both photos' colours corrected on a chart; otherwise wider smallest real changes apply.
    colour_calibrated: bool
    #: Zones whose skin is covered (hair, a deep shadow) in either photo: shown, not judged.
    obscured_zones: list[str] = []
    zones: dict[str, dict[str, MetricChangeRead]]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def advice(self) -> list[FlagAdvice]:
        """Why each flag makes the pair unreliable, in plain language."""
        return FlagAdvice.of(rules.pair_advice(self.flags))


class GhostGuides(BaseModel):
    """Guides for the next capture of a view, from the latest analysed photo of that view.

    Coordinates are fractions of the photo's width (x) and height (y), origin top left, in the photo's
    own frame (not the canonical one): draw them over a live preview showing the same field of view
    (scale the preview to the photo's aspect ratio, ``width / height``). Sides are the subject's own.
    ``photo_id`` is the photo the ghost image (``X-Photo-Id`` header) is made from, for the same
    ``view`` and ``before``.
    """

    photo_id: int
    visit_on: date
    view: View
    width: int
    height: int
    #: The face oval as a closed polygon (first point repeated last), clockwise from the forehead top.
    face_outline: list[tuple[float, float]]
    #: Named points: eye corners, nose bridge and tip, mouth corners, chin, forehead, face edges.
    landmarks: dict[str, tuple[float, float]]
    #: ``[x_min, y_min, x_max, y_max]`` of the face outline.
    face_box: tuple[float, float, float, float]
