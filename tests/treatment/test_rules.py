"""Session rules: impossible injection entries are refused, unusual ones flagged, numbing timed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.treatment import rules

ZONES = {"forehead": {"M"}, "cheek": {"L", "R"}}
GOOD = rules.InjectionEntry(
    zone="cheek",
    side="L",
    technique="nappage",
    depth_mm=2.0,
    volume_per_point_ml=0.02,
    points=40,
    needle_gauge=32,
    needle_length_mm=4.0,
    total_volume_ml=0.8,
)


def codes(entry: rules.InjectionEntry) -> list[str]:
    return [p.code for p in rules.injection_problems(entry, ZONES)]


def test_a_usual_entry_has_no_problem_and_no_notice() -> None:
    assert codes(GOOD) == []
    assert rules.injection_notices(GOOD) == []


def test_it_refuses_unknown_zone_wrong_side_and_unknown_technique() -> None:
    assert codes(replace(GOOD, zone="elbow")) == ["unknown-zone"]
    assert codes(replace(GOOD, zone="forehead", side="L")) == ["invalid-side"]
    assert codes(replace(GOOD, technique="spray")) == ["unknown-technique"]


def test_it_refuses_a_depth_beyond_the_needle() -> None:
    assert codes(replace(GOOD, depth_mm=5.0, needle_length_mm=4.0)) == ["depth-beyond-needle"]


def test_it_refuses_totals_that_do_not_add_up() -> None:
    assert codes(replace(GOOD, total_volume_ml=2.0)) == ["total-mismatch"]


def test_it_refuses_implausible_gauge_and_volume() -> None:
    assert codes(replace(GOOD, needle_gauge=12)) == ["gauge-out-of-range"]
    assert codes(replace(GOOD, volume_per_point_ml=2.0, total_volume_ml=None)) == ["volume-out-of-range"]


def test_unusual_depth_for_the_technique_is_flagged_not_refused() -> None:
    deep = replace(GOOD, technique="papule", depth_mm=3.5)
    assert codes(deep) == []
    assert any("usual" in n for n in rules.injection_notices(deep))


@given(volume=st.floats(0.001, 0.5), points=st.integers(1, 500))
def test_the_computed_total_is_always_accepted(volume: float, points: int) -> None:
    entry = replace(
        GOOD, volume_per_point_ml=volume, points=points, total_volume_ml=rules.total_volume(volume, points)
    )
    assert "total-mismatch" not in codes(entry)


def test_numbing_wait_is_at_least_the_protocol_minimum() -> None:
    applied = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    minimum = rules.protocol().numbing.minimum_wait_minutes
    short = {"numbing": {"applied_at": applied.isoformat(), "wait_minutes": 5}}
    assert rules.numbing_ready_at(short) == applied + timedelta(minutes=minimum)
    longer = {"numbing": {"applied_at": applied.isoformat(), "wait_minutes": minimum + 40}}
    assert rules.numbing_ready_at(longer) == applied + timedelta(minutes=minimum + 40)
    assert rules.numbing_ready_at({"numbing": {"declined_reason": "patient prefers none"}}) is None


def test_missing_steps_are_listed_in_protocol_order() -> None:
    assert rules.missing_steps({}) == list(rules.CHECKLIST_STEPS)
    assert rules.missing_steps({"screening_confirmed": {"at": "x"}, "consent_confirmed": {"at": "x"}}) == [
        "skin_cleansed",
        "numbing",
    ]
