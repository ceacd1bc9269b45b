from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from mesoclinic.inventory.rules import LotState, ProductCategory, VialType


def _normalise_code(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


IngredientCode = Annotated[
    str, BeforeValidator(_normalise_code), StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{0,59}$")
]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    manufacturer: str = Field(default="", max_length=200)
    category: ProductCategory = "injectable"
    ingredient_codes: list[IngredientCode] = Field(
        default_factory=list,
        max_length=40,
        description="Codes from the formulation ingredient catalogue, for allergy cross-checks.",
    )
    vial_type: VialType = "single_dose"
    volume_ml: float | None = Field(default=None, gt=0, le=100)


class Advisory(BaseModel):
    code: str
    reason: str
    source: str


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    clinic_id: int
    name: str
    manufacturer: str
    category: str
    ingredient_codes: list[str]
    vial_type: str
    volume_ml: float | None
    created_at: datetime
    advisories: list[Advisory] = Field(default_factory=list)


class LotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lot_number: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./\-_]*$")
    expires_on: date
    received_on: date | None = Field(default=None, description="Defaults to today at the clinic.")
    quantity: int = Field(ge=1, le=100_000, description="Units received (vials, syringes, tubes).")
    note: str = Field(default="", max_length=2000)


class LotRead(BaseModel):
    id: int
    product_id: int
    product_name: str
    clinic_id: int
    vial_type: str
    lot_number: str
    expires_on: date
    received_on: date
    recalled_at: datetime | None
    recall_reason: str
    stock: int
    state: LotState


class MovementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["discarded", "adjusted", "returned"]
    quantity: int = Field(
        ge=-100_000,
        le=100_000,
        description="Units: positive for discarded/returned; the signed correction for adjusted.",
    )
    note: str = Field(default="", max_length=2000, description="Required for adjustments.")


class MovementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lot_id: int
    kind: str
    quantity: int
    session_id: int | None
    note: str
    created_at: datetime
    created_by_user_id: int
    stock_after: int = 0


class RecallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=2000)


class ZoneUse(BaseModel):
    zone: str
    side: str
    total_volume_ml: float


class Recipient(BaseModel):
    """One session in which the lot was used, and who received it."""

    session_id: int
    session_date: date
    session_status: str
    patient_id: int
    patient_name: str
    patient_phone: str
    patient_email: str
    practitioner_user_id: int
    practitioner_name: str
    zones: list[ZoneUse]
    total_volume_ml: float
    units_used: int


class LotRecipients(BaseModel):
    lot_id: int
    lot_number: str
    product_id: int
    product_name: str
    recalled_at: datetime | None
    patient_count: int
    sessions: list[Recipient]
