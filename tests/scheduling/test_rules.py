"""The calendar rules: interval arithmetic, slots, booking checks, transitions and course slot search."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesoclinic.scheduling import rules
from mesoclinic.scheduling.rules import Busy, Calendar, CourseRequest, Hours, Interval

LONDON = ZoneInfo("Europe/London")
BASE = datetime(2030, 3, 4, tzinfo=UTC)  # a Monday
ALL_WEEK = {d: [(time(9), time(17))] for d in range(7)}


def iv(a: int, b: int) -> Interval:
    """Minutes after BASE."""
    return Interval(BASE + timedelta(minutes=a), BASE + timedelta(minutes=b))


intervals = st.lists(
    st.tuples(st.integers(0, 2000), st.integers(1, 300)).map(lambda p: iv(p[0], p[0] + p[1])), max_size=8
)


def covered(ivs: list[Interval]) -> set[int]:
    minutes: set[int] = set()
    for i in ivs:
        start = int((i.start - BASE).total_seconds() // 60)
        minutes.update(range(start, start + int(i.minutes)))
    return minutes


# --- interval arithmetic -----------------------------------------------------------------------


def test_intervals_refuse_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2030, 1, 1), datetime(2030, 1, 2))  # noqa: DTZ001 - the point of the test


def test_normalise_merges_overlapping_and_touching_intervals() -> None:
    assert rules.normalise([iv(30, 60), iv(0, 30), iv(50, 70), iv(100, 100)]) == [iv(0, 70)]


@given(intervals, intervals)
def test_intersect_and_subtract_agree_with_minute_sets(a: list[Interval], b: list[Interval]) -> None:
    assert covered(rules.intersect(a, b)) == covered(a) & covered(b)
    assert covered(rules.subtract(a, b)) == covered(a) - covered(b)
    for result in (rules.intersect(a, b), rules.subtract(a, b)):
        assert result == rules.normalise(result)


def test_local_windows_follow_daylight_saving() -> None:
    winter = rules.local_windows(date(2030, 1, 7), LONDON, [(time(9), time(17))])
    summer = rules.local_windows(date(2030, 7, 8), LONDON, [(time(9), time(17))])
    assert winter[0].start.hour == 9
    assert summer[0].start.hour == 8  # 09:00 BST is 08:00 UTC
    assert rules.local_day(date(2030, 3, 31), LONDON).minutes == 23 * 60  # the spring-forward day


# --- slots -------------------------------------------------------------------------------------


def test_ceil_to_slot_rounds_up_to_five_minutes() -> None:
    assert rules.ceil_to_slot(BASE + timedelta(minutes=1)) == BASE + timedelta(minutes=5)
    assert rules.ceil_to_slot(BASE + timedelta(minutes=5)) == BASE + timedelta(minutes=5)
    assert rules.is_slot_aligned(BASE + timedelta(minutes=10))
    assert not rules.is_slot_aligned(BASE + timedelta(minutes=10, seconds=1))


def test_an_appointment_holds_its_buffer_in_whole_slots() -> None:
    held = rules.occupied(BASE, duration_minutes=30, buffer_minutes=7)
    assert held == iv(0, 40)
    assert len(rules.slot_starts(held)) == 8


@given(st.integers(0, 10_000), st.integers(1, 240))
def test_slot_starts_cover_the_interval_exactly(offset_seconds: int, minutes: int) -> None:
    start = BASE + timedelta(seconds=offset_seconds)
    interval = Interval(start, start + timedelta(minutes=minutes))
    slots = rules.slot_starts(interval)
    assert slots[0] <= start < slots[0] + rules.SLOT
    assert slots[-1] < interval.end <= slots[-1] + rules.SLOT
    assert all(b - a == rules.SLOT for a, b in zip(slots, slots[1:], strict=False))


# --- booking checks ----------------------------------------------------------------------------


def hours(**overrides: object) -> Hours:
    values: dict[str, object] = {
        "zone": UTC,
        "opening": ALL_WEEK,
        "closures": frozenset(),
        "working": ALL_WEEK,
        "absences": (),
    }
    values.update(overrides)
    return Hours(**values)  # type: ignore[arg-type]


def codes(h: Hours, start: datetime, minutes: int = 30, equipment: tuple[str, ...] = ()) -> list[str]:
    return [
        v.code
        for v in rules.booking_violations(
            h,
            starts_at=start,
            held=rules.occupied(start, minutes, 0),
            now=BASE - timedelta(days=1),
            room_equipment=("couch",),
            required_equipment=equipment,
        )
    ]


def test_a_booking_inside_every_window_has_no_violation() -> None:
    assert codes(hours(), BASE.replace(hour=10)) == []


@pytest.mark.parametrize(
    ("h", "start", "expected"),
    [
        (hours(), BASE.replace(hour=16, minute=45), ["outside-opening-hours", "outside-working-hours"]),
        (hours(working={0: [(time(12), time(17))]}), BASE.replace(hour=10), ["outside-working-hours"]),
        (hours(closures=frozenset({BASE.date()})), BASE.replace(hour=10), ["clinic-closed"]),
        (hours(absences=(iv(600, 620),)), BASE.replace(hour=10), ["practitioner-absent"]),
        (
            hours(),
            BASE - timedelta(days=2),
            ["in-the-past", "outside-opening-hours", "outside-working-hours"],
        ),
        (hours(), BASE.replace(hour=10, minute=2), ["not-slot-aligned"]),
    ],
)
def test_it_names_each_reason_a_time_cannot_be_booked(h: Hours, start: datetime, expected: list[str]) -> None:
    assert codes(h, start) == expected


def test_it_refuses_a_room_without_the_required_equipment() -> None:
    assert codes(hours(), BASE.replace(hour=10), equipment=("couch", "lamp")) == ["room-lacks-equipment"]


def test_status_changes_follow_the_transition_table() -> None:
    assert rules.transition("cancel", "booked") == "cancelled"
    assert rules.transition("check_in", "booked") == "checked_in"
    assert rules.transition("no_show", "booked") == "no_show"
    for status in ("cancelled", "no_show", "completed", "checked_in"):
        refused = rules.transition("cancel", status)
        assert isinstance(refused, rules.Violation)
        assert refused.code == "illegal-transition"


def test_course_gaps_must_fall_within_the_window() -> None:
    assert rules.gap_violation(None, date(2030, 1, 1), 14, 21) is None
    assert rules.gap_violation(date(2030, 1, 1), date(2030, 1, 15), 14, 21) is None
    assert rules.gap_violation(date(2030, 1, 1), date(2030, 1, 22), 14, 21) is None
    too_soon = rules.gap_violation(date(2030, 1, 1), date(2030, 1, 14), 14, 21)
    assert too_soon is not None
    assert too_soon.code == "outside-course-window"
    assert rules.gap_violation(date(2030, 1, 1), date(2030, 1, 23), 14, 21) is not None


def test_busy_lookup_finds_only_intervals_touching_the_span() -> None:
    busy = Busy([iv(0, 10), iv(20, 30), iv(40, 50)])
    assert busy.within(iv(25, 45)) == [iv(20, 30), iv(40, 50)]
    assert busy.within(iv(10, 20)) == []


# --- course slot search ------------------------------------------------------------------------


def calendar(
    busy_p: dict[int, list[Interval]] | None = None,
    rooms: dict[int, frozenset[str]] | None = None,
    busy_room: dict[int, list[Interval]] | None = None,
    working: dict[int, dict[int, list[tuple[time, time]]]] | None = None,
    closures: frozenset[date] = frozenset(),
) -> Calendar:
    return Calendar(
        zone=UTC,
        opening=ALL_WEEK,
        closures=closures,
        working=working if working is not None else {1: ALL_WEEK, 2: ALL_WEEK},
        absences={},
        busy_practitioner={k: Busy(v) for k, v in (busy_p or {}).items()},
        rooms=rooms if rooms is not None else {10: frozenset({"couch"}), 11: frozenset()},
        busy_room={k: Busy(v) for k, v in (busy_room or {}).items()},
    )


def request(**overrides: object) -> CourseRequest:
    values: dict[str, object] = {
        "sessions": 3,
        "duration_minutes": 30,
        "buffer_minutes": 10,
        "interval_min_days": 14,
        "interval_max_days": 21,
        "practitioners": (1, 2),
        "not_before": BASE,
        "required_equipment": frozenset({"couch"}),
        "preferred_practitioner": 1,
    }
    values.update(overrides)
    return CourseRequest(**values)  # type: ignore[arg-type]


def test_it_proposes_the_earliest_slots_with_the_usual_practitioner() -> None:
    result = rules.propose_course_slots(calendar(), request())
    assert result.best is not None
    slots = result.best.slots
    assert [s.starts_at for s in slots] == [
        BASE.replace(hour=9),
        BASE.replace(hour=9) + timedelta(days=14),
        BASE.replace(hour=9) + timedelta(days=28),
    ]
    assert {(s.practitioner_id, s.room_id) for s in slots} == {(1, 10)}
    assert [s.session_number for s in slots] == [1, 2, 3]
    assert 1 <= len(result.alternatives) <= rules.MAX_ALTERNATIVES
    assert all(alt.slots[0].starts_at.date() != slots[0].starts_at.date() for alt in result.alternatives)


def test_it_falls_back_to_another_practitioner_only_when_the_usual_one_is_full() -> None:
    full_day = BASE + timedelta(days=14)
    cal = calendar(busy_p={1: [Interval(full_day, full_day + timedelta(days=8))]})
    result = rules.propose_course_slots(cal, request(interval_min_days=14, interval_max_days=14, sessions=2))
    assert result.best is not None
    assert [s.practitioner_id for s in result.best.slots] == [1, 2]
    assert result.best.slots[1].score >= rules.PENALTY_OTHER_PRACTITIONER


def test_it_honours_the_patients_preferred_days_and_times() -> None:
    wednesday = 2
    result = rules.propose_course_slots(
        calendar(), request(preferred_days=frozenset({wednesday}), preferred_times=((time(14), time(16)),))
    )
    assert result.best is not None
    first = result.best.slots[0]
    assert first.starts_at.weekday() == wednesday
    assert first.starts_at.time() == time(14)
    assert first.score == 2 * rules.PENALTY_PER_DAY_LATE  # two days after the Monday


def test_it_skips_closures_and_busy_rooms() -> None:
    cal = calendar(
        closures=frozenset({BASE.date()}), busy_room={10: [iv(24 * 60 + 9 * 60, 24 * 60 + 12 * 60)]}
    )
    result = rules.propose_course_slots(cal, request(sessions=1))
    assert result.best is not None
    assert result.best.slots[0].starts_at == BASE + timedelta(days=1, hours=12)


def test_it_says_why_when_no_course_fits() -> None:
    result = rules.propose_course_slots(calendar(rooms={11: frozenset()}), request())
    assert result.best is None
    assert result.reason
    assert rules.propose_course_slots(calendar(), request(sessions=0)).best is None


def test_a_passed_window_restarts_the_search_from_now() -> None:
    result = rules.propose_course_slots(
        calendar(), request(sessions=1, previous=BASE.date() - timedelta(days=60))
    )
    assert result.best is not None
    assert result.best.slots[0].starts_at == BASE.replace(hour=9)


def test_replanning_after_a_move_anchors_the_rest_on_the_new_date() -> None:
    moved_to = BASE + timedelta(days=20, hours=10)
    result = rules.replan_after_move(
        calendar(), request(sessions=2), moved_session_number=1, moved_to=moved_to
    )
    assert result.best is not None
    assert [s.session_number for s in result.best.slots] == [2, 3]
    assert (result.best.slots[0].starts_at.date() - moved_to.date()).days == 14


busy_lists = st.lists(st.tuples(st.integers(0, 40 * 24 * 4), st.integers(1, 16)), max_size=60).map(
    lambda pairs: [
        Interval(BASE + timedelta(minutes=15 * s), BASE + timedelta(minutes=15 * (s + n))) for s, n in pairs
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    busy_1=busy_lists,
    busy_2=busy_lists,
    busy_room=busy_lists,
    min_days=st.integers(1, 10),
    extra_days=st.integers(0, 10),
    sessions=st.integers(1, 4),
    previous=st.none() | st.integers(-5, 5),
)
def test_proposed_slots_are_free_in_hours_and_within_the_window(
    busy_1: list[Interval],
    busy_2: list[Interval],
    busy_room: list[Interval],
    min_days: int,
    extra_days: int,
    sessions: int,
    previous: int | None,
) -> None:
    cal = calendar(
        busy_p={1: busy_1, 2: busy_2},
        busy_room={10: busy_room},
        working={1: ALL_WEEK, 2: {0: [(time(12), time(14))]}},
    )
    req = request(
        sessions=sessions,
        interval_min_days=min_days,
        interval_max_days=min_days + extra_days,
        previous=None if previous is None else BASE.date() + timedelta(days=previous),
    )
    result = rules.propose_course_slots(cal, req)
    plans = ([result.best] if result.best else []) + list(result.alternatives)
    for plan in plans:
        assert len(plan.slots) == sessions
        anchor = (
            req.previous
            if req.previous
            and req.previous + timedelta(days=req.interval_max_days) >= BASE.date() - timedelta(days=1)
            else None
        )
        for slot in plan.slots:
            held = rules.occupied(slot.starts_at, 30, 10)
            assert slot.starts_at >= req.not_before
            busy = {1: busy_1, 2: busy_2}[slot.practitioner_id]
            assert not any(held.overlaps(b) for b in busy)
            assert not any(held.overlaps(b) for b in busy_room)
            assert slot.room_id == 10
            worked = rules.local_windows(
                slot.starts_at.date(),
                UTC,
                cal.working[slot.practitioner_id].get(slot.starts_at.weekday(), []),
            )
            assert any(w.contains(held) for w in worked)
            if anchor is not None:
                assert (
                    rules.gap_violation(anchor, slot.starts_at.date(), min_days, min_days + extra_days)
                    is None
                )
            anchor = slot.starts_at.date()


@settings(max_examples=60, deadline=None)
@given(
    busy_1=busy_lists,
    busy_room=busy_lists,
    preferred_days=st.frozensets(st.integers(0, 6), max_size=3),
    preferred_times=st.lists(st.sampled_from([(time(9), time(11)), (time(14), time(16))]), max_size=1),
    previous=st.none() | st.integers(-5, 5),
)
def test_candidate_days_come_best_first_exactly_as_scoring_every_day_would(
    busy_1: list[Interval],
    busy_room: list[Interval],
    preferred_days: frozenset[int],
    preferred_times: list[tuple[time, time]],
    previous: int | None,
) -> None:
    """The search looks at days lazily; the order must be that of scoring every day of the window."""
    cal = calendar(busy_p={1: busy_1}, busy_room={10: busy_room})
    req = request(preferred_days=preferred_days, preferred_times=tuple(preferred_times))
    anchor = None if previous is None else BASE.date() + timedelta(days=previous)
    lazy = list(rules._candidates(cal, req, anchor, 1, {}))
    days = rules._window(req, anchor)
    earliest = max(days[0], req.not_before.astimezone(cal.zone).date())
    scored = [rules._best_on_day(cal, req, day, earliest, 1, {}) for day in days]
    every_day = sorted((s for s in scored if s is not None), key=lambda s: (s.score, s.starts_at))
    assert lazy == every_day
