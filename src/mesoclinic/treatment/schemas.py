from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Technique = Literal["nappage", "papule", "point_by_point", "linear_retrograde"]
Side = Literal["L", "R", "M"]


class SessionStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    practitioner_user_id: int | None = Field(default=None, description="Defaults to the caller.")
    screening_id: int | None = Field(
        default=None, description="Today's screening (with any overrides); run afresh when omitted."
    )


class NumbingStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_name: str | None = Field(default=None, min_length=1, max_length=200)
    applied_at: datetime | None = None
    wait_minutes: int | None = Field(default=None, ge=0, le=180)
    declined_reason: str | None = Field(default=None, min_length=3, max_length=500)

    @model_validator(mode="after")
    def _applied_or_declined(self) -> NumbingStep:
        if self.declined_reason is None and (self.product_name is None or self.applied_at is None):
            raise ValueError("give product_name and applied_at, or declined_reason")
        if self.declined_reason is not None and self.product_name is not None:
            raise ValueError("numbing cannot be both applied and declined")
        if self.applied_at is not None and self.applied_at.tzinfo is None:
            raise ValueError("applied_at needs a time zone")
        return self


class InjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zone: str = Field(min_length=1, max_length=40)
    side: Side = "M"
    technique: Technique
    depth_mm: float = Field(gt=0, le=13)
    volume_per_point_ml: float = Field(gt=0)
    points: int = Field(ge=1, le=1000)
    total_volume_ml: float | None = Field(default=None, gt=0, description="Checked against points × volume.")
    needle_gauge: int
    needle_length_mm: float = Field(gt=0, le=50)
    product_id: int
    lot_id: int
    chart_points: list[tuple[float, float]] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _chart_points_in_frame(self) -> InjectionIn:
        if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in self.chart_points):
            raise ValueError("chart_points must lie in the face chart's 0-1 frame")
        if self.chart_points and len(self.chart_points) != self.points:
            raise ValueError("chart_points must have one entry per point when given")
        return self


class InjectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    zone: str
    side: str
    technique: str
    depth_mm: float
    volume_per_point_ml: float
    points: int
    total_volume_ml: float
    needle_gauge: int
    needle_length_mm: float
    product_id: int
    lot_id: int
    chart_points: list[list[float]]


class InjectionRecorded(InjectionRead):
    notices: list[str] = Field(description="Unusual but possible values, flagged for review.")


class SessionSign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pain_score: int = Field(ge=0, le=10, description="Patient-reported NRS 0-10.")
    ended_at: datetime | None = None
    notes: str = Field(default="", max_length=4000)


class AmendmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=2000)
    changes: dict[str, Any] = Field(min_length=1, description="Field → corrected value, as documented.")


class AmendmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_user_id: int
    reason: str
    changes: dict[str, Any]
    created_at: datetime


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    clinic_id: int
    course_plan_id: int
    session_number: int
    practitioner_user_id: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    signed_at: datetime | None
    screening_result_id: int
    consent_record_id: int
    checklist: dict[str, Any]
    pain_score: int | None
    notes: str
    injections: list[InjectionRead]
    total_volume_ml: float
    total_points: int
    amendments: list[AmendmentRead] = Field(default_factory=list)
