"""Contraindication screening as pure decisions: the part a clinician reviews.

``screen`` takes what is known about the patient (latest intake answers, recorded medications,
allergies and previous procedures, the planned ingredients) and a rule set, and says which rules
apply on a given day, why, according to whom, and when a deferral ends. No database, no clock:
the day is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from mesoclinic.patients.schemas import IntakeAnswers
from mesoclinic.screening.ruleset import KIND_SEVERITY, Rule, Ruleset, Trigger, normalise_name

Outcome = Literal["clear", "needs_override", "blocked"]
OUTCOME_SEVERITY: dict[str, int] = {"clear": 0, "needs_override": 1, "blocked": 2}
BLOCKING_KINDS = frozenset({"absolute", "defer"})


@dataclass(frozen=True)
class MedicationFact:
    name: str
    drug_class: str = ""
    started_on: date | None = None
    stopped_on: date | None = None


@dataclass(frozen=True)
class AllergyFact:
    substance: str
    reaction: str = ""


@dataclass(frozen=True)
class ProcedureFact:
    procedure: str
    category: str
    performed_on: date


@dataclass(frozen=True)
class PlannedIngredient:
    """An ingredient of the planned cocktail: its catalogue code and the names it goes by."""

    code: str
    names: tuple[str, ...] = ()

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.code, *self.names)

    @classmethod
    def coerce(cls, item: PlannedIngredient | tuple[str, Iterable[str]]) -> PlannedIngredient:
        """Also takes ``(code, names)`` pairs, as ``formulation.service.final_ingredients`` gives."""
        if isinstance(item, PlannedIngredient):
            return item
        code, names = item
        return cls(code=code, names=tuple(names))


@dataclass(frozen=True)
class ScreeningInput:
    answers: IntakeAnswers
    medications: tuple[MedicationFact, ...] = ()
    allergies: tuple[AllergyFact, ...] = ()
    procedures: tuple[ProcedureFact, ...] = ()
    planned_ingredients: tuple[PlannedIngredient, ...] = ()


@dataclass(frozen=True)
class Finding:
    code: str
    kind: str
    reason: str
    source: str
    #: The first day the rule no longer applies; ``None`` when it is not a matter of waiting
    #: (absolute, relative) or the end is not known yet (still taking the medicine).
    reconsider_on: date | None = None
    #: What in the record triggered it (for the clinician), e.g. the matching allergy.
    detail: str = ""
    advice: str = ""

    @property
    def blocking(self) -> bool:
        return self.kind in BLOCKING_KINDS

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "reason": self.reason,
            "source": self.source,
            "reconsider_on": self.reconsider_on.isoformat() if self.reconsider_on else None,
            "detail": self.detail,
            "advice": self.advice,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        reconsider = data.get("reconsider_on")
        return cls(
            code=data["code"],
            kind=data["kind"],
            reason=data.get("reason", ""),
            source=data.get("source", ""),
            reconsider_on=date.fromisoformat(reconsider) if reconsider else None,
            detail=data.get("detail", ""),
            advice=data.get("advice", ""),
        )


@dataclass(frozen=True)
class ScreeningDecision:
    outcome: Outcome
    findings: tuple[Finding, ...]
    ruleset_version: str
    on_date: date

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]


@dataclass(frozen=True)
class _Hit:
    """One trigger that fired: what matched, and the day it stops (``None``: not by waiting)."""

    detail: str
    until: date | None = None
    open_ended: bool = False


@dataclass(frozen=True)
class Clearance:
    """Whether a stored screening lets treatment go ahead, given the overrides recorded for it."""

    blocking: tuple[Finding, ...] = ()
    needs_override: tuple[Finding, ...] = ()
    overridden: tuple[str, ...] = field(default_factory=tuple)

    @property
    def cleared(self) -> bool:
        return not self.blocking and not self.needs_override

    @property
    def reconsider_on(self) -> date | None:
        """The first day no blocking finding applies, if every one of them ends on a known day."""
        dates = [f.reconsider_on for f in self.blocking]
        if not dates or any(d is None for d in dates):
            return None
        return max(d for d in dates if d is not None)


def outcome_of(findings: Iterable[Finding]) -> Outcome:
    """The worst finding decides: any absolute or defer blocks, relative ones need an override."""
    severity = max((KIND_SEVERITY[f.kind] for f in findings), default=0)
    return {0: "clear", 1: "needs_override", 2: "blocked"}[severity]  # type: ignore[return-value]


def clearance(findings: Sequence[Finding], overridden_codes: Iterable[str]) -> Clearance:
    overridden = frozenset(overridden_codes)
    return Clearance(
        blocking=tuple(f for f in findings if f.blocking),
        needs_override=tuple(f for f in findings if f.kind == "relative" and f.code not in overridden),
        overridden=tuple(sorted(overridden & {f.code for f in findings if f.kind == "relative"})),
    )


def allergy_matches(substance: str, name: str) -> bool:
    """Same substance, ignoring case, punctuation and spacing; or one names the other as whole
    words ("Lidocaine cream" and "lidocaine", "lidocaine" and "lidocaine hydrochloride")."""
    a, b = normalise_name(substance), normalise_name(name)
    if not a or not b:
        return False
    return a == b or f" {b} " in f" {a} " or f" {a} " in f" {b} "


def _medication_hits(
    medications: Iterable[MedicationFact], classes: tuple[str, ...], waiting: int, on_date: date
) -> list[_Hit]:
    """Taken on the day, or stopped fewer than ``waiting`` days before it."""
    hits = []
    for med in medications:
        if med.drug_class not in classes:
            continue
        if med.started_on is not None and med.started_on > on_date:
            continue  # not started yet on that day
        if med.stopped_on is None:
            hits.append(_Hit(f"{med.name} ({med.drug_class}), no stop date", open_ended=True))
            continue
        until = med.stopped_on + timedelta(days=waiting)
        if on_date < until:
            hits.append(_Hit(f"{med.name} ({med.drug_class}) stopped {med.stopped_on.isoformat()}", until))
    return hits


def _trigger_hits(
    trigger: Trigger, rule: Rule, data: ScreeningInput, ruleset: Ruleset, on: date
) -> list[_Hit]:
    answers = data.answers
    waiting = rule.waiting_days or 0
    if trigger.answer is not None:
        return [_Hit(trigger.answer.replace("_", " "))] if getattr(answers, trigger.answer) else []
    if trigger.condition is not None:
        return [_Hit(code) for code in trigger.condition if code in answers.conditions]
    if trigger.skin_problem is not None:
        return [_Hit(code) for code in trigger.skin_problem if code in answers.skin_problems]
    if trigger.medication is not None:
        return _medication_hits(data.medications, trigger.medication, waiting, on)
    if trigger.procedure is not None:
        return [
            _Hit(f"{p.procedure} ({p.category}) on {p.performed_on.isoformat()}", until)
            for p in data.procedures
            if p.category in trigger.procedure
            and p.performed_on <= on < (until := p.performed_on + timedelta(days=waiting))
        ]
    if trigger.answer_date is not None:
        when: date | None = getattr(answers, trigger.answer_date)
        if when is None:
            return []
        until = when + timedelta(days=waiting)
        return (
            [_Hit(f"{trigger.answer_date.replace('_', ' ')} {when.isoformat()}", until)] if on < until else []
        )
    if trigger.allergy:
        return _allergy_hits(data, ruleset)
    raise AssertionError(f"rule {rule.code}: trigger with nothing set")  # the loader forbids it


def _allergy_hits(data: ScreeningInput, ruleset: Ruleset) -> list[_Hit]:
    candidates = [(f"planned ingredient {i.code}", i.all_names) for i in data.planned_ingredients]
    candidates += [(f"anaesthetic {a.code}", a.names) for a in ruleset.anaesthetics]
    hits = []
    for allergy in data.allergies:
        for label, names in candidates:
            if any(allergy_matches(allergy.substance, name) for name in names):
                hits.append(_Hit(f"allergy to {allergy.substance.strip()} matches {label}"))
    return hits


def evaluate(rule: Rule, data: ScreeningInput, ruleset: Ruleset, on_date: date) -> Finding | None:
    """One rule on one day: a finding if any of its triggers fires."""
    hits = [hit for trigger in rule.when for hit in _trigger_hits(trigger, rule, data, ruleset, on_date)]
    if not hits:
        return None
    reconsider: date | None = None
    if rule.waiting_days is not None and not any(h.open_ended for h in hits):
        dated = [h.until for h in hits if h.until is not None]
        # Every hit of a dated rule carries its end; the latest is when the rule stops applying.
        reconsider = max(dated) if len(dated) == len(hits) else None
    return Finding(
        code=rule.code,
        kind=rule.kind,
        reason=rule.reason,
        source=rule.source,
        reconsider_on=reconsider,
        detail="; ".join(dict.fromkeys(h.detail for h in hits)),
        advice=rule.advice,
    )


def screen(data: ScreeningInput, ruleset: Ruleset, on_date: date) -> ScreeningDecision:
    """Every rule of the set over the patient's record on ``on_date``: blocking findings first."""
    findings = [f for rule in ruleset.rules if (f := evaluate(rule, data, ruleset, on_date)) is not None]
    findings.sort(key=lambda f: -KIND_SEVERITY[f.kind])  # stable: rule-set order within a kind
    return ScreeningDecision(
        outcome=outcome_of(findings),
        findings=tuple(findings),
        ruleset_version=ruleset.version,
        on_date=on_date,
    )
