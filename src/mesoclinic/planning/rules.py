"""Course planning rules: default courses, plan bounds and interval arithmetic. Pure, no I/O.

What a clinician reviews here (facts and sources in ``data/protocols.yaml``):

- ``default_course``: the protocol follows the final cocktail's ingredients, else the most severe
  concern, else the standard HA course; its published session count is kept within the default
  range (3–5) and its interval within the allowed bounds.
- ``validate_plan``: 3–6 sessions, 7 ≤ min ≤ max ≤ 28 days between sessions, session length and
  maintenance interval within bounds, all data-driven and overridable per clinic.
- ``session_window``: the next session is due between previous + min and previous + max days.
- ``planned_dates``: sessions at the middle of the window, so every gap lies inside it.
- ``maintenance_due``: the last session + the maintenance interval (default 182 days).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mesoclinic.assessment.rules import Problem


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bounds(_Frozen):
    sessions_min: int = Field(ge=1)
    sessions_max: int = Field(le=12)  # the table's check constraint
    default_sessions_min: int
    default_sessions_max: int
    interval_min_days: int = Field(ge=1)
    interval_max_days: int
    session_minutes_default: int
    session_minutes_min: int = Field(ge=1)
    session_minutes_max: int
    maintenance_default_days: int
    maintenance_min_days: int = Field(ge=1)
    maintenance_max_days: int
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        chains = [
            (self.sessions_min, self.default_sessions_min, self.default_sessions_max, self.sessions_max),
            (self.interval_min_days, self.interval_max_days),
            (self.session_minutes_min, self.session_minutes_default, self.session_minutes_max),
            (self.maintenance_min_days, self.maintenance_default_days, self.maintenance_max_days),
        ]
        for chain in chains:
            if list(chain) != sorted(chain):
                raise ValueError(f"bounds out of order: {chain}")
        return self


class BoundsOverride(_Frozen):
    """A clinic's own bounds; unset fields keep the defaults."""

    sessions_min: int | None = None
    sessions_max: int | None = None
    default_sessions_min: int | None = None
    default_sessions_max: int | None = None
    interval_min_days: int | None = None
    interval_max_days: int | None = None
    session_minutes_default: int | None = None
    session_minutes_min: int | None = None
    session_minutes_max: int | None = None
    maintenance_default_days: int | None = None
    maintenance_min_days: int | None = None
    maintenance_max_days: int | None = None
    source: str = Field(min_length=1)


class Protocol(_Frozen):
    code: str
    name: str
    sessions: int = Field(ge=1)
    interval_min_days: int = Field(ge=1)
    interval_max_days: int
    for_ingredients: tuple[str, ...] = ()
    for_concerns: tuple[str, ...] = ()
    source: str = Field(min_length=1)


class Protocols(_Frozen):
    version: str
    bounds: Bounds
    clinic_bounds: dict[str, BoundsOverride] = Field(default_factory=dict)
    protocols: tuple[Protocol, ...]

    @model_validator(mode="after")
    def _has_standard(self) -> Protocols:
        if STANDARD not in {p.code for p in self.protocols}:
            raise ValueError(f"the {STANDARD!r} protocol is the fallback and must exist")
        for clinic in self.clinic_bounds:
            _merge(self.bounds, self.clinic_bounds[clinic])  # validates each override
        return self


STANDARD = "standard"


def _merge(base: Bounds, override: BoundsOverride) -> Bounds:
    changes = {k: v for k, v in override.model_dump().items() if v is not None}
    return Bounds.model_validate({**base.model_dump(), **changes})


@functools.cache
def reference() -> Protocols:
    """``data/protocols.yaml``, validated once per process."""
    text = resources.files("mesoclinic.planning").joinpath("data", "protocols.yaml").read_text("utf-8")
    raw: Any = yaml.safe_load(text)
    return Protocols.model_validate(raw)


def bounds_for(clinic_slug: str | None = None) -> Bounds:
    """The plan bounds for a clinic: the defaults, with the clinic's overrides if it has any."""
    ref = reference()
    override = ref.clinic_bounds.get(clinic_slug or "")
    return _merge(ref.bounds, override) if override else ref.bounds


def protocol(code: str) -> Protocol:
    for p in reference().protocols:
        if p.code == code:
            return p
    raise LookupError(f"unknown protocol {code!r}")


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class Plan:
    sessions: int
    interval_min_days: int
    interval_max_days: int
    maintenance_interval_days: int = 182
    session_minutes: int = 30

    @property
    def nominal_interval_days(self) -> int:
        """The middle of the window (rounded down): the gap ``planned_dates`` uses."""
        return (self.interval_min_days + self.interval_max_days) // 2


@dataclass(frozen=True)
class CourseDefaults:
    protocol: str
    plan: Plan
    rationale: str
    source: str


def choose_protocol(concerns: Sequence[str], ingredient_codes: Sequence[str] = ()) -> Protocol:
    """By the final cocktail's ingredients first, then by the most severe concern, else standard.
    ``concerns`` are ordered most severe first."""
    protocols = reference().protocols
    for p in protocols:
        if set(p.for_ingredients) & set(ingredient_codes):
            return p
    for concern in concerns:
        for p in protocols:
            if concern in p.for_concerns:
                return p
    return protocol(STANDARD)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def default_course(
    concerns: Sequence[str],
    protocol_code: str | None = None,
    ingredient_codes: Sequence[str] = (),
    bounds: Bounds | None = None,
) -> CourseDefaults:
    """The default course: sessions within the default range (3–5), intervals within bounds,
    ~30 minutes each, maintenance about every 6 months [clinic consensus]."""
    b = bounds or bounds_for()
    chosen = protocol(protocol_code) if protocol_code else choose_protocol(concerns, ingredient_codes)
    sessions = _clamp(chosen.sessions, b.default_sessions_min, b.default_sessions_max)
    low = _clamp(chosen.interval_min_days, b.interval_min_days, b.interval_max_days)
    high = _clamp(chosen.interval_max_days, low, b.interval_max_days)
    notes = [
        f"Protocol {chosen.code}: {chosen.sessions} sessions, every {chosen.interval_min_days}"
        f"–{chosen.interval_max_days} days."
    ]
    if sessions != chosen.sessions:
        notes.append(
            f"Default kept to {sessions} sessions (default range {b.default_sessions_min}–"
            f"{b.default_sessions_max}; up to {b.sessions_max} may be chosen)."
        )
    if (low, high) != (chosen.interval_min_days, chosen.interval_max_days):
        notes.append(f"Interval kept within {b.interval_min_days}–{b.interval_max_days} days.")
    notes.append(f"Maintenance about every {b.maintenance_default_days} days [clinic consensus].")
    return CourseDefaults(
        protocol=chosen.code,
        plan=Plan(
            sessions=sessions,
            interval_min_days=low,
            interval_max_days=high,
            maintenance_interval_days=b.maintenance_default_days,
            session_minutes=b.session_minutes_default,
        ),
        rationale=" ".join(notes),
        source=f"{chosen.source}; {b.source}",
    )


def with_changes(plan: Plan, changes: Mapping[str, int]) -> Plan:
    """The plan with some fields changed (names as on the course: ``sessions_planned``…)."""
    names = {"sessions_planned": "sessions"}
    return replace(plan, **{names.get(k, k): v for k, v in changes.items()})


def validate_plan(plan: Plan, bounds: Bounds | None = None) -> list[Problem]:
    """Rule codes: sessions-out-of-range, interval-out-of-range, interval-order,
    session-minutes-out-of-range, maintenance-out-of-range. Fields are the course's column names."""
    b = bounds or bounds_for()
    problems: list[Problem] = []
    if not b.sessions_min <= plan.sessions <= b.sessions_max:
        problems.append(
            Problem(
                "sessions-out-of-range",
                "sessions_planned",
                f"A course has {b.sessions_min} to {b.sessions_max} sessions.",
            )
        )
    for name, value in (
        ("interval_min_days", plan.interval_min_days),
        ("interval_max_days", plan.interval_max_days),
    ):
        if not b.interval_min_days <= value <= b.interval_max_days:
            problems.append(
                Problem(
                    "interval-out-of-range",
                    name,
                    f"Sessions are {b.interval_min_days} to {b.interval_max_days} days apart.",
                )
            )
    if plan.interval_min_days > plan.interval_max_days:
        problems.append(
            Problem(
                "interval-order", "interval_max_days", "The longest interval cannot be below the shortest."
            )
        )
    if not b.session_minutes_min <= plan.session_minutes <= b.session_minutes_max:
        problems.append(
            Problem(
                "session-minutes-out-of-range",
                "session_minutes",
                f"A session lasts {b.session_minutes_min} to {b.session_minutes_max} minutes.",
            )
        )
    if not b.maintenance_min_days <= plan.maintenance_interval_days <= b.maintenance_max_days:
        problems.append(
            Problem(
                "maintenance-out-of-range",
                "maintenance_interval_days",
                f"Maintenance is every {b.maintenance_min_days} to {b.maintenance_max_days} days.",
            )
        )
    return problems


# --------------------------------------------------------------------------- interval arithmetic


class Interval(typing.Protocol):
    """Anything with an interval window: a ``Plan`` or a stored ``CoursePlan``."""

    @property
    def interval_min_days(self) -> int: ...

    @property
    def interval_max_days(self) -> int: ...


def session_window(previous_session_on: date, plan: Interval) -> tuple[date, date]:
    """The earliest and latest dates for the next session after one on ``previous_session_on``."""
    return (
        previous_session_on + timedelta(days=plan.interval_min_days),
        previous_session_on + timedelta(days=plan.interval_max_days),
    )


def is_within_window(previous_session_on: date, on_date: date, plan: Interval) -> bool:
    earliest, latest = session_window(previous_session_on, plan)
    return earliest <= on_date <= latest


def planned_dates(start_on: date, plan: Plan) -> list[date]:
    """Every session's planned date, the first on ``start_on``, then one nominal interval apart."""
    gap = timedelta(days=plan.nominal_interval_days)
    return [start_on + gap * n for n in range(plan.sessions)]


def maintenance_due(last_session_on: date, plan: Plan) -> date:
    """When maintenance is due after the course's last session."""
    return last_session_on + timedelta(days=plan.maintenance_interval_days)
