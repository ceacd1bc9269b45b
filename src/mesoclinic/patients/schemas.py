from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

Sex = Literal["female", "male", "other", "unknown"]


class AllergyIn(BaseModel):
    substance: str = Field(min_length=1, max_length=200)
    reaction: str = Field(default="", max_length=400)


class MedicationIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    drug_class: str = Field(default="", max_length=60)
    started_on: date | None = None
    stopped_on: date | None = None


class PreviousProcedureIn(BaseModel):
    procedure: str = Field(min_length=1, max_length=200)
    performed_on: date
    notes: str = Field(default="", max_length=4000)


class PatientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    clinic_id: int | None = Field(default=None, description="Defaults to the caller's active clinic.")
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Sex = "unknown"
    email: EmailStr | Literal[""] = ""
    phone: str = Field(default="", max_length=40, pattern=r"^[0-9+() .\-]*$")
    allergies: list[AllergyIn] = Field(default_factory=list, max_length=50)
    medications: list[MedicationIn] = Field(default_factory=list, max_length=50)
    previous_procedures: list[PreviousProcedureIn] = Field(default_factory=list, max_length=100)

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth_date(cls, value: date) -> date:
        today = date.today()
        if value > today:
            raise ValueError("date of birth is in the future")
        if value.year < today.year - 120:
            raise ValueError("date of birth is more than 120 years ago")
        return value


class PatientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    sex: Sex | None = None
    email: EmailStr | Literal[""] | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+() .\-]*$")


class AllergyRead(AllergyIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class MedicationRead(MedicationIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class PreviousProcedureRead(PreviousProcedureIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class PatientSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    clinic_id: int
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    email: str
    phone: str


class PatientRead(PatientSummary):
    created_at: datetime
    updated_at: datetime
    allergies: list[AllergyRead]
    medications: list[MedicationRead]
    previous_procedures: list[PreviousProcedureRead]


class PatientPage(BaseModel):
    items: list[PatientSummary]
    total: int
    offset: int
    limit: int
