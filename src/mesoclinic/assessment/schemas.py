from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    concern: str = Field(max_length=40, description="fine_lines, dullness, dehydration, pigmentation, …")
    zone: str = Field(max_length=40, description="Zone code from the facial-zone reference.")
    side: Literal["L", "R", "M"] | None = Field(
        default=None, description="Required for bilateral zones; midline zones default to M."
    )
    scale: str = Field(max_length=40)
    value: float | None = Field(
        default=None, allow_inf_nan=False, description="Omit for MASI/mMASI: computed from components."
    )
    method: str = Field(default="", max_length=200, description="Required for VAS scales.")
    components: dict[str, Any] = Field(
        default_factory=dict,
        description='MASI: {"forehead": {"area", "darkness", "homogeneity"}, …}; Merz: {"state": "rest"}.',
    )


class AssessmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    glogau: int | None = Field(default=None, ge=1, le=4)
    fitzpatrick: int | None = Field(default=None, ge=1, le=6)
    goals: list[str] = Field(default_factory=list, max_length=10)
    notes: str = Field(default="", max_length=4000)
    findings: list[FindingIn] = Field(default_factory=list, max_length=100)


class FindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    concern: str
    zone: str
    side: str
    scale: str
    value: float
    method: str
    components: dict[str, Any]
    band: str | None = Field(default=None, description="Severity band where the scale defines one.")


class AdviceRead(BaseModel):
    code: str
    kind: Literal["expectation", "referral"]
    message: str
    reason: str
    source: str


class AssessmentRead(BaseModel):
    id: int
    patient_id: int
    assessed_at: datetime
    assessor_user_id: int
    glogau: int | None
    fitzpatrick: int | None
    goals: list[str]
    notes: str
    advice: list[AdviceRead]
    findings: list[FindingRead]
    concern_severity: dict[str, float] = Field(
        description="Worst severity per concern, 0 (none) to 1 (worst on its scale), most severe first."
    )


class ZoneRead(BaseModel):
    code: str
    label: str
    region: str
    laterality: str
    sides: list[str]
    source: str
