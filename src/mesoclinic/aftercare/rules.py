"""Aftercare decisions: when check-ins fall due and which answers are escalated, how urgently.

Pure functions over the follow-up reference data (``data/followup.yaml``), so a clinician can
review exactly what triggers an escalation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, Field


class Urgency(enum.IntEnum):
    """Ordered: a higher value is more urgent."""

    ROUTINE = 1
    URGENT = 2
    EMERGENCY = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class ScheduledCheckin(BaseModel):
    label: str
    days_after: int = Field(ge=0)


class CheckinSchedule(BaseModel):
    source: str
    schedule: list[ScheduledCheckin]


class Symptom(BaseModel):
    label: str
    expected_days: int = Field(ge=0)
    source: str = Field(min_length=10)


class RedFlag(BaseModel):
    label: str
    urgency: Literal["emergency", "urgent", "routine"]
    advice: str
    source: str = Field(min_length=10)


class FollowUpReference(BaseModel):
    version: str
    checkins: CheckinSchedule
    symptoms: dict[str, Symptom]
    severe_symptom_urgency: Literal["emergency", "urgent", "routine"]
    red_flags: dict[str, RedFlag]


class AftercareInstructions(BaseModel):
    version: str
    title: str
    source: str
    items: list[str]


@cache
def reference() -> FollowUpReference:
    text = resources.files("mesoclinic.aftercare").joinpath("data/followup.yaml").read_text()
    return FollowUpReference.model_validate(yaml.safe_load(text))


@cache
def instructions() -> AftercareInstructions:
    text = resources.files("mesoclinic.aftercare").joinpath("data/instructions.yaml").read_text()
    return AftercareInstructions.model_validate(yaml.safe_load(text))


def checkin_schedule(session_on: date, ref: FollowUpReference | None = None) -> list[tuple[str, date]]:
    """The check-ins a signed session triggers: ``(label, due date)`` in date order."""
    ref = ref or reference()
    return sorted(
        ((c.label, session_on + timedelta(days=c.days_after)) for c in ref.checkins.schedule),
        key=lambda item: item[1],
    )


@dataclass(frozen=True)
class EscalationReason:
    code: str
    urgency: Urgency
    reason: str
    advice: str
    source: str


def evaluate_checkin(
    symptoms: dict[str, int],
    red_flags: set[str],
    days_since_session: int,
    ref: FollowUpReference | None = None,
) -> list[EscalationReason]:
    """Every reason to escalate this answer, most urgent first; empty when all is as expected.

    A red flag is escalated at any time after treatment. An expected symptom is escalated when it
    is still present after its expected window, or when it is severe (3 of 3).
    """
    ref = ref or reference()
    reasons: list[EscalationReason] = []
    for code in sorted(red_flags):
        flag = ref.red_flags[code]
        reasons.append(
            EscalationReason(
                f"red-flag:{code}", Urgency[flag.urgency.upper()], flag.label, flag.advice, flag.source
            )
        )
    for code, severity in sorted(symptoms.items()):
        if severity <= 0:
            continue
        symptom = ref.symptoms[code]
        if severity >= 3:
            reasons.append(
                EscalationReason(
                    f"severe:{code}",
                    Urgency[ref.severe_symptom_urgency.upper()],
                    f"{symptom.label} reported as severe",
                    "The practitioner will review the patient today.",
                    symptom.source,
                )
            )
        elif days_since_session > symptom.expected_days:
            reasons.append(
                EscalationReason(
                    f"prolonged:{code}",
                    Urgency.ROUTINE,
                    f"{symptom.label} still present on day {days_since_session} "
                    f"(expected to settle within {symptom.expected_days} days)",
                    "The practitioner will review at the next opportunity.",
                    symptom.source,
                )
            )
    return sorted(reasons, key=lambda r: (-r.urgency, r.code))


def overall_urgency(reasons: list[EscalationReason]) -> Urgency | None:
    return max((r.urgency for r in reasons), default=None)
