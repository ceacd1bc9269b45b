"""Course planning rules: protocol defaults, bounds, and interval arithmetic (with hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.planning import rules
from mesoclinic.planning.rules import Plan

BOUNDS = rules.bounds_for()


def test_the_bounds_and_protocols_carry_their_sources() -> None:
    assert (BOUNDS.sessions_min, BOUNDS.sessions_max) == (3, 6)
    assert (BOUNDS.interval_min_days, BOUNDS.interval_max_days) == (7, 28)
    assert BOUNDS.maintenance_default_days == 182
    assert "clinic consensus" in BOUNDS.source
    assert all(p.source for p in rules.reference().protocols)
    with pytest.raises(LookupError):
        rules.protocol("nope")


def test_a_clinic_override_replaces_only_the_fields_it_sets() -> None:
    override = rules.BoundsOverride(interval_max_days=35, source="clinic A policy")
    merged = rules._merge(BOUNDS, override)
    assert (merged.interval_min_days, merged.interval_max_days) == (7, 35)
    assert rules.bounds_for("no-such-clinic") == BOUNDS
    with pytest.raises(ValueError, match="out of order"):
        rules._merge(BOUNDS, rules.BoundsOverride(sessions_min=7, source="x"))


def test_the_default_follows_the_final_cocktail_first() -> None:
    course = rules.default_course(["dehydration"], ingredient_codes=["ncha", "skin_booster"])
    assert course.protocol == "skin_booster"
    assert (course.plan.sessions, course.plan.interval_min_days, course.plan.interval_max_days) == (3, 21, 28)
    assert course.plan.session_minutes == 30
    assert course.plan.maintenance_interval_days == 182


def test_the_default_follows_the_most_severe_concern_then_falls_back_to_standard() -> None:
    assert rules.default_course(["laxity", "dehydration"]).protocol == "skin_booster"
    assert rules.default_course(["acne_scars", "dehydration"]).protocol == "standard"
    standard = rules.default_course([])
    assert standard.protocol == "standard"
    assert (standard.plan.sessions, standard.plan.interval_min_days, standard.plan.interval_max_days) == (
        4,
        14,
        21,
    )


def test_a_published_six_session_course_defaults_to_five_and_says_so() -> None:
    course = rules.default_course(["pigmentation"])
    assert course.protocol == "pigmentation"
    assert course.plan.sessions == 5
    assert "up to 6 may be chosen" in course.rationale
    assert rules.validate_plan(rules.with_changes(course.plan, {"sessions_planned": 6})) == []


def test_an_explicit_protocol_wins() -> None:
    assert rules.default_course(["pigmentation"], "polyrevitalising").plan.sessions == 5


def test_protocol_intervals_are_kept_within_the_clinic_bounds() -> None:
    narrow = rules._merge(BOUNDS, rules.BoundsOverride(interval_max_days=18, source="x"))
    course = rules.default_course([], "skin_booster", bounds=narrow)
    assert (course.plan.interval_min_days, course.plan.interval_max_days) == (18, 18)
    assert "Interval kept within 7–18 days" in course.rationale


@given(
    st.lists(
        st.sampled_from(["fine_lines", "dullness", "dehydration", "pigmentation", "acne_scars", "laxity"])
    ),
    st.lists(st.sampled_from(["ncha", "skin_booster", "tranexamic_acid", "polyrevitalising", "dmae"])),
)
def test_every_default_course_is_a_valid_plan_of_three_to_five_sessions(
    concerns: list[str], codes: list[str]
) -> None:
    course = rules.default_course(concerns, ingredient_codes=codes)
    assert 3 <= course.plan.sessions <= 5
    assert rules.validate_plan(course.plan) == []


def fields(plan: Plan) -> list[tuple[str, str]]:
    return [(p.code, p.field) for p in rules.validate_plan(plan)]


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (Plan(4, 14, 21), []),
        (Plan(3, 7, 28), []),
        (Plan(6, 28, 28), []),
        (Plan(2, 14, 21), [("sessions-out-of-range", "sessions_planned")]),
        (Plan(7, 14, 21), [("sessions-out-of-range", "sessions_planned")]),
        (Plan(4, 6, 21), [("interval-out-of-range", "interval_min_days")]),
        (Plan(4, 14, 29), [("interval-out-of-range", "interval_max_days")]),
        (Plan(4, 21, 14), [("interval-order", "interval_max_days")]),
        (
            Plan(4, 14, 21, maintenance_interval_days=30),
            [("maintenance-out-of-range", "maintenance_interval_days")],
        ),
        (
            Plan(4, 14, 21, maintenance_interval_days=400),
            [("maintenance-out-of-range", "maintenance_interval_days")],
        ),
        (Plan(4, 14, 21, session_minutes=10), [("session-minutes-out-of-range", "session_minutes")]),
    ],
)
def test_validate_plan_names_the_field_out_of_bounds(plan: Plan, expected: list[tuple[str, str]]) -> None:
    assert fields(plan) == expected


def test_the_window_after_a_session() -> None:
    plan = Plan(4, 14, 21)
    assert rules.session_window(date(2026, 3, 1), plan) == (date(2026, 3, 15), date(2026, 3, 22))
    assert rules.is_within_window(date(2026, 3, 1), date(2026, 3, 15), plan)
    assert rules.is_within_window(date(2026, 3, 1), date(2026, 3, 22), plan)
    assert not rules.is_within_window(date(2026, 3, 1), date(2026, 3, 14), plan)
    assert not rules.is_within_window(date(2026, 3, 1), date(2026, 3, 23), plan)


def test_planned_dates_and_maintenance() -> None:
    plan = Plan(4, 14, 21, maintenance_interval_days=182)
    assert rules.planned_dates(date(2026, 1, 5), plan) == [
        date(2026, 1, 5),
        date(2026, 1, 22),
        date(2026, 2, 8),
        date(2026, 2, 25),
    ]
    assert rules.maintenance_due(date(2026, 2, 25), plan) == date(2026, 8, 26)


days = st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31))


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    low = draw(st.integers(BOUNDS.interval_min_days, BOUNDS.interval_max_days))
    high = draw(st.integers(low, BOUNDS.interval_max_days))
    return Plan(
        sessions=draw(st.integers(BOUNDS.sessions_min, BOUNDS.sessions_max)),
        interval_min_days=low,
        interval_max_days=high,
        maintenance_interval_days=draw(st.integers(BOUNDS.maintenance_min_days, BOUNDS.maintenance_max_days)),
    )


@given(days, plans())
def test_a_window_is_never_shorter_than_the_minimum_and_spans_max_minus_min(
    previous: date, plan: Plan
) -> None:
    earliest, latest = rules.session_window(previous, plan)
    assert (earliest - previous).days == plan.interval_min_days
    assert (latest - earliest).days == plan.interval_max_days - plan.interval_min_days
    assert rules.is_within_window(previous, earliest, plan)
    assert rules.is_within_window(previous, latest, plan)
    assert not rules.is_within_window(previous, earliest - timedelta(days=1), plan)
    assert not rules.is_within_window(previous, latest + timedelta(days=1), plan)


@given(days, plans())
def test_planned_dates_increase_strictly_with_every_gap_inside_the_window(start: date, plan: Plan) -> None:
    dates = rules.planned_dates(start, plan)
    assert len(dates) == plan.sessions
    assert dates[0] == start
    for previous, following in zip(dates, dates[1:], strict=False):
        assert following > previous
        assert rules.is_within_window(previous, following, plan)


@given(days, plans())
def test_maintenance_falls_after_the_last_session_by_the_interval(last: date, plan: Plan) -> None:
    due = rules.maintenance_due(last, plan)
    assert (due - last).days == plan.maintenance_interval_days > 0
