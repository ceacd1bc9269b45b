"""Session decisions: the enforced checklist, injection plausibility and the numbing wait.

Pure functions over plain data and ``data/protocol.yaml``; the service applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, Field

#: Steps that must be done, in this order, before any injection is recorded.
CHECKLIST_STEPS = ("screening_confirmed", "consent_confirmed", "skin_cleansed", "numbing")


class Technique(BaseModel):
    label: str
    usual_depth_mm: tuple[float, float]
    source: str = Field(min_length=10)


class NeedleReference(BaseModel):
    gauge_range: tuple[int, int]
    usual_gauge: tuple[int, int]
    usual_length_mm: tuple[float, float]
    source: str


class VolumeReference(BaseModel):
    allowed: tuple[float, float]
    usual: tuple[float, float]
    source: str


class NumbingReference(BaseModel):
    minimum_wait_minutes: int = Field(ge=0)
    source: str


class Protocol(BaseModel):
    version: str
    techniques: dict[str, Technique]
    needle: NeedleReference
    volume_per_point_ml: VolumeReference
    numbing: NumbingReference


@cache
def protocol() -> Protocol:
    text = resources.files("mesoclinic.treatment").joinpath("data/protocol.yaml").read_text()
    return Protocol.model_validate(yaml.safe_load(text))


@dataclass(frozen=True)
class InjectionEntry:
    zone: str
    side: str
    technique: str
    depth_mm: float
    volume_per_point_ml: float
    points: int
    needle_gauge: int
    needle_length_mm: float
    total_volume_ml: float | None = None


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message: str


TOTAL_TOLERANCE_ML = 0.005


def injection_problems(
    entry: InjectionEntry, zone_sides: dict[str, set[str]], ref: Protocol | None = None
) -> list[Problem]:
    """Refusals: an entry that cannot be true (unknown zone, depth beyond the needle, totals that
    do not add up, values outside any plausible range)."""
    ref = ref or protocol()
    problems: list[Problem] = []
    if entry.zone not in zone_sides:
        problems.append(Problem("zone", "unknown-zone", f"Unknown facial zone '{entry.zone}'."))
    elif entry.side not in zone_sides[entry.zone]:
        allowed = ", ".join(sorted(zone_sides[entry.zone]))
        problems.append(Problem("side", "invalid-side", f"Zone '{entry.zone}' takes side {allowed}."))
    if entry.technique not in ref.techniques:
        problems.append(Problem("technique", "unknown-technique", f"Unknown technique '{entry.technique}'."))
    if entry.depth_mm > entry.needle_length_mm:
        problems.append(
            Problem(
                "depth_mm",
                "depth-beyond-needle",
                f"Depth {entry.depth_mm} mm is deeper than the {entry.needle_length_mm} mm needle.",
            )
        )
    low, high = ref.needle.gauge_range
    if not low <= entry.needle_gauge <= high:
        problems.append(Problem("needle_gauge", "gauge-out-of-range", f"Needle gauge must be {low}-{high}G."))
    low_v, high_v = ref.volume_per_point_ml.allowed
    if not low_v <= entry.volume_per_point_ml <= high_v:
        problems.append(
            Problem(
                "volume_per_point_ml", "volume-out-of-range", f"Volume per point must be {low_v}-{high_v} mL."
            )
        )
    if entry.total_volume_ml is not None:
        expected = entry.volume_per_point_ml * entry.points
        if abs(entry.total_volume_ml - expected) > TOTAL_TOLERANCE_ML:
            problems.append(
                Problem(
                    "total_volume_ml",
                    "total-mismatch",
                    f"Total {entry.total_volume_ml} mL does not match {entry.points} points × "
                    f"{entry.volume_per_point_ml} mL = {expected:.3f} mL.",
                )
            )
    return problems


def injection_notices(entry: InjectionEntry, ref: Protocol | None = None) -> list[str]:
    """Flags for values that are possible but unusual; recorded, never refused."""
    ref = ref or protocol()
    notices = []
    technique = ref.techniques.get(entry.technique)
    if technique is not None:
        low, high = technique.usual_depth_mm
        if not low <= entry.depth_mm <= high:
            notices.append(
                f"Depth {entry.depth_mm} mm is outside the usual {low}-{high} mm for {technique.label}."
            )
    low_g, high_g = ref.needle.usual_gauge
    if not low_g <= entry.needle_gauge <= high_g:
        notices.append(f"Needle {entry.needle_gauge}G is outside the usual {low_g}-{high_g}G.")
    low_v, high_v = ref.volume_per_point_ml.usual
    if not low_v <= entry.volume_per_point_ml <= high_v:
        notices.append(f"{entry.volume_per_point_ml} mL per point is outside the usual {low_v}-{high_v} mL.")
    return notices


def total_volume(volume_per_point_ml: float, points: int) -> float:
    return round(volume_per_point_ml * points, 4)


def numbing_ready_at(checklist: dict[str, Any], ref: Protocol | None = None) -> datetime | None:
    """When injecting may start: the application time plus the wait, or None when declined."""
    step = checklist.get("numbing") or {}
    if step.get("declined_reason"):
        return None
    applied = datetime.fromisoformat(step["applied_at"])
    wait = max(int(step.get("wait_minutes", 0)), (ref or protocol()).numbing.minimum_wait_minutes)
    return applied + timedelta(minutes=wait)


def missing_steps(checklist: dict[str, Any]) -> list[str]:
    return [step for step in CHECKLIST_STEPS if not checklist.get(step)]
