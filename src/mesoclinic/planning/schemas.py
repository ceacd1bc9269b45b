from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

Days = Annotated[int | None, Field(ge=1, le=3650)]


def _plausible(value: date | None) -> date | None:
    if value is not None and not date(2000, 1, 1) <= value <= date(2200, 12, 31):
        raise ValueError("date is not plausible for a course")
    return value


class CourseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    formulation_id: int = Field(description="A FINAL formulation of this patient.")
    protocol: str | None = Field(
        default=None, max_length=40, description="Defaults from the cocktail's ingredients and the concerns."
    )
    sessions_planned: int | None = Field(default=None, ge=1, le=12)
    interval_min_days: Days = None
    interval_max_days: Days = None
    maintenance_interval_days: Days = None
    session_minutes: int | None = Field(default=None, ge=1, le=600)
    starts_on: date | None = None

    _starts = field_validator("starts_on")(_plausible)


class CourseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sessions_planned: int | None = Field(default=None, ge=1, le=12)
    interval_min_days: Days = None
    interval_max_days: Days = None
    maintenance_interval_days: Days = None
    session_minutes: int | None = Field(default=None, ge=1, le=600)
    starts_on: date | None = None

    _starts = field_validator("starts_on")(_plausible)


class CourseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    formulation_id: int
    sessions_planned: int
    session_minutes: int
    interval_min_days: int
    interval_max_days: int
    maintenance_interval_days: int
    rationale: str
    status: str
    starts_on: date | None
    completed_on: date | None
    maintenance_due_on: date | None
    created_at: datetime
    created_by_user_id: int
    planned_dates: list[date] = Field(
        default_factory=list, description="Nominal session dates from starts_on (middle of each window)."
    )
