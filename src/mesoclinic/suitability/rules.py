"""The public pre-consultation suitability check, as pure decisions.

A prospective patient's short questionnaire is turned into the SAME inputs the clinic uses: a
``ScreeningInput`` screened with the default contraindication rule set, and the concerns passed to
the formulation proposer and the default course plan. The answer is honest and conservative:

* ``not_now``  — a blocking rule applies (absolute or deferral); why, and when to reconsider;
* ``talk_first`` — a relative rule applies, or mesotherapy has no evidenced ingredient for a concern;
* ``likely`` — nothing in the answers stands in the way (a consultation still decides).

No I/O, no clock: the day is an argument. Nothing here is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from mesoclinic.aftercare import rules as aftercare
from mesoclinic.formulation import rules as formulation
from mesoclinic.patients.schemas import IntakeAnswers
from mesoclinic.planning import rules as planning
from mesoclinic.screening import rules as screening
from mesoclinic.screening.ruleset import ProcedureCategory, Ruleset, default_ruleset

Verdict = Literal["likely", "talk_first", "not_now"]

#: Shown whatever the verdict: what the evidence says about how long results last and what
#: mesotherapy cannot do. Sources copied from shared/domain/reference.md §8 and the evidence caveat.
DURABILITY = (
    "Results are modest and last months, not years: studies measured effects for about 3 to 9 "
    "months, so a maintenance session about every 6 months is usual."
)
DURABILITY_SOURCE = (
    "reference.md §8 expectations (durability about 3-9 months; Kerscher 2021, "
    "https://paperexplained.cn/articles/paper/detail/6bd360bbff8155e0a3c8615cdd18bba9d4ceec82); "
    "maintenance about every 6 months [clinic consensus]"
)
NOT_A_FACELIFT = (
    "Mesotherapy improves the quality of the skin (hydration, fine lines, radiance); measured "
    "improvements are about 10-40%. It does not lift sagging tissue or remove skin, so it does not "
    "replace a facelift. A 2021 review found no conclusive efficacy evidence for facial rejuvenation."
)
NOT_A_FACELIFT_SOURCE = "reference.md §8 expectations; https://pubmed.ncbi.nlm.nih.gov/34516073"

#: Previous procedures the questionnaire asks about (the ones the rule set defers treatment for).
ASKED_PROCEDURES: tuple[ProcedureCategory, ...] = ("laser", "peel", "facial_surgery")


@dataclass(frozen=True)
class Medication:
    """A medicine of a screening drug class, taken now (``stopped_on`` None) or stopped on a day."""

    drug_class: str
    stopped_on: date | None = None


@dataclass(frozen=True)
class Answers:
    """What the public questionnaire asks. Codes come from the screening vocabulary and the
    assessment's concern list; the page validates them against those before building this."""

    concerns: tuple[str, ...] = ()
    pregnant: bool = False
    breastfeeding: bool = False
    planning_pregnancy: bool = False
    conditions: frozenset[str] = frozenset()
    skin_problems: frozenset[str] = frozenset()
    medications: tuple[Medication, ...] = ()
    allergies: tuple[str, ...] = ()
    #: The last day of each asked-about procedure category the person had.
    procedures: Mapping[str, date] = field(default_factory=dict)
    vaccination_on: date | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    kind: str
    reason: str
    source: str
    reconsider_on: date | None = None


@dataclass(frozen=True)
class CourseOutline:
    sessions: int
    interval_min_days: int
    interval_max_days: int
    session_minutes: int
    maintenance_interval_days: int
    ingredients: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class SideEffect:
    label: str
    expected_days: int
    source: str


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    reasons: tuple[Reason, ...]
    #: The first day every deferral has ended (``None`` when not a matter of waiting).
    reconsider_on: date | None
    #: Concerns no evidenced catalogue ingredient addresses (talk to a practitioner about them).
    unaddressed: tuple[str, ...]
    course: CourseOutline | None
    side_effects: tuple[SideEffect, ...]
    ruleset_version: str


def screening_input(
    answers: Answers, planned: Sequence[screening.PlannedIngredient] = ()
) -> screening.ScreeningInput:
    """The clinic's screening input for these answers (what an intake would hold)."""
    intake = IntakeAnswers(
        pregnant=answers.pregnant,
        breastfeeding=answers.breastfeeding,
        planning_pregnancy=answers.planning_pregnancy,
        conditions=set(answers.conditions),
        skin_problems=set(answers.skin_problems),
        vaccination_on=answers.vaccination_on,
    )
    return screening.ScreeningInput(
        answers=intake,
        medications=tuple(
            screening.MedicationFact(name=m.drug_class, drug_class=m.drug_class, stopped_on=m.stopped_on)
            for m in answers.medications
        ),
        allergies=tuple(screening.AllergyFact(substance=a) for a in answers.allergies if a.strip()),
        procedures=tuple(
            screening.ProcedureFact(procedure=category, category=category, performed_on=on)
            for category, on in sorted(answers.procedures.items())
        ),
        planned_ingredients=tuple(planned),
    )


def _planned(proposal: formulation.Proposal) -> list[screening.PlannedIngredient]:
    table = formulation.catalogue().by_code()
    return [
        screening.PlannedIngredient(code=i.code, names=table[i.code].names if i.code in table else (i.name,))
        for i in proposal.ingredients
    ]


def _reconsider(findings: Iterable[screening.Finding]) -> date | None:
    """When every blocking finding is a deferral with an end date, the latest of them."""
    blocking = [f for f in findings if f.blocking]
    if not blocking or any(f.kind != "defer" or f.reconsider_on is None for f in blocking):
        return None
    return max(f.reconsider_on for f in blocking if f.reconsider_on is not None)


def assess(answers: Answers, on_date: date, ruleset: Ruleset | None = None) -> Result:
    """The honest answer for these answers on ``on_date``, from the clinic's own rules."""
    ruleset = ruleset or default_ruleset()
    proposal = formulation.propose(dict.fromkeys(answers.concerns, 1.0), list(answers.allergies))
    decision = screening.screen(screening_input(answers, _planned(proposal)), ruleset, on_date)
    unaddressed = tuple(c for c in answers.concerns if not any(c in i.concerns for i in proposal.ingredients))
    if decision.outcome == "blocked":
        verdict: Verdict = "not_now"
    elif decision.outcome == "needs_override" or unaddressed or not answers.concerns:
        verdict = "talk_first"
    else:
        verdict = "likely"
    course = None
    if proposal.ingredients:
        defaults = planning.default_course(answers.concerns, ingredient_codes=proposal.codes)
        course = CourseOutline(
            sessions=defaults.plan.sessions,
            interval_min_days=defaults.plan.interval_min_days,
            interval_max_days=defaults.plan.interval_max_days,
            session_minutes=defaults.plan.session_minutes,
            maintenance_interval_days=defaults.plan.maintenance_interval_days,
            ingredients=tuple(i.name for i in proposal.ingredients),
            source=defaults.source,
        )
    reference = aftercare.reference()
    return Result(
        verdict=verdict,
        reasons=tuple(Reason(f.code, f.kind, f.reason, f.source, f.reconsider_on) for f in decision.findings),
        reconsider_on=_reconsider(decision.findings) if verdict == "not_now" else None,
        unaddressed=unaddressed,
        course=course,
        side_effects=tuple(
            SideEffect(s.label, s.expected_days, s.source) for s in reference.symptoms.values()
        ),
        ruleset_version=decision.ruleset_version,
    )
