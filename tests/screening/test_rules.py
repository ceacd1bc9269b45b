"""The contraindication rules as pure decisions: every shipped rule, its boundaries, and the
properties any rule set must keep (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesoclinic.patients.schemas import IntakeAnswers, stored_answers
from mesoclinic.screening.rules import (
    AllergyFact,
    Finding,
    MedicationFact,
    PlannedIngredient,
    ProcedureFact,
    ScreeningInput,
    allergy_matches,
    clearance,
    evaluate,
    outcome_of,
    screen,
)
from mesoclinic.screening.ruleset import (
    DATE_ANSWERS,
    PROCEDURE_CATEGORIES,
    Rule,
    Trigger,
    default_ruleset,
    parse_ruleset,
)

RULESET = default_ruleset()
ON = date(2026, 6, 15)
DAY = timedelta(days=1)


def answers(**values: Any) -> IntakeAnswers:
    """Answers as the rules see them (stored form: no checks against today's date)."""
    data = {"pregnant": False, "breastfeeding": False, **values}
    return stored_answers(1, {k: v.isoformat() if isinstance(v, date) else v for k, v in data.items()})


def screening(**parts: Any) -> ScreeningInput:
    return ScreeningInput(answers=parts.pop("answers", answers()), **parts)


def codes(data: ScreeningInput, on: date = ON) -> list[str]:
    return screen(data, RULESET, on).codes


def finding(data: ScreeningInput, code: str, on: date = ON) -> Finding | None:
    return next((f for f in screen(data, RULESET, on).findings if f.code == code), None)


# ---- nothing to report ---------------------------------------------------------------------------


def test_it_clears_a_patient_with_nothing_to_report() -> None:
    decision = screen(screening(), RULESET, ON)
    assert (decision.outcome, decision.findings) == ("clear", ())
    assert decision.ruleset_version == RULESET.version


def test_it_ignores_history_that_no_rule_is_about() -> None:
    data = screening(
        answers=answers(planning_pregnancy=True, fitzpatrick=4, notes="nervous about needles"),
        medications=(MedicationFact("Atorvastatin"), MedicationFact("Paracetamol", started_on=ON - 10 * DAY)),
        allergies=(AllergyFact("Penicillin", "rash"),),
        procedures=(
            ProcedureFact("Botox", "toxin", ON - 5 * DAY),
            ProcedureFact("Filler", "filler", ON - 5 * DAY),
            ProcedureFact("Meso", "mesotherapy", ON - 5 * DAY),
        ),
    )
    assert codes(data) == []


# ---- every shipped rule fires on its own trigger ---------------------------------------------------


def _example(trigger: Trigger, rule: Rule) -> tuple[ScreeningInput, date | None]:
    """A minimal record that fires ``trigger`` on ON, and the reconsider date it should give."""
    waiting = timedelta(days=rule.waiting_days or 0)
    if trigger.answer is not None:
        return screening(answers=answers(**{trigger.answer: True})), None
    if trigger.condition is not None:
        return screening(answers=answers(conditions=[trigger.condition[-1]])), None
    if trigger.skin_problem is not None:
        return screening(answers=answers(skin_problems=[trigger.skin_problem[-1]])), None
    if trigger.medication is not None:
        med = MedicationFact("Something", trigger.medication[-1], started_on=ON - 30 * DAY)
        return screening(medications=(med,)), None
    if trigger.procedure is not None:
        proc = ProcedureFact("Something", trigger.procedure[-1], ON - DAY)
        return screening(procedures=(proc,)), ON - DAY + waiting
    if trigger.answer_date is not None:
        return screening(answers=answers(**{trigger.answer_date: ON - DAY})), ON - DAY + waiting
    assert trigger.allergy
    return screening(allergies=(AllergyFact(RULESET.anaesthetics[0].names[0]),)), None


RULE_TRIGGERS = [
    pytest.param(rule, trigger, id=f"{rule.code}-{index}")
    for rule in RULESET.rules
    for index, trigger in enumerate(rule.when)
]


@pytest.mark.parametrize(("rule", "trigger"), RULE_TRIGGERS)
def test_every_rule_fires_on_each_of_its_triggers_with_its_kind_reason_and_source(
    rule: Rule, trigger: Trigger
) -> None:
    data, reconsider = _example(trigger, rule)
    decision = screen(data, RULESET, ON)
    found = finding(data, rule.code)
    assert found is not None, f"{rule.code} did not fire"
    assert (found.kind, found.reason, found.source, found.advice) == (
        rule.kind,
        rule.reason,
        rule.source,
        rule.advice,
    )
    assert found.reconsider_on == reconsider
    assert found.detail
    assert decision.codes == [rule.code], "a minimal record fires only its own rule"
    assert decision.outcome == ("needs_override" if rule.kind == "relative" else "blocked")


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.code)
def test_every_rule_is_silent_without_its_trigger(rule: Rule) -> None:
    assert evaluate(rule, screening(), RULESET, ON) is None


# ---- the clinical facts, stated independently of the data file --------------------------------------


@pytest.mark.parametrize(
    ("answer_values", "code", "kind"),
    [
        ({"pregnant": True}, "pregnancy", "absolute"),
        ({"breastfeeding": True}, "breastfeeding", "absolute"),
        ({"conditions": ["coagulation_disorder"]}, "coagulation-disorder", "absolute"),
        ({"conditions": ["active_cancer_or_treatment"]}, "active-cancer", "absolute"),
        ({"conditions": ["immunosuppression"]}, "immunosuppression", "absolute"),
        ({"skin_problems": ["herpes"]}, "active-skin-problem", "defer"),
        ({"skin_problems": ["impetigo"]}, "active-skin-problem", "defer"),
        ({"skin_problems": ["warts"]}, "active-skin-problem", "defer"),
        ({"skin_problems": ["active_acne"]}, "active-skin-problem", "defer"),
        ({"skin_problems": ["eczema_or_psoriasis_flare"]}, "active-skin-problem", "defer"),
        ({"skin_problems": ["broken_or_sunburnt_skin"]}, "active-skin-problem", "defer"),
        ({"skin_problems": ["other_infection_or_inflammation"]}, "active-skin-problem", "defer"),
        ({"conditions": ["autoimmune_disease"]}, "autoimmune-disease", "relative"),
        ({"conditions": ["keloid_tendency"]}, "keloid-tendency", "relative"),
        ({"conditions": ["uncontrolled_diabetes"]}, "uncontrolled-diabetes", "relative"),
        ({"conditions": ["uncontrolled_hypertension"]}, "uncontrolled-hypertension", "relative"),
        ({"conditions": ["heart_disease"]}, "heart-disease", "relative"),
        ({"conditions": ["epilepsy"]}, "epilepsy", "relative"),
        ({"conditions": ["herpes_labialis_history"]}, "herpes-history", "relative"),
    ],
)
def test_intake_answers_map_to_the_reference_contraindications(
    answer_values: dict[str, Any], code: str, kind: str
) -> None:
    data = screening(answers=answers(**answer_values))
    decision = screen(data, RULESET, ON)
    assert [(f.code, f.kind) for f in decision.findings] == [(code, kind)]
    assert decision.outcome == ("needs_override" if kind == "relative" else "blocked")


def test_herpes_history_advises_antiviral_cover() -> None:
    found = finding(screening(answers=answers(conditions=["herpes_labialis_history"])), "herpes-history")
    assert found is not None
    assert "antiviral" in found.advice.lower()


@pytest.mark.parametrize(
    ("drug_class", "code", "kind"),
    [
        ("anticoagulant", "anticoagulant", "relative"),
        ("antiplatelet", "antiplatelet", "relative"),
        ("systemic_steroid", "systemic-steroid-or-immunosuppressant", "relative"),
        ("immunosuppressant", "systemic-steroid-or-immunosuppressant", "relative"),
        ("chemotherapy", "active-cancer", "absolute"),
        ("isotretinoin", "isotretinoin", "defer"),
        ("antibiotic", "recent-antibiotics", "defer"),
    ],
)
def test_current_medication_classes_map_to_their_rules(drug_class: str, code: str, kind: str) -> None:
    data = screening(medications=(MedicationFact("Drug", drug_class, started_on=ON - 100 * DAY),))
    assert [(f.code, f.kind, f.reconsider_on) for f in screen(data, RULESET, ON).findings] == [
        (code, kind, None)  # still taking it: no end known yet
    ]


def test_isotretinoin_defers_until_184_days_after_the_last_dose() -> None:
    stopped = date(2026, 3, 1)
    data = screening(medications=(MedicationFact("Roaccutane", "isotretinoin", date(2025, 9, 1), stopped),))
    reconsider = stopped + timedelta(days=184)
    found = finding(data, "isotretinoin", reconsider - DAY)
    assert found is not None
    assert (found.kind, found.reconsider_on) == ("defer", reconsider)
    assert finding(data, "isotretinoin", reconsider) is None
    # Never shorter than 6 calendar months.
    assert reconsider >= date(2026, 9, 1)


def test_a_planned_stop_date_gives_the_reconsider_date_already() -> None:
    stopped = ON + 10 * DAY
    data = screening(medications=(MedicationFact("Isotretinoin", "isotretinoin", ON - 90 * DAY, stopped),))
    found = finding(data, "isotretinoin")
    assert found is not None
    assert found.reconsider_on == stopped + timedelta(days=184)


def test_a_medication_not_yet_started_on_the_day_does_not_count() -> None:
    data = screening(medications=(MedicationFact("Warfarin", "anticoagulant", started_on=ON + DAY),))
    assert codes(data) == []
    assert codes(data, ON + DAY) == ["anticoagulant"]


def test_an_anticoagulant_stopped_before_the_day_no_longer_counts() -> None:
    data = screening(medications=(MedicationFact("Apixaban", "anticoagulant", ON - 60 * DAY, ON),))
    assert codes(data, ON - DAY) == ["anticoagulant"]
    assert codes(data, ON) == []


@pytest.mark.parametrize(
    ("category", "code", "days"),
    [
        ("laser", "recent-laser", 42),
        ("peel", "recent-peel", 42),
        ("facial_surgery", "recent-facial-surgery", 92),
    ],
)
def test_recent_procedures_defer_for_their_waiting_period(category: str, code: str, days: int) -> None:
    performed = date(2026, 5, 1)
    data = screening(procedures=(ProcedureFact("Something", category, performed),))
    reconsider = performed + timedelta(days=days)
    for day in (performed, performed + DAY, reconsider - DAY):
        found = finding(data, code, day)
        assert found is not None
        assert (found.kind, found.reconsider_on) == ("defer", reconsider)
    assert codes(data, reconsider) == []
    assert codes(data, performed - DAY) == [], "a procedure after the day judged is not 'recent'"


def test_the_latest_of_several_recent_procedures_decides_the_date() -> None:
    data = screening(
        procedures=(
            ProcedureFact("Fractional laser", "laser", ON - 40 * DAY),
            ProcedureFact("IPL", "laser", ON - 10 * DAY),
        )
    )
    found = finding(data, "recent-laser")
    assert found is not None
    assert found.reconsider_on == ON - 10 * DAY + timedelta(days=42)
    assert "IPL" in found.detail
    assert "Fractional laser" in found.detail


def test_vaccination_defers_one_week() -> None:
    data = screening(answers=answers(vaccination_on=date(2026, 6, 10)))
    found = finding(data, "recent-vaccination", date(2026, 6, 16))
    assert found is not None
    assert found.reconsider_on == date(2026, 6, 17)
    assert codes(data, date(2026, 6, 17)) == []


def test_antibiotics_defer_two_weeks_after_the_course_ends_including_a_course_still_running() -> None:
    ends = ON + 3 * DAY
    data = screening(answers=answers(antibiotics_until=ends))
    found = finding(data, "recent-antibiotics")
    assert found is not None
    assert found.reconsider_on == ends + timedelta(days=14)
    assert codes(data, ends + timedelta(days=14)) == []


def test_antibiotics_as_a_medication_and_as_an_answer_give_the_later_date() -> None:
    data = screening(
        answers=answers(antibiotics_until=ON - 5 * DAY),
        medications=(MedicationFact("Doxycycline", "antibiotic", ON - 20 * DAY, ON - 2 * DAY),),
    )
    found = finding(data, "recent-antibiotics")
    assert found is not None
    assert found.reconsider_on == ON - 2 * DAY + timedelta(days=14)


def test_an_ongoing_course_leaves_the_reconsider_date_open_even_with_a_dated_answer() -> None:
    data = screening(
        answers=answers(antibiotics_until=ON - 5 * DAY),
        medications=(MedicationFact("Doxycycline", "antibiotic", ON - 20 * DAY),),
    )
    found = finding(data, "recent-antibiotics")
    assert found is not None
    assert found.reconsider_on is None


def test_findings_list_blocking_ones_first() -> None:
    data = screening(
        answers=answers(conditions=["epilepsy", "coagulation_disorder"], skin_problems=["warts"]),
    )
    assert [f.kind for f in screen(data, RULESET, ON).findings] == ["absolute", "defer", "relative"]


# ---- allergies --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "substance",
    [
        "lidocaine",
        "Lidocaine",
        "  LIDOCAINE ",
        "Lignocaine",
        "Lidocaine cream",
        "lidocaine-HCl",
        "EMLA",
        "Prilocaine",
        "tetracaine",
        "Ametop gel",
        "benzocaine",
    ],
)
def test_an_allergy_to_a_default_anaesthetic_is_absolute_without_any_planned_ingredient(
    substance: str,
) -> None:
    data = screening(allergies=(AllergyFact(substance),))
    decision = screen(data, RULESET, ON)
    assert decision.codes == ["ingredient-allergy"]
    assert (decision.findings[0].kind, decision.outcome) == ("absolute", "blocked")


def test_an_allergy_to_a_planned_ingredient_or_its_synonym_is_absolute() -> None:
    planned = (
        PlannedIngredient("hyaluronic_acid", ("Hyaluronic acid", "sodium hyaluronate")),
        PlannedIngredient("dmae"),
    )
    for substance in ("Sodium  Hyaluronate", "hyaluronic ACID", "DMAE", "dmae"):
        data = screening(allergies=(AllergyFact(substance),), planned_ingredients=planned)
        found = finding(data, "ingredient-allergy")
        assert found is not None, substance
        assert found.kind == "absolute"


def test_an_allergy_to_an_unplanned_ingredient_does_not_count() -> None:
    data = screening(
        allergies=(AllergyFact("Penicillin"), AllergyFact("hyaluronidase")),
        planned_ingredients=(PlannedIngredient("hyaluronic_acid", ("hyaluronic acid",)),),
    )
    assert codes(data) == []


@pytest.mark.parametrize(
    ("substance", "name", "expected"),
    [
        ("Lidocaine", "lidocaine", True),
        ("lidocaine  cream", "Lidocaine", True),
        ("lidocaine", "lidocaine hydrochloride", True),
        ("Vitamin-C", "vitamin c", True),
        ("hyaluronidase", "hyaluronic acid", False),
        ("caine", "lidocaine", False),
        ("", "lidocaine", False),
        ("lidocaine", "   ", False),
    ],
)
def test_allergy_names_match_as_whole_words_ignoring_case_and_punctuation(
    substance: str, name: str, expected: bool
) -> None:
    assert allergy_matches(substance, name) is expected


def test_the_allergy_finding_names_what_matched() -> None:
    found = finding(screening(allergies=(AllergyFact("Xylocaine"),)), "ingredient-allergy")
    assert found is not None
    assert "Xylocaine" in found.detail
    assert "lidocaine" in found.detail


# ---- outcome and clearance ---------------------------------------------------------------------------


def _f(code: str, kind: str, reconsider: date | None = None) -> Finding:
    return Finding(code, kind, "reason", "https://example.org/source", reconsider)


@pytest.mark.parametrize(
    ("kinds", "outcome"),
    [
        ([], "clear"),
        (["relative"], "needs_override"),
        (["relative", "relative"], "needs_override"),
        (["defer"], "blocked"),
        (["absolute"], "blocked"),
        (["relative", "defer"], "blocked"),
        (["absolute", "relative", "defer"], "blocked"),
    ],
)
def test_the_outcome_is_the_worst_finding(kinds: list[str], outcome: str) -> None:
    assert outcome_of(_f(f"r{i}", kind) for i, kind in enumerate(kinds)) == outcome


def test_clearance_needs_an_override_for_every_relative_finding() -> None:
    findings = [_f("anticoagulant", "relative"), _f("epilepsy", "relative")]
    partly = clearance(findings, ["anticoagulant"])
    assert not partly.cleared
    assert [f.code for f in partly.needs_override] == ["epilepsy"]
    assert partly.overridden == ("anticoagulant",)
    assert clearance(findings, ["epilepsy", "anticoagulant"]).cleared
    assert clearance([], []).cleared


def test_overrides_never_clear_a_blocking_finding() -> None:
    state = clearance([_f("pregnancy", "absolute")], ["pregnancy"])
    assert not state.cleared
    assert state.overridden == ()
    assert [f.code for f in state.blocking] == ["pregnancy"]


def test_the_reconsider_date_of_a_clearance_is_when_the_last_deferral_ends() -> None:
    later, sooner = date(2026, 9, 1), date(2026, 7, 1)
    assert clearance([_f("a", "defer", sooner), _f("b", "defer", later)], []).reconsider_on == later
    assert clearance([_f("a", "defer", sooner), _f("b", "defer")], []).reconsider_on is None
    assert clearance([_f("a", "defer", sooner), _f("p", "absolute")], []).reconsider_on is None
    assert clearance([_f("r", "relative")], []).reconsider_on is None


def test_findings_survive_storage_as_json() -> None:
    original = Finding("isotretinoin", "defer", "why", "https://example.org/x", date(2026, 9, 1), "d", "a")
    assert Finding.from_json(original.as_json()) == original
    open_ended = _f("epilepsy", "relative")
    assert Finding.from_json(open_ended.as_json()) == open_ended


# ---- the rule set is configurable --------------------------------------------------------------------


def test_waiting_periods_come_from_the_data_file() -> None:
    shorter = RULESET.model_copy(
        update={
            "rules": tuple(
                r.model_copy(update={"waiting_days": 30}) if r.code == "isotretinoin" else r
                for r in RULESET.rules
            ),
            "version": "test-30",
        }
    )
    stopped = ON - 40 * DAY
    data = screening(medications=(MedicationFact("Isotretinoin", "isotretinoin", ON - 200 * DAY, stopped),))
    assert screen(data, RULESET, ON).codes == ["isotretinoin"]
    decision = screen(data, shorter, ON)
    assert (decision.codes, decision.ruleset_version) == ([], "test-30")


def test_a_minimal_custom_rule_set_screens_with_its_own_rules() -> None:
    ruleset = parse_ruleset(
        """
version: "clinic-7"
anaesthetics: []
vocabulary: {conditions: {rosacea: Rosacea}, skin_problems: {}, drug_classes: {}}
rules:
  - code: rosacea
    kind: relative
    reason: Rosacea can flare.
    source: https://example.org/rosacea
    when: [{condition: [rosacea]}]
"""
    )
    data = ScreeningInput(answers=IntakeAnswers.model_construct(conditions={"rosacea"}))
    decision = screen(data, ruleset, ON)
    assert (decision.outcome, decision.codes, decision.ruleset_version) == (
        "needs_override",
        ["rosacea"],
        "clinic-7",
    )
    # No default anaesthetics in this set: an allergy to lidocaine is not its business.
    lidocaine = ScreeningInput(
        answers=IntakeAnswers.model_construct(conditions=set()), allergies=(AllergyFact("lidocaine"),)
    )
    assert screen(lidocaine, ruleset, ON).codes == []


# ---- properties over any record (hypothesis) ---------------------------------------------------------

VOCAB = RULESET.vocabulary
ANAESTHETIC_NAMES = [n for a in RULESET.anaesthetics for n in a.names]
DRUG_CLASSES = [*VOCAB.drug_classes, ""]

days_around = st.integers(min_value=-400, max_value=400).map(lambda n: ON + timedelta(days=n))
days_before = st.integers(min_value=0, max_value=400).map(lambda n: ON - timedelta(days=n))


@st.composite
def messy(draw: st.DrawFn, name: str) -> str:
    """The same name as a person might type it: any case, stray spaces and punctuation."""
    cased = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)
    cased = cased.replace(" ", draw(st.sampled_from([" ", "  ", "-", " - "])))
    return draw(st.sampled_from(["", " ", "  "])) + cased + draw(st.sampled_from(["", " ", ".", " cream"]))


@st.composite
def records(draw: st.DrawFn) -> ScreeningInput:
    """Records as intake validation allows them: nothing started, done or vaccinated after the day
    judged; courses of antibiotics and stop dates may lie ahead."""
    answer_values: dict[str, Any] = {
        "pregnant": draw(st.booleans()),
        "breastfeeding": draw(st.booleans()),
        "planning_pregnancy": draw(st.booleans()),
        "conditions": draw(st.sets(st.sampled_from(list(VOCAB.conditions)), max_size=3)),
        "skin_problems": draw(st.sets(st.sampled_from(list(VOCAB.skin_problems)), max_size=2)),
        "vaccination_on": draw(st.none() | days_before),
        "antibiotics_until": draw(st.none() | days_around),
    }
    medications = draw(
        st.lists(
            st.builds(
                lambda cls, start, stop: MedicationFact(
                    "Med", cls, start, max(stop, start) if stop else None
                ),
                st.sampled_from(DRUG_CLASSES),
                days_before,
                st.none() | days_around,
            ),
            max_size=4,
        )
    )
    allergy_names = st.sampled_from(ANAESTHETIC_NAMES).flatmap(messy) | st.sampled_from(
        ["penicillin", "latex", "dmae", "Hyaluronic acid", "nuts"]
    )
    allergies = draw(st.lists(allergy_names.map(AllergyFact), max_size=3))
    procedures = draw(
        st.lists(
            st.builds(
                ProcedureFact, st.just("Procedure"), st.sampled_from(PROCEDURE_CATEGORIES), days_before
            ),
            max_size=4,
        )
    )
    planned = draw(
        st.lists(
            st.sampled_from(
                [PlannedIngredient("dmae"), PlannedIngredient("hyaluronic_acid", ("hyaluronic acid",))]
            ),
            max_size=2,
            unique=True,
        )
    )
    return ScreeningInput(
        answers=answers(**{k: sorted(v) if isinstance(v, set) else v for k, v in answer_values.items()}),
        medications=tuple(medications),
        allergies=tuple(allergies),
        procedures=tuple(procedures),
        planned_ingredients=tuple(planned),
    )


SEVERITY = {"relative": 1, "defer": 2, "absolute": 2}


@settings(max_examples=300, deadline=None)
@given(records())
def test_every_finding_is_a_known_rule_with_its_reason_and_source_and_the_outcome_is_the_worst(
    data: ScreeningInput,
) -> None:
    decision = screen(data, RULESET, ON)
    worst = max((SEVERITY[f.kind] for f in decision.findings), default=0)
    assert decision.outcome == ["clear", "needs_override", "blocked"][worst]
    assert len(set(decision.codes)) == len(decision.codes)
    for f in decision.findings:
        rule = RULESET.rule(f.code)
        assert rule is not None
        assert (f.kind, f.reason, f.source) == (rule.kind, rule.reason, rule.source)
        assert f.source.startswith("https://")
        assert f.reason.strip()
        assert f.reconsider_on is None or f.reconsider_on > ON


@settings(max_examples=300, deadline=None)
@given(records())
def test_on_the_reconsider_day_a_deferral_no_longer_applies_and_the_day_before_it_still_does(
    data: ScreeningInput,
) -> None:
    for f in screen(data, RULESET, ON).findings:
        if f.reconsider_on is None:
            continue
        assert f.code not in screen(data, RULESET, f.reconsider_on).codes
        assert f.code in screen(data, RULESET, f.reconsider_on - DAY).codes


@settings(max_examples=200, deadline=None)
@given(records(), st.integers(min_value=0, max_value=500))
def test_waiting_only_ever_lifts_dated_findings(data: ScreeningInput, later_by: int) -> None:
    """With nothing new recorded, a later day never brings a dated rule that an earlier day lacked."""
    dated = {r.code for r in RULESET.rules if r.waiting_days}
    now = set(screen(data, RULESET, ON).codes) & dated
    later = set(screen(data, RULESET, ON + timedelta(days=later_by)).codes) & dated
    assert later <= now


@settings(max_examples=200, deadline=None)
@given(records())
def test_screening_is_pure(data: ScreeningInput) -> None:
    assert screen(data, RULESET, ON) == screen(data, RULESET, ON)


@settings(max_examples=300, deadline=None)
@given(stopped=days_around, day=days_around)
def test_isotretinoin_reconsider_date_is_the_stop_date_plus_the_waiting_days_exactly(
    stopped: date, day: date
) -> None:
    rule = RULESET.rule("isotretinoin")
    assert rule is not None
    assert rule.waiting_days is not None
    data = screening(medications=(MedicationFact("Isotretinoin", "isotretinoin", None, stopped),))
    reconsider = stopped + timedelta(days=rule.waiting_days)
    found = finding(data, "isotretinoin", day)
    if day < reconsider:
        assert found is not None
        assert found.reconsider_on == reconsider
    else:
        assert found is None


@settings(max_examples=200, deadline=None)
@given(
    category=st.sampled_from(["laser", "peel", "facial_surgery"]),
    performed=days_before,
    day=st.integers(min_value=0, max_value=200),
)
def test_procedure_deferrals_end_exactly_waiting_days_after_the_procedure(
    category: str, performed: date, day: int
) -> None:
    rule = next(r for r in RULESET.rules if any(t.procedure and category in t.procedure for t in r.when))
    assert rule.waiting_days is not None
    data = screening(procedures=(ProcedureFact("P", category, performed),))
    judged = performed + timedelta(days=day)
    found = finding(data, rule.code, judged)
    assert (found is not None) is (day < rule.waiting_days)
    if found is not None:
        assert found.reconsider_on == performed + timedelta(days=rule.waiting_days)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ANAESTHETIC_NAMES).flatmap(messy))
def test_any_spelling_of_a_default_anaesthetic_allergy_blocks(substance: str) -> None:
    decision = screen(screening(allergies=(AllergyFact(substance),)), RULESET, ON)
    assert (decision.codes, decision.outcome) == (["ingredient-allergy"], "blocked")


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=12).filter(
        lambda n: not any(allergy_matches(n, a) for a in ANAESTHETIC_NAMES)
    ),
    data=st.data(),
)
def test_an_allergy_blocks_exactly_when_it_names_a_planned_ingredient(name: str, data: st.DataObject) -> None:
    planned = (PlannedIngredient("x_code", (name,)),)
    spelled = data.draw(messy(name))
    assert codes(screening(allergies=(AllergyFact(spelled),), planned_ingredients=planned)) == [
        "ingredient-allergy"
    ]
    assert codes(screening(allergies=(AllergyFact(spelled),))) == []


def test_dated_answers_named_by_the_rule_set_are_intake_fields() -> None:
    for name in DATE_ANSWERS:
        assert name in IntakeAnswers.model_fields
