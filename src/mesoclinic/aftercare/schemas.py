from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mesoclinic.aftercare import rules

Severity = Literal[0, 1, 2, 3]


class CheckinAnswers(BaseModel):
    """A patient's answers: each expected symptom 0 (none) to 3 (severe), and any red flags."""

    model_config = ConfigDict(extra="forbid")

    symptoms: dict[str, Severity] = Field(default_factory=dict)
    red_flags: list[str] = Field(default_factory=list, max_length=20)
    note: str = Field(default="", max_length=2000)

    @field_validator("symptoms")
    @classmethod
    def _known_symptoms(cls, value: dict[str, int]) -> dict[str, int]:
        if unknown := sorted(set(value) - set(rules.reference().symptoms)):
            raise ValueError(f"unknown symptom(s): {', '.join(unknown)}")
        return value

    @field_validator("red_flags")
    @classmethod
    def _known_red_flags(cls, value: list[str]) -> list[str]:
        if unknown := sorted(set(value) - set(rules.reference().red_flags)):
            raise ValueError(f"unknown red flag(s): {', '.join(unknown)}")
        return sorted(set(value))


class CheckinRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    session_id: int
    patient_id: int
    label: str
    due_on: date
    completed_at: datetime | None
    answers: dict[str, Any] | None


class EscalationReasonRead(BaseModel):
    code: str
    urgency: str
    reason: str
    advice: str
    source: str


class EscalationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    clinic_id: int
    session_id: int | None
    checkin_id: int | None
    urgency: str
    reasons: list[EscalationReasonRead]
    status: str
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_note: str


class CheckinResult(BaseModel):
    checkin: CheckinRead
    escalation: EscalationRead | None
    advice: list[str] = Field(description="What the patient should do now, most urgent first.")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=5, max_length=4000)


class SymptomWindow(BaseModel):
    code: str
    label: str
    expected_days: int
    source: str


class AftercarePlan(BaseModel):
    title: str
    instructions: list[str]
    instructions_source: str
    checkins: list[CheckinRead]
    expected_symptoms: list[SymptomWindow]
    red_flags: dict[str, str]


Seriousness = Literal["serious", "non_serious"]
AESeverity = Literal["mild", "moderate", "severe"]
AEOutcome = Literal["resolved", "recovering", "ongoing", "resolved_with_sequelae", "fatal", "unknown"]


class AdverseEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: int | None = None
    suspected_lot_id: int | None = None
    escalation_id: int | None = None
    code: str = Field(min_length=2, max_length=60, description="e.g. infection, nodule, vascular_compromise")
    description: str = Field(min_length=5, max_length=4000)
    onset_on: date
    seriousness: Seriousness
    severity: AESeverity
    outcome: AEOutcome


class AdverseEventFollowUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=5, max_length=4000)
    seriousness: Seriousness
    severity: AESeverity
    outcome: AEOutcome


class AdverseEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    session_id: int | None
    suspected_lot_id: int | None
    escalation_id: int | None
    follows_up_id: int | None
    code: str
    description: str
    onset_on: date
    seriousness: str
    severity: str
    outcome: str
    reported_by_user_id: int
    created_at: datetime
