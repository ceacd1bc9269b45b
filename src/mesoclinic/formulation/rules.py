"""Formulation rules: the ingredient catalogue, the proposed cocktail and the check of the final one.

What a clinician reviews here:

- ``propose``: one best-evidenced ingredient per assessed concern, most severe concern first
  (HA alone had larger effects than cocktails, so the cocktail stays small); vendor-claim-only
  ingredients are never proposed; any ingredient matching a recorded allergy is excluded, saying why;
  known incompatible pairs are flagged.
- ``check``: the practitioner's edited cocktail. An allergy match is refused (``ingredient-allergy``);
  an incompatible pair is refused unless the practitioner acknowledges it (``incompatible-ingredients``).
- ``allergy_matches``: an allergy matches an ingredient when, ignoring case and spacing, it equals the
  ingredient's code, name or a synonym, or contains one of them as a whole phrase ("lidocaine
  hydrochloride 2%" matches lidocaine). Over-matching is the safe side.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Evidence = Literal["controlled", "uncontrolled", "weak", "vendor", "clinic"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ingredient(_Frozen):
    code: str = Field(pattern=r"^[a-z0-9_]+$", max_length=60)
    name: str
    ingredient_class: str
    synonyms: tuple[str, ...] = ()
    concerns: tuple[str, ...]
    evidence: Evidence
    evidence_note: str = ""
    usual_concentration: str = ""
    proposable: bool = True
    incompatible_with: tuple[str, ...] = ()
    source: str = Field(min_length=1)
    #: The clinic that added it; ``None`` for the built-in catalogue.
    clinic_id: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the ingredient goes by (for allergy matching by other domains)."""
        return tuple(dict.fromkeys((self.name, self.code.replace("_", " "), *self.synonyms)))


class Incompatibility(_Frozen):
    pair: tuple[str, str]
    reason: str
    source: str = Field(min_length=1)


class Catalogue(_Frozen):
    version: str
    evidence_levels: dict[str, int]
    clinic_evidence: int
    proposal_min_evidence: int
    cocktail_note: str
    cocktail_source: str
    ingredients: tuple[Ingredient, ...]
    incompatibilities: tuple[Incompatibility, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        codes = [i.code for i in self.ingredients]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate ingredient codes")
        for pair in self.incompatibilities:
            if set(pair.pair) - set(codes) or pair.pair[0] == pair.pair[1]:
                raise ValueError(f"incompatibility {pair.pair} names unknown ingredients")
        for ingredient in self.ingredients:
            if ingredient.evidence != "clinic" and ingredient.evidence not in self.evidence_levels:
                raise ValueError(f"{ingredient.code}: unknown evidence level")
        return self

    def rank(self, ingredient: Ingredient) -> int:
        if ingredient.evidence == "clinic":
            return self.clinic_evidence
        return self.evidence_levels[ingredient.evidence]

    def by_code(self) -> dict[str, Ingredient]:
        return {i.code: i for i in self.ingredients}

    def with_extras(self, extras: Iterable[Ingredient]) -> Catalogue:
        """The built-in catalogue extended by one clinic's ingredients (same code: the clinic's wins)."""
        merged = self.by_code()
        for extra in extras:
            merged[extra.code] = extra
        return self.model_copy(update={"ingredients": tuple(merged.values())})

    def incompatible_pairs(self, codes: Sequence[str]) -> list[tuple[str, str, str]]:
        """Every known incompatible pair among ``codes``: ``(a, b, source)``, each pair once."""
        chosen = set(codes)
        found: dict[frozenset[str], str] = {}
        for rule in self.incompatibilities:
            if set(rule.pair) <= chosen:
                found.setdefault(frozenset(rule.pair), rule.source)
        table = self.by_code()
        for code in chosen:
            ingredient = table.get(code)
            for other in ingredient.incompatible_with if ingredient else ():
                if other in chosen and other != code:
                    found.setdefault(frozenset((code, other)), ingredient.source if ingredient else "")
        ordered = [(*sorted(pair), source) for pair, source in found.items()]
        return sorted((a, b, s) for a, b, s in ordered)


@functools.cache
def catalogue() -> Catalogue:
    """The built-in catalogue from ``data/ingredients.yaml``, validated once per process."""
    text = resources.files("mesoclinic.formulation").joinpath("data", "ingredients.yaml").read_text("utf-8")
    raw: Any = yaml.safe_load(text)
    return Catalogue.model_validate(raw)


# --------------------------------------------------------------------------- allergies


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


def allergy_matches(ingredient: Ingredient, allergies: Iterable[str]) -> list[str]:
    """The recorded allergies that match this ingredient (see the module docstring)."""
    names = {normalise(n) for n in (*ingredient.names, ingredient.code)} - {""}
    matched = []
    for allergy in allergies:
        text = normalise(allergy)
        if not text:
            continue
        padded = f" {text} "
        if text in names or any(f" {name} " in padded for name in names):
            matched.append(allergy)
    return matched


# --------------------------------------------------------------------------- proposal


@dataclass(frozen=True)
class ProposalWarning:
    code: str
    message: str
    ingredients: tuple[str, ...] = ()
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "ingredients": list(self.ingredients),
            "source": self.source,
        }


@dataclass(frozen=True)
class ProposedIngredient:
    code: str
    name: str
    concerns: tuple[str, ...]
    rationale: str
    evidence: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "concerns": list(self.concerns),
            "rationale": self.rationale,
            "evidence": self.evidence,
            "source": self.source,
        }


@dataclass(frozen=True)
class Proposal:
    ingredients: tuple[ProposedIngredient, ...]
    warnings: tuple[ProposalWarning, ...] = field(default=())

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.ingredients)


def propose(
    concerns_by_severity: Mapping[str, float],
    allergies: Sequence[str],
    clinic_extras: Iterable[Ingredient] = (),
    *,
    base: Catalogue | None = None,
) -> Proposal:
    """Propose a cocktail for the assessed concerns (rule codes in the warnings)."""
    cat = (base or catalogue()).with_extras(clinic_extras)
    warnings: list[ProposalWarning] = []
    excluded: dict[str, list[str]] = {}
    for ingredient in cat.ingredients:
        if matched := allergy_matches(ingredient, allergies):
            excluded[ingredient.code] = matched
    for code, matched in excluded.items():
        warnings.append(
            ProposalWarning(
                "allergy-excluded",
                f"{cat.by_code()[code].name} left out: recorded allergy ({', '.join(matched)}).",
                (code,),
                "reference.md §4: allergy to any ingredient is a contraindication, "
                "https://healthfan.biz/3604-mesotherapy-contraindications.html",
            )
        )

    chosen: dict[str, list[str]] = {}
    ordered = sorted(
        ((c, s) for c, s in concerns_by_severity.items() if s > 0), key=lambda item: (-item[1], item[0])
    )
    if not ordered:
        warnings.append(
            ProposalWarning("no-concerns-assessed", "The assessment grades no concern to treat.", (), "")
        )
    for concern, _severity in ordered:
        candidates = [
            i for i in cat.ingredients if concern in i.concerns and i.proposable and i.code not in excluded
        ]
        eligible = [i for i in candidates if cat.rank(i) >= cat.proposal_min_evidence]
        if not eligible:
            vendor_only = [i.code for i in candidates]
            warnings.append(
                ProposalWarning(
                    "concern-not-addressed",
                    f"No catalogue ingredient with evidence addresses {concern}"
                    + (f" (vendor claims only: {', '.join(vendor_only)})." if vendor_only else ".")
                    + " Consider other modalities.",
                    tuple(vendor_only),
                    "reference.md §2",
                )
            )
            continue
        # Reuse an already chosen ingredient when it is as well evidenced as the best: fewer components.
        best_rank = max(cat.rank(i) for i in eligible)
        reuse = [i for i in eligible if i.code in chosen and cat.rank(i) == best_rank]
        pick = reuse[0] if reuse else _best(eligible, cat)
        chosen.setdefault(pick.code, []).append(concern)

    table = cat.by_code()
    proposed = tuple(
        ProposedIngredient(
            code=code,
            name=table[code].name,
            concerns=tuple(concerns),
            rationale=(
                f"Addresses {', '.join(concerns)}; evidence: {table[code].evidence}. "
                f"{table[code].evidence_note} {cat.cocktail_note}"
            ).strip(),
            evidence=table[code].evidence,
            source=f"{table[code].source}; {cat.cocktail_source}",
        )
        for code, concerns in chosen.items()
    )
    for a, b, source in cat.incompatible_pairs(list(chosen)):
        warnings.append(
            ProposalWarning("incompatible-pair", f"{a} and {b} are known to be incompatible.", (a, b), source)
        )
    return Proposal(proposed, tuple(warnings))


def _best(candidates: Sequence[Ingredient], cat: Catalogue) -> Ingredient:
    """Strongest evidence first; built-in before a clinic's own at equal evidence; then catalogue order."""
    order = {i.code: n for n, i in enumerate(cat.ingredients)}
    return min(candidates, key=lambda i: (-cat.rank(i), i.clinic_id is not None, order[i.code]))


# --------------------------------------------------------------------------- final check


@dataclass(frozen=True)
class Issue:
    """A problem with the practitioner's final cocktail. ``blocking``: ``invalid`` → 422,
    ``conflict`` → 409 unless acknowledged, ``none`` → recorded as a warning."""

    code: str
    message: str
    field: str
    ingredients: tuple[str, ...]
    blocking: Literal["invalid", "conflict", "none"]
    source: str = ""


def check(
    final_codes: Sequence[str],
    allergies: Sequence[str],
    clinic_extras: Iterable[Ingredient] = (),
    *,
    acknowledge_incompatible: bool = False,
    base: Catalogue | None = None,
) -> list[Issue]:
    """Check the edited cocktail: unknown, duplicate or allergy-matching ingredients are invalid;
    incompatible pairs conflict unless acknowledged (then they stay on record as warnings)."""
    cat = (base or catalogue()).with_extras(clinic_extras)
    table = cat.by_code()
    issues: list[Issue] = []
    if not final_codes:
        issues.append(Issue("final-empty", "Choose at least one ingredient.", "final", (), "invalid"))
    seen: set[str] = set()
    for index, code in enumerate(final_codes):
        where = f"final.{index}.code"
        if code in seen:
            issues.append(
                Issue("duplicate-ingredient", f"{code} is listed twice.", where, (code,), "invalid")
            )
            continue
        seen.add(code)
        ingredient = table.get(code)
        if ingredient is None:
            issues.append(
                Issue(
                    "unknown-ingredient",
                    f"No ingredient {code!r} in the catalogue.",
                    where,
                    (code,),
                    "invalid",
                )
            )
            continue
        if matched := allergy_matches(ingredient, allergies):
            issues.append(
                Issue(
                    "ingredient-allergy",
                    f"{ingredient.name} matches a recorded allergy ({', '.join(matched)}).",
                    "final",
                    (code,),
                    "invalid",
                    "https://healthfan.biz/3604-mesotherapy-contraindications.html",
                )
            )
    for a, b, source in cat.incompatible_pairs([c for c in final_codes if c in table]):
        issues.append(
            Issue(
                "incompatible-ingredients",
                f"{a} and {b} are known to be incompatible"
                + (" (acknowledged by the practitioner)." if acknowledge_incompatible else "."),
                "final",
                (a, b),
                "none" if acknowledge_incompatible else "conflict",
                source,
            )
        )
    return issues
