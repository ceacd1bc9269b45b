from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class IngredientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    ingredient_class: str
    synonyms: list[str]
    concerns: list[str]
    evidence: str
    evidence_note: str
    usual_concentration: str
    proposable: bool
    incompatible_with: list[str]
    source: str
    clinic_id: int | None = Field(description="The clinic that added it; null for the built-in catalogue.")


class IncompatibilityRead(BaseModel):
    pair: list[str]
    reason: str
    source: str


class CatalogueRead(BaseModel):
    version: str
    clinic_id: int | None = Field(description="Whose extensions are included (null: built-in only).")
    ingredients: list[IngredientRead]
    incompatibilities: list[IncompatibilityRead]


class ClinicIngredientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=r"^[a-z0-9_]+$", min_length=2, max_length=60)
    name: str = Field(min_length=1, max_length=200)
    ingredient_class: str = Field(min_length=1, max_length=60)
    concerns: list[str] = Field(default_factory=list, max_length=10)
    incompatible_with: list[str] = Field(default_factory=list, max_length=20)
    source: str = Field(min_length=1, max_length=400, description="Where the clinic's claim comes from.")


class FormulationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assessment_id: int = Field(description="The patient's skin assessment to propose from.")


class FinalItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=60)
    product_id: int | None = None
    concentration: str = Field(default="", max_length=60, description='e.g. "4 mg/mL"')
    volume_ml: float | None = Field(default=None, gt=0, le=20, allow_inf_nan=False)


class FormulationDecide(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    final: list[FinalItem] = Field(max_length=30)
    note: str = Field(default="", max_length=4000)
    acknowledge_incompatible: bool = Field(
        default=False, description="Proceed despite a known incompatible pair (kept on record as a warning)."
    )


class ProposedRead(BaseModel):
    code: str
    name: str
    concerns: list[str]
    rationale: str
    evidence: str
    source: str


class WarningRead(BaseModel):
    code: str
    message: str
    ingredients: list[str]
    source: str


class FinalRead(BaseModel):
    code: str
    product_id: int | None = None
    concentration: str = ""
    volume_ml: float | None = None


class FormulationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    assessment_id: int
    status: str
    proposed: list[ProposedRead]
    final: list[FinalRead] | None
    warnings: list[WarningRead]
    created_at: datetime
    created_by_user_id: int
    decided_at: datetime | None
    decided_by_user_id: int | None
    decision_note: str
