"""The contraindication rule set: a versioned data file, validated when it is loaded.

The facts (which rule, how long to wait, why, according to whom) live in
``data/contraindications.yaml`` so that clinicians can review and clinics can adjust them without
touching code; ``rules.py`` only knows how to evaluate the few kinds of trigger defined here.
This module imports nothing from other domains: the intake schema takes its vocabulary from it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

DEFAULT_RULESET_PATH = Path(__file__).parent / "data" / "contraindications.yaml"

Kind = Literal["absolute", "defer", "relative"]
#: How strongly each kind stops treatment; the outcome of a screening is the worst finding.
KIND_SEVERITY: dict[str, int] = {"relative": 1, "defer": 2, "absolute": 2}

#: Yes/no questions of the intake that a rule may test (fields of ``IntakeAnswers``).
BOOLEAN_ANSWERS = ("pregnant", "breastfeeding", "planning_pregnancy")
#: Dated answers of the intake that a rule may test (fields of ``IntakeAnswers``).
DATE_ANSWERS = ("vaccination_on", "antibiotics_until")
#: ``PreviousProcedure.category`` values (see ``models/patient.py``).
ProcedureCategory = Literal[
    "laser", "peel", "facial_surgery", "filler", "toxin", "mesotherapy", "microneedling", "other"
]
PROCEDURE_CATEGORIES: tuple[str, ...] = get_args(ProcedureCategory)

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
RuleCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=60)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


def _is_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s]+\.[^\s]+", value):
        raise ValueError("must be an http(s) URL")
    return value


Url = Annotated[str, AfterValidator(_is_url)]


def normalise_name(value: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form of a substance name."""
    return " ".join(re.sub(r"[^\w]+", " ", value.casefold()).split())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Anaesthetic(_Strict):
    """A topical anaesthetic used by default before injections: an allergy to it always counts."""

    code: Code
    names: tuple[Text, ...] = Field(min_length=1)


class Vocabulary(_Strict):
    """Answer codes of the intake questionnaire, each with the label a patient reads."""

    conditions: dict[Code, Text]
    skin_problems: dict[Code, Text]
    drug_classes: dict[Code, Text]


class Trigger(_Strict):
    """One way a rule can fire; exactly one field is set. A rule fires if any trigger does."""

    answer: Literal["pregnant", "breastfeeding", "planning_pregnancy"] | None = None
    condition: tuple[Code, ...] | None = None
    skin_problem: tuple[Code, ...] | None = None
    #: Medication of these classes taken on the day, or stopped fewer than ``waiting_days`` before.
    medication: tuple[Code, ...] | None = None
    #: Previous procedure of these categories fewer than ``waiting_days`` before the day.
    procedure: tuple[ProcedureCategory, ...] | None = None
    #: A dated intake answer fewer than ``waiting_days`` before the day (or after it).
    answer_date: Literal["vaccination_on", "antibiotics_until"] | None = None
    #: An allergy matching a planned ingredient or a default anaesthetic.
    allergy: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        set_fields = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(set_fields) != 1:
            raise ValueError(f"a trigger sets exactly one of {', '.join(type(self).model_fields)}")
        value = getattr(self, set_fields[0])
        if isinstance(value, tuple) and not value:
            raise ValueError(f"{set_fields[0]} lists no code")
        return self

    @property
    def dated(self) -> bool:
        """Whether the trigger looks at dates, and so needs ``waiting_days``."""
        return self.medication is not None or self.procedure is not None or self.answer_date is not None


class Rule(_Strict):
    code: RuleCode
    kind: Kind
    #: Plain language, read by the patient and the clinician.
    reason: Text
    #: What the clinician may do about it (shown with relative findings such as herpes history).
    advice: str = ""
    source: Url
    #: Why this waiting period, which sources disagree, what was chosen: for the reviewer.
    note: str = ""
    #: Days after the triggering date on which the rule stops applying (the reconsider date).
    waiting_days: int | None = Field(default=None, ge=0, le=3650)
    when: tuple[Trigger, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _waiting_where_dated(self) -> Rule:
        dated = any(t.dated for t in self.when)
        needs_days = any(t.procedure is not None or t.answer_date is not None for t in self.when)
        if needs_days and not self.waiting_days:
            raise ValueError(f"rule {self.code}: a procedure or dated-answer trigger needs waiting_days > 0")
        if self.waiting_days is not None and not dated:
            raise ValueError(f"rule {self.code}: waiting_days without a dated trigger")
        return self


class Ruleset(_Strict):
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    #: Named sources; rules cite them (YAML anchors) so each URL is written once.
    sources: dict[str, Url] = Field(default_factory=dict)
    anaesthetics: tuple[Anaesthetic, ...]
    vocabulary: Vocabulary
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Ruleset:
        codes = [r.code for r in self.rules]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule codes: {', '.join(duplicates)}")
        vocab = self.vocabulary
        for rule in self.rules:
            for trigger in rule.when:
                for field, known in (
                    ("condition", vocab.conditions),
                    ("skin_problem", vocab.skin_problems),
                    ("medication", vocab.drug_classes),
                ):
                    unknown = sorted(set(getattr(trigger, field) or ()) - set(known))
                    if unknown:
                        raise ValueError(f"rule {rule.code}: unknown {field} codes {', '.join(unknown)}")
        return self

    def rule(self, code: str) -> Rule | None:
        return next((r for r in self.rules if r.code == code), None)


def parse_ruleset(text: str) -> Ruleset:
    """Validate a rule set given as YAML text; raises ``ValueError`` naming what is wrong."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("a rule set is a YAML mapping")
    return Ruleset.model_validate(data)


def load_ruleset(path: Path) -> Ruleset:
    return parse_ruleset(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def default_ruleset() -> Ruleset:
    """The rule set shipped with the package, loaded once per process."""
    return load_ruleset(DEFAULT_RULESET_PATH)
