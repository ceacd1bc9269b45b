from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from mesoclinic.practitioners.rules import MESOTHERAPY, CredentialState


class QualificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    scope: str = Field(
        default=MESOTHERAPY,
        pattern=r"^[a-z][a-z0-9_\-]{1,59}$",
        description="What the credential allows, e.g. `mesotherapy`.",
    )
    title: str = Field(min_length=1, max_length=200, description="e.g. 'Registered nurse prescriber'.")
    licence_number: str = Field(min_length=1, max_length=80)
    issuer: str = Field(min_length=1, max_length=200, description="The body that keeps the register.")
    valid_from: date
    expires_on: date


class QualificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    scope: str
    title: str
    licence_number: str
    issuer: str
    valid_from: date
    expires_on: date
    created_at: datetime


class CredentialStatusRead(BaseModel):
    scope: str
    status: CredentialState
    may_treat: bool
    qualification_id: int | None
    expires_on: date | None
    days_left: int | None
    reason: str


class PractitionerRead(BaseModel):
    user_id: int
    full_name: str
    email: str
    role: str
    clinic_ids: list[int]
    credential: CredentialStatusRead


class ExpiringCredential(BaseModel):
    """One credential that ends soon without a renewal on record: the input of a reminder."""

    user_id: int
    full_name: str
    email: str
    clinic_ids: list[int]
    qualification: QualificationRead
    days_left: int
