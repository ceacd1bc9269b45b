"""Request and response shapes for photos, analyses and comparisons."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mesoclinic.imaging.rules import Verdict, View


class CaptureConditions(BaseModel):
    """As declared by the person taking the photo (multipart field ``capture_conditions``, JSON)."""

    model_config = ConfigDict(extra="forbid")

    lighting: Literal["flash", "ring-light", "led-panel", "daylight", "ambient", "other"] | None = None
    polarisation: Literal["cross", "parallel", "none"] | None = None
    makeup_present: bool | None = None
    colour_chart_present: bool | None = None


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
    zones: dict[str, dict[str, MetricChangeRead]]
