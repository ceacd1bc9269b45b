"""The rule set data file: what it must say, and what the loader refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mesoclinic.patients.schemas import IntakeAnswers
from mesoclinic.screening.ruleset import (
    BOOLEAN_ANSWERS,
    DATE_ANSWERS,
    DEFAULT_RULESET_PATH,
    PROCEDURE_CATEGORIES,
    default_ruleset,
    normalise_name,
    parse_ruleset,
)

RULESET = default_ruleset()

#: The sources of shared/domain/reference.md §4 (contraindications).
REFERENCE_SOURCES = {
    "https://healthfan.biz/3604-mesotherapy-contraindications.html",
    "https://www.borcianilondon.com/aftercare/mesotherapy/",
    "https://bellareynaspa.com/must-know/",
    "https://www.ecoskinclinic.co.uk/post/mesotherapy-contraindications-aftercare",
    "https://insights.ovid.com/pubmed?pmid=28498204",
}


def test_the_shipped_rule_set_has_a_version_and_cites_the_reference_for_every_rule() -> None:
    assert RULESET.version
    for rule in RULESET.rules:
        assert rule.source in REFERENCE_SOURCES, rule.code
        assert rule.reason.strip(), rule.code
    assert set(RULESET.sources.values()) <= REFERENCE_SOURCES


@pytest.mark.parametrize(
    ("code", "kind", "waiting_days"),
    [
        ("pregnancy", "absolute", None),
        ("breastfeeding", "absolute", None),
        ("ingredient-allergy", "absolute", None),
        ("coagulation-disorder", "absolute", None),
        ("active-cancer", "absolute", None),
        ("immunosuppression", "absolute", None),
        ("active-skin-problem", "defer", None),
        ("isotretinoin", "defer", 184),  # 6 months, the longest 6 calendar months
        ("recent-laser", "defer", 42),  # 4–6 weeks: the cautious end
        ("recent-peel", "defer", 42),
        ("recent-facial-surgery", "defer", 92),  # 3 months
        ("recent-vaccination", "defer", 7),
        ("recent-antibiotics", "defer", 14),
        ("anticoagulant", "relative", None),
        ("antiplatelet", "relative", None),
        ("autoimmune-disease", "relative", None),
        ("keloid-tendency", "relative", None),
        ("uncontrolled-diabetes", "relative", None),
        ("uncontrolled-hypertension", "relative", None),
        ("heart-disease", "relative", None),
        ("epilepsy", "relative", None),
        ("systemic-steroid-or-immunosuppressant", "relative", None),
        ("herpes-history", "relative", None),
    ],
)
def test_the_reference_contraindications_are_all_there_with_their_kind_and_wait(
    code: str, kind: str, waiting_days: int | None
) -> None:
    rule = RULESET.rule(code)
    assert rule is not None, code
    assert (rule.kind, rule.waiting_days) == (kind, waiting_days)


def test_every_waiting_period_states_its_choice_for_the_reviewer() -> None:
    for rule in RULESET.rules:
        if rule.waiting_days and rule.waiting_days > 14:
            assert rule.note, f"{rule.code}: say why {rule.waiting_days} days"


def test_every_answer_code_the_questionnaire_asks_about_is_read_by_some_rule() -> None:
    used: dict[str, set[str]] = {"conditions": set(), "skin_problems": set(), "drug_classes": set()}
    for rule in RULESET.rules:
        for trigger in rule.when:
            used["conditions"] |= set(trigger.condition or ())
            used["skin_problems"] |= set(trigger.skin_problem or ())
            used["drug_classes"] |= set(trigger.medication or ())
    vocabulary = RULESET.vocabulary
    assert set(vocabulary.conditions) == used["conditions"]
    assert set(vocabulary.skin_problems) == used["skin_problems"]
    assert set(vocabulary.drug_classes) == used["drug_classes"]


def test_the_default_anaesthetics_include_the_four_the_clinic_uses() -> None:
    names = {normalise_name(n) for a in RULESET.anaesthetics for n in a.names}
    assert {"lidocaine", "prilocaine", "tetracaine", "benzocaine"} <= names


def test_answers_the_rules_may_read_are_intake_fields() -> None:
    for name in (*BOOLEAN_ANSWERS, *DATE_ANSWERS):
        assert name in IntakeAnswers.model_fields


def test_procedure_categories_match_the_table_documentation() -> None:
    assert set(PROCEDURE_CATEGORIES) == {
        "laser",
        "peel",
        "facial_surgery",
        "filler",
        "toxin",
        "mesotherapy",
        "microneedling",
        "other",
    }


# ---- the loader refuses a broken file ----------------------------------------------------------------

BASE: dict[str, Any] = yaml.safe_load(DEFAULT_RULESET_PATH.read_text(encoding="utf-8"))


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _rule(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["code"] == code)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["rules"].append(copy.deepcopy(d["rules"][0])), "duplicate rule codes"),
        (lambda d: _rule(d, "pregnancy").update(kind="sometimes"), "kind"),
        (lambda d: _rule(d, "pregnancy").pop("source"), "source"),
        (lambda d: _rule(d, "pregnancy").update(source="a blog"), "http"),
        (lambda d: _rule(d, "pregnancy").update(reason="  "), "reason"),
        (lambda d: _rule(d, "pregnancy").update(code="Pregnancy!"), "code"),
        (lambda d: _rule(d, "pregnancy").update(when=[]), "when"),
        (lambda d: _rule(d, "pregnancy").update(when=[{}]), "exactly one"),
        (
            lambda d: _rule(d, "pregnancy").update(when=[{"answer": "pregnant", "condition": ["epilepsy"]}]),
            "exactly one",
        ),
        (lambda d: _rule(d, "pregnancy").update(when=[{"answer": "tired"}]), "answer"),
        (lambda d: _rule(d, "epilepsy").update(when=[{"condition": ["fainting"]}]), "unknown condition"),
        (lambda d: _rule(d, "epilepsy").update(when=[{"condition": []}]), "no code"),
        (lambda d: _rule(d, "anticoagulant").update(when=[{"medication": ["statin"]}]), "unknown medication"),
        (lambda d: _rule(d, "active-skin-problem").update(when=[{"skin_problem": ["mole"]}]), "unknown skin"),
        (lambda d: _rule(d, "recent-laser").update(when=[{"procedure": ["tattoo"]}]), "procedure"),
        (lambda d: _rule(d, "recent-laser").pop("waiting_days"), "waiting_days"),
        (lambda d: _rule(d, "recent-vaccination").update(waiting_days=0), "waiting_days"),
        (lambda d: _rule(d, "epilepsy").update(waiting_days=10), "waiting_days without a dated trigger"),
        (lambda d: _rule(d, "isotretinoin").update(waiting_days=-1), "waiting_days"),
        (lambda d: _rule(d, "epilepsy").update(severity="high"), "severity"),
        (lambda d: d.pop("version"), "version"),
        (lambda d: d.update(rules=[]), "rules"),
        (lambda d: d["anaesthetics"].append({"code": "x", "names": []}), "names"),
    ],
)
def test_the_loader_refuses_a_broken_rule_set_and_says_what_is_wrong(change: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_ruleset(yaml.safe_dump(broken(change)))


def test_the_loader_refuses_a_file_that_is_not_a_mapping() -> None:
    with pytest.raises(ValueError, match="mapping"):
        parse_ruleset("- just\n- a list\n")


def test_the_shipped_file_round_trips_through_the_loader() -> None:
    assert parse_ruleset(yaml.safe_dump(BASE)) == RULESET
