"""Escalation rules: red flags at any time, expected symptoms only past their window or when severe."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.aftercare import rules
from mesoclinic.aftercare.rules import Urgency

REFERENCE = rules.reference()
SYMPTOMS = sorted(REFERENCE.symptoms)
RED_FLAGS = sorted(REFERENCE.red_flags)


def test_every_symptom_and_red_flag_carries_its_source() -> None:
    assert all(s.source for s in REFERENCE.symptoms.values())
    assert all(f.source and f.advice for f in REFERENCE.red_flags.values())
    assert rules.instructions().items


def test_the_schedule_covers_day_one_to_week_twelve() -> None:
    schedule = rules.checkin_schedule(date(2026, 1, 1))
    assert schedule[0] == ("day1", date(2026, 1, 2))
    assert schedule[-1] == ("week12", date(2026, 1, 1) + timedelta(days=84))
    assert [d for _, d in schedule] == sorted(d for _, d in schedule)


def test_expected_redness_on_day_one_is_not_escalated() -> None:
    assert rules.evaluate_checkin({"redness": 2, "swelling": 1}, set(), days_since_session=1) == []


def test_redness_past_its_window_is_escalated_for_routine_review() -> None:
    reasons = rules.evaluate_checkin(
        {"redness": 1}, set(), days_since_session=REFERENCE.symptoms["redness"].expected_days + 1
    )
    assert [(r.code, r.urgency) for r in reasons] == [("prolonged:redness", Urgency.ROUTINE)]


def test_a_severe_symptom_is_urgent_even_inside_its_window() -> None:
    reasons = rules.evaluate_checkin({"swelling": 3}, set(), days_since_session=0)
    assert [(r.code, r.urgency) for r in reasons] == [("severe:swelling", Urgency.URGENT)]


def test_breathing_difficulty_and_dusky_skin_are_emergencies() -> None:
    for flag in ("breathing_difficulty", "blanching_or_dusky_skin"):
        reasons = rules.evaluate_checkin({}, {flag}, days_since_session=0)
        assert rules.overall_urgency(reasons) is Urgency.EMERGENCY


def test_a_new_painful_nodule_months_later_is_urgent() -> None:
    reasons = rules.evaluate_checkin({}, {"new_painful_nodule"}, days_since_session=300)
    assert [(r.code, r.urgency) for r in reasons] == [("red-flag:new_painful_nodule", Urgency.URGENT)]


def test_reasons_are_ordered_most_urgent_first() -> None:
    reasons = rules.evaluate_checkin({"redness": 1}, {"fever", "breathing_difficulty"}, days_since_session=20)
    assert [r.urgency for r in reasons] == sorted((r.urgency for r in reasons), reverse=True)
    assert reasons[0].code == "red-flag:breathing_difficulty"


@given(
    symptoms=st.dictionaries(st.sampled_from(SYMPTOMS), st.integers(0, 3)),
    flags=st.sets(st.sampled_from(RED_FLAGS)),
    day=st.integers(0, 400),
)
def test_escalation_happens_exactly_when_a_rule_says_so(
    symptoms: dict[str, int], flags: set[str], day: int
) -> None:
    reasons = rules.evaluate_checkin(symptoms, flags, day)
    expected = bool(flags) or any(
        severity == 3 or (severity > 0 and day > REFERENCE.symptoms[code].expected_days)
        for code, severity in symptoms.items()
    )
    assert bool(reasons) == expected
    urgency = rules.overall_urgency(reasons)
    if flags:
        assert urgency is not None
        assert urgency >= Urgency.URGENT
    if not reasons:
        assert urgency is None
