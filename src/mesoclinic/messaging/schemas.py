"""API shapes for calendar feeds and the maintenance-due list."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CalendarFeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Defaults to the caller's own kind of feed (``patient`` for patients, else ``practitioner``).
    owner: Literal["practitioner", "patient"] | None = None
    #: Defaults to the caller; an admin may name a practitioner of one of their clinics.
    owner_id: int | None = Field(default=None, ge=1)


class CalendarFeedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner: str
    owner_id: int
    created_at: datetime
    revoked_at: datetime | None


class CalendarFeedIssued(CalendarFeedRead):
    """Returned once, at creation: the secret URL is not stored and cannot be shown again."""

    url: str
    token: str


class MaintenanceDueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    patient_id: int
    given_name: str
    family_name: str
    course_plan_id: int
    maintenance_due_on: date
    #: ``overdue``, ``due`` (today) or ``upcoming`` (within the requested days).
    status: str
