"""API shapes for screening: a request to screen, a stored result, an override."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mesoclinic.screening.rules import PlannedIngredient


class PlannedIngredientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=100)
    names: list[str] = Field(default_factory=list, max_length=20, description="Synonyms, INN, brand names.")

    @field_validator("names")
    @classmethod
    def _no_blank_names(cls, value: list[str]) -> list[str]:
        names = [n.strip() for n in value]
        if any(not n or len(n) > 200 for n in names):
            raise ValueError("each name has 1 to 200 characters")
        return names

    def as_rule_input(self) -> PlannedIngredient:
        return PlannedIngredient(code=self.code, names=tuple(self.names))


class ScreeningRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    planned_ingredients: list[PlannedIngredientIn | str] = Field(
        default_factory=list,
        max_length=50,
        description="The planned cocktail: ingredient codes, or {code, names} with synonyms.",
    )
    on_date: date | None = Field(
        default=None, description="The treatment day to judge (default today); not in the past."
    )

    @field_validator("on_date")
    @classmethod
    def _not_in_past(cls, value: date | None) -> date | None:
        if value is not None and value < date.today():
            raise ValueError("cannot be in the past")
        return value

    @field_validator("planned_ingredients")
    @classmethod
    def _no_blank_codes(cls, value: list[PlannedIngredientIn | str]) -> list[PlannedIngredientIn | str]:
        if any(isinstance(item, str) and not item.strip() for item in value):
            raise ValueError("an ingredient code cannot be blank")
        return value

    def ingredients(self) -> tuple[PlannedIngredient, ...]:
        return tuple(
            PlannedIngredient(code=item.strip()) if isinstance(item, str) else item.as_rule_input()
            for item in self.planned_ingredients
        )


class FindingRead(BaseModel):
    code: str
    kind: Literal["absolute", "defer", "relative"]
    reason: str
    source: str
    reconsider_on: date | None
    detail: str = ""
    advice: str = ""
    overridden: bool = False


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_code: str = Field(min_length=1, max_length=60)
    reason: str = Field(max_length=4000, description="Why treatment may go ahead (at least 10 characters).")


class OverrideRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    screening_result_id: int
    rule_code: str
    practitioner_user_id: int
    reason: str
    created_at: datetime


class ScreeningRead(BaseModel):
    id: int
    patient_id: int
    intake_id: int
    performed_at: datetime
    performed_by_user_id: int
    ruleset_version: str
    screened_on: date
    planned_ingredient_codes: list[str]
    outcome: Literal["clear", "needs_override", "blocked"]
    findings: list[FindingRead]
    overrides: list[OverrideRead]
    #: Treatment may go ahead: nothing blocks, and every relative finding has an override.
    cleared: bool
    #: Relative findings still waiting for a practitioner's override.
    pending_overrides: list[str]
    #: The first day no blocking finding applies, when every one of them has a known end.
    reconsider_on: date | None
