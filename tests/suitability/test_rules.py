"""The public suitability check answers with the clinic's own screening and formulation rules."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.screening import rules as screening
from mesoclinic.screening.ruleset import default_ruleset
from mesoclinic.suitability.rules import Answers, Medication, assess, screening_input

TODAY = date(2026, 11, 25)
LINES = ("fine_lines",)


def test_nothing_in_the_way_is_likely_suitable_with_a_course_outline() -> None:
    result = assess(Answers(concerns=("fine_lines", "dehydration")), TODAY)
    assert result.verdict == "likely"
    assert result.reasons == ()
    assert result.reconsider_on is None
    assert result.course is not None
    assert 3 <= result.course.sessions <= 5
    assert result.course.session_minutes == 30
    assert result.course.maintenance_interval_days == 182
    assert "https://" in result.course.source
    assert {s.label for s in result.side_effects} >= {"Redness", "Swelling", "Bruising"}


def test_pregnancy_is_not_suitable_now_without_a_date() -> None:
    result = assess(Answers(concerns=LINES, pregnant=True), TODAY)
    assert result.verdict == "not_now"
    assert [r.code for r in result.reasons] == ["pregnancy"]
    assert result.reconsider_on is None


def test_isotretinoin_stopped_recently_defers_until_the_rule_set_says() -> None:
    stopped = TODAY - timedelta(days=30)
    result = assess(Answers(concerns=LINES, medications=(Medication("isotretinoin", stopped),)), TODAY)
    rule = default_ruleset().rule("isotretinoin")
    assert rule is not None
    assert rule.waiting_days is not None
    assert result.verdict == "not_now"
    assert result.reconsider_on == stopped + timedelta(days=rule.waiting_days)
    assert result.reasons[0].source.startswith("http")


def test_isotretinoin_taken_now_has_no_reconsider_date_yet() -> None:
    result = assess(Answers(concerns=LINES, medications=(Medication("isotretinoin"),)), TODAY)
    assert (result.verdict, result.reconsider_on) == ("not_now", None)


def test_a_long_stopped_isotretinoin_course_no_longer_counts() -> None:
    result = assess(
        Answers(concerns=LINES, medications=(Medication("isotretinoin", date(2024, 1, 1)),)), TODAY
    )
    assert result.verdict == "likely"


def test_the_latest_of_two_deferrals_is_the_reconsider_date() -> None:
    answers = Answers(
        concerns=LINES,
        medications=(Medication("isotretinoin", TODAY - timedelta(days=10)),),
        procedures={"laser": TODAY - timedelta(days=3)},
    )
    result = assess(answers, TODAY)
    assert {r.code for r in result.reasons} == {"isotretinoin", "recent-laser"}
    assert result.reconsider_on == max(r.reconsider_on for r in result.reasons if r.reconsider_on)


def test_a_deferral_with_an_absolute_rule_has_no_reconsider_date() -> None:
    answers = Answers(concerns=LINES, breastfeeding=True, procedures={"peel": TODAY - timedelta(days=3)})
    assert assess(answers, TODAY).reconsider_on is None


def test_an_anticoagulant_means_talk_to_a_practitioner_first() -> None:
    result = assess(Answers(concerns=LINES, medications=(Medication("anticoagulant"),)), TODAY)
    assert result.verdict == "talk_first"
    assert [(r.code, r.kind) for r in result.reasons] == [("anticoagulant", "relative")]


def test_an_allergy_to_the_numbing_cream_blocks_as_the_clinic_screening_does() -> None:
    result = assess(Answers(concerns=LINES, allergies=("lidocaine",)), TODAY)
    assert (result.verdict, result.reasons[0].code) == ("not_now", "ingredient-allergy")


def test_a_concern_mesotherapy_has_no_evidenced_product_for_means_talk_first() -> None:
    result = assess(Answers(concerns=("acne_scars",)), TODAY)
    assert result.verdict == "talk_first"
    assert result.unaddressed == ("acne_scars",)
    assert result.course is None


def test_no_concern_ticked_is_never_likely_suitable() -> None:
    assert assess(Answers(), TODAY).verdict == "talk_first"


def test_the_screening_input_is_what_an_intake_would_hold() -> None:
    answers = Answers(
        pregnant=True,
        conditions=frozenset({"epilepsy"}),
        skin_problems=frozenset({"herpes"}),
        medications=(Medication("antiplatelet", TODAY),),
        allergies=("latex", " "),
        procedures={"laser": TODAY},
        vaccination_on=TODAY,
    )
    data = screening_input(answers)
    assert data.answers.pregnant
    assert data.answers.conditions == {"epilepsy"}
    assert data.answers.skin_problems == {"herpes"}
    assert data.answers.vaccination_on == TODAY
    assert data.medications == (screening.MedicationFact("antiplatelet", "antiplatelet", None, TODAY),)
    assert data.allergies == (screening.AllergyFact("latex"),)
    assert data.procedures == (screening.ProcedureFact("laser", "laser", TODAY),)


CONDITIONS = sorted(default_ruleset().vocabulary.conditions)
SKIN = sorted(default_ruleset().vocabulary.skin_problems)
DRUGS = sorted(default_ruleset().vocabulary.drug_classes)


@given(
    pregnant=st.booleans(),
    breastfeeding=st.booleans(),
    conditions=st.frozensets(st.sampled_from(CONDITIONS), max_size=3),
    skin=st.frozensets(st.sampled_from(SKIN), max_size=2),
    drugs=st.lists(
        st.tuples(st.sampled_from(DRUGS), st.none() | st.integers(min_value=0, max_value=400)), max_size=3
    ),
)
def test_the_verdict_always_follows_the_clinic_screening_outcome(
    pregnant: bool,
    breastfeeding: bool,
    conditions: frozenset[str],
    skin: frozenset[str],
    drugs: list[tuple[str, int | None]],
) -> None:
    answers = Answers(
        concerns=LINES,
        pregnant=pregnant,
        breastfeeding=breastfeeding,
        conditions=conditions,
        skin_problems=skin,
        medications=tuple(
            Medication(d, None if ago is None else TODAY - timedelta(days=ago)) for d, ago in drugs
        ),
    )
    result = assess(answers, TODAY)
    outcome = screening.screen(screening_input(answers), default_ruleset(), TODAY).outcome
    assert (
        result.verdict == {"blocked": "not_now", "needs_override": "talk_first", "clear": "likely"}[outcome]
    )
    if result.reconsider_on is not None:
        assert result.reconsider_on > TODAY
        assert all(r.kind == "defer" for r in result.reasons if r.kind in {"absolute", "defer"})
