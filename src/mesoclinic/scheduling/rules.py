"""Calendar decisions as pure functions: free time, slot arithmetic, booking checks, course slot search.

Nothing here touches the database. Times are timezone-aware; weekly hours (opening hours, working
hours, a patient's preferred times) are clinic-local wall-clock times, turned into UTC intervals for
one local day by ``local_windows`` so that daylight-saving changes are handled by ``zoneinfo``.

Rule codes are stable (they appear in problem documents). Sources: the issue "Scheduling and
reminders" (MesoClinic issue 4) for the calendar rules; course intervals come from the course plan,
whose defaults are sourced in ``planning/data`` (reference §3: "an interval of 1–4 weeks, 3–6
sessions" **[clinic consensus]**).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

#: Booking granularity (mirrors ``models.scheduling.SLOT_MINUTES``; rules do not import models).
SLOT_MINUTES = 5
SLOT = timedelta(minutes=SLOT_MINUTES)

#: Statuses that hold calendar time; cancelled and no-show appointments release their slots.
LIVE_STATUSES = frozenset({"booked", "checked_in", "completed"})

#: Status changes: action → statuses it may start from → status it leads to.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "reschedule": (frozenset({"booked"}), "booked"),
    "cancel": (frozenset({"booked"}), "cancelled"),
    "check_in": (frozenset({"booked"}), "checked_in"),
    "no_show": (frozenset({"booked"}), "no_show"),
}

#: How far ahead the first session of a course is searched when nothing anchors it (days).
FIRST_SESSION_HORIZON_DAYS = 28
#: Score penalties of the course slot search (lower is better). Another practitioner costs more
#: than any other compromise: continuity of care is preferred, so another practitioner is only
#: chosen on a day the usual one cannot be booked.
PENALTY_OTHER_PRACTITIONER = 1000
PENALTY_NOT_PREFERRED_DAY = 40
PENALTY_NOT_PREFERRED_TIME = 20
#: Each day later than the earliest allowed date costs this much: earliest-feasible otherwise.
PENALTY_PER_DAY_LATE = 2
MAX_ALTERNATIVES = 3


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval times must be timezone-aware")

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


Window = tuple[time, time]


@dataclass(frozen=True)
class Violation:
    """Why a booking is refused: a stable code, a plain-language reason and the field concerned."""

    code: str
    reason: str
    field: str | None = None


# --- interval arithmetic -----------------------------------------------------------------------


def normalise(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-empty, with overlapping or touching intervals merged."""
    merged: list[Interval] = []
    for iv in sorted((i for i in intervals if i.end > i.start), key=_bounds):
        if merged and iv.start <= merged[-1].end:
            if iv.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, iv.end)
        else:
            merged.append(iv)
    return merged


def _bounds(interval: Interval) -> tuple[datetime, datetime]:
    return interval.start, interval.end


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    left, right = normalise(a), normalise(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            out.append(Interval(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return out


def subtract(base: Iterable[Interval], remove: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    holes = normalise(remove)
    for iv in normalise(base):
        start = iv.start
        for hole in holes:
            if hole.end <= start or hole.start >= iv.end:
                continue
            if hole.start > start:
                out.append(Interval(start, hole.start))
            start = max(start, hole.end)
            if start >= iv.end:
                break
        if start < iv.end:
            out.append(Interval(start, iv.end))
    return out


def local_windows(day: date, zone: ZoneInfo, windows: Iterable[Window]) -> list[Interval]:
    """Clinic-local wall-clock windows on ``day`` as UTC intervals."""
    return list(_local_windows(day, zone, tuple(windows)))


@functools.lru_cache(maxsize=4096)
def _local_windows(day: date, zone: ZoneInfo, windows: tuple[Window, ...]) -> tuple[Interval, ...]:
    return tuple(
        normalise(
            Interval(
                datetime.combine(day, opens, tzinfo=zone).astimezone(UTC),
                datetime.combine(day, closes, tzinfo=zone).astimezone(UTC),
            )
            for opens, closes in windows
            if closes > opens
        )
    )


def local_day(day: date, zone: ZoneInfo) -> Interval:
    return Interval(
        datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC),
    )


# --- slot arithmetic ---------------------------------------------------------------------------


def ceil_to_slot(moment: datetime) -> datetime:
    """The first slot boundary at or after ``moment`` (slots are aligned on the UTC epoch)."""
    utc = moment.astimezone(UTC)
    if utc.microsecond == 0 and utc.second == 0 and utc.minute % SLOT_MINUTES == 0:
        return utc
    step = SLOT_MINUTES * 60
    return datetime.fromtimestamp(math.ceil(utc.timestamp() / step) * step, UTC)


def is_slot_aligned(moment: datetime) -> bool:
    return ceil_to_slot(moment) == moment.astimezone(UTC)


def occupied(starts_at: datetime, duration_minutes: int, buffer_minutes: int) -> Interval:
    """The time an appointment holds: itself and its buffer, rounded up to whole slots."""
    start = starts_at.astimezone(UTC)
    return Interval(start, ceil_to_slot(start + timedelta(minutes=duration_minutes + buffer_minutes)))


def slot_starts(interval: Interval) -> list[datetime]:
    """The start of every slot the interval touches (one ``booked_slot`` row each, per resource)."""
    slots: list[datetime] = []
    moment = interval.start.astimezone(UTC)
    aligned = ceil_to_slot(moment)
    if aligned != moment:
        moment = aligned - SLOT
    while moment < interval.end:
        slots.append(moment)
        moment += SLOT
    return slots


# --- booking checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hours:
    """A clinic's weekly hours and closures, a practitioner's working hours and absences there."""

    zone: ZoneInfo
    opening: Mapping[int, Sequence[Window]]
    closures: frozenset[date]
    working: Mapping[int, Sequence[Window]]
    absences: Sequence[Interval] = ()


def available(hours: Hours, day: date) -> list[Interval]:
    """When the clinic is open and the practitioner works and is not absent, on one local day."""
    if day in hours.closures:
        return []
    open_ = local_windows(day, hours.zone, hours.opening.get(day.weekday(), ()))
    work = local_windows(day, hours.zone, hours.working.get(day.weekday(), ()))
    return subtract(intersect(open_, work), hours.absences)


def booking_violations(
    hours: Hours,
    *,
    starts_at: datetime,
    held: Interval,
    now: datetime,
    room_equipment: Iterable[str],
    required_equipment: Iterable[str],
) -> list[Violation]:
    """Everything wrong with booking ``held`` (appointment plus buffer); empty when it may be booked.

    The appointment itself must lie in opening and working hours; its buffer may not run past them
    either, since the buffer occupies the room and the practitioner. Source: issue 4."""
    problems: list[Violation] = []
    if starts_at.tzinfo is None:
        return [Violation("naive-time", "Times must carry a time zone.", "starts_at")]
    if starts_at <= now:
        problems.append(
            Violation("in-the-past", "Appointments can only be booked in the future.", "starts_at")
        )
    if not is_slot_aligned(starts_at):
        problems.append(
            Violation(
                "not-slot-aligned", f"Start times fall on {SLOT_MINUTES}-minute boundaries.", "starts_at"
            )
        )
    missing = sorted(set(required_equipment) - set(room_equipment))
    if missing:
        problems.append(
            Violation("room-lacks-equipment", f"The room lacks: {', '.join(missing)}.", "room_id")
        )
    day = starts_at.astimezone(hours.zone).date()
    if day in hours.closures:
        problems.append(Violation("clinic-closed", "The clinic is closed that day.", "starts_at"))
        return problems
    open_ = local_windows(day, hours.zone, hours.opening.get(day.weekday(), ()))
    if not any(w.contains(held) for w in open_):
        problems.append(
            Violation("outside-opening-hours", "The appointment is outside opening hours.", "starts_at")
        )
    work = local_windows(day, hours.zone, hours.working.get(day.weekday(), ()))
    if not any(w.contains(held) for w in work):
        problems.append(
            Violation(
                "outside-working-hours",
                "The practitioner does not work then.",
                "practitioner_user_id",
            )
        )
    if any(a.overlaps(held) for a in hours.absences):
        problems.append(
            Violation("practitioner-absent", "The practitioner is absent then.", "practitioner_user_id")
        )
    return problems


def transition(action: str, status: str) -> str | Violation:
    """The status an action leads to, or why it may not happen (an append-only history follows)."""
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        return Violation(
            "illegal-transition",
            f"An appointment that is {status.replace('_', ' ')} cannot be {action.replace('_', ' ')}.",
        )
    return target


def gap_violation(previous: date | None, on: date, min_days: int, max_days: int) -> Violation | None:
    """A course session must fall ``min_days``–``max_days`` after the previous one (the course plan's
    interval window; reference §3, 1–4 weeks **[clinic consensus]**)."""
    if previous is None:
        return None
    gap = (on - previous).days
    if gap < min_days or gap > max_days:
        return Violation(
            "outside-course-window",
            f"Sessions of this course are {min_days}–{max_days} days apart; this one is {gap} days after "
            "the previous one.",
            "starts_at",
        )
    return None


# --- course slot search ------------------------------------------------------------------------


class Busy:
    """One resource's busy intervals, sorted, with fast lookup of those touching a span."""

    __slots__ = ("_intervals", "_starts")

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._intervals = normalise(intervals)
        self._starts = [i.start for i in self._intervals]

    def within(self, span: Interval) -> list[Interval]:
        # Normalised intervals do not overlap, so their ends are sorted too: the first that can
        # touch ``span`` is at most one position before the first starting at or after span.start.
        i = max(bisect.bisect_left(self._starts, span.start) - 1, 0)
        out: list[Interval] = []
        while i < len(self._intervals) and self._intervals[i].start < span.end:
            if self._intervals[i].end > span.start:
                out.append(self._intervals[i])
            i += 1
        return out


class BusyLookup(Protocol):
    """Anything that answers "which busy intervals touch this span" (``Busy``, or a caller's lazy view
    that fetches only the spans the search asks about)."""

    def within(self, span: Interval) -> list[Interval]: ...


NO_BUSY = Busy()


@dataclass(frozen=True)
class Calendar:
    """Everything the course slot search needs about one clinic, built once per request."""

    zone: ZoneInfo
    opening: Mapping[int, Sequence[Window]]
    closures: frozenset[date]
    #: practitioner → weekday → working windows at this clinic.
    working: Mapping[int, Mapping[int, Sequence[Window]]]
    absences: Mapping[int, BusyLookup]
    busy_practitioner: Mapping[int, BusyLookup]
    #: room id → its equipment codes (active rooms only).
    rooms: Mapping[int, frozenset[str]]
    #: Asked only about the windows in which the practitioner is free (so a lazy view stays narrow).
    busy_room: Mapping[int, BusyLookup]
    busy_patient: BusyLookup = field(default_factory=Busy)


@dataclass(frozen=True)
class CourseRequest:
    sessions: int
    duration_minutes: int
    buffer_minutes: int
    interval_min_days: int
    interval_max_days: int
    #: Practitioners who may be booked (qualified, working at the clinic).
    practitioners: tuple[int, ...]
    not_before: datetime
    #: The date of the last booked or performed session; ``None`` for a course not yet started.
    previous: date | None = None
    required_equipment: frozenset[str] = frozenset()
    preferred_practitioner: int | None = None
    preferred_days: frozenset[int] = frozenset()
    preferred_times: tuple[Window, ...] = ()
    first_session_number: int = 1


@dataclass(frozen=True)
class ProposedSlot:
    session_number: int
    starts_at: datetime
    ends_at: datetime
    practitioner_id: int
    room_id: int
    score: int


@dataclass(frozen=True)
class CoursePlanProposal:
    slots: tuple[ProposedSlot, ...]

    @property
    def score(self) -> int:
        return sum(s.score for s in self.slots)


@dataclass(frozen=True)
class CourseProposals:
    best: CoursePlanProposal | None
    alternatives: tuple[CoursePlanProposal, ...]
    #: Why no plan could be found (``None`` when ``best`` is set).
    reason: str | None = None


def _free_for(
    cal: Calendar, practitioner: int, day: date, span: Interval, working: Mapping[int, Sequence[Window]]
) -> list[Interval]:
    open_ = local_windows(day, cal.zone, cal.opening.get(day.weekday(), ()))
    work = local_windows(day, cal.zone, working.get(day.weekday(), ()))
    free = intersect(open_, work)
    if not free:
        return []
    blocked = cal.busy_practitioner.get(practitioner, NO_BUSY).within(span)
    blocked += cal.absences.get(practitioner, NO_BUSY).within(span)
    blocked += cal.busy_patient.within(span)
    return subtract(free, blocked)


def _starts_in(
    req: CourseRequest, day: date, zone: ZoneInfo, window: Interval, not_before: datetime, length: timedelta
) -> list[tuple[datetime, bool]]:
    """Candidate starts in one free window: its earliest, and the earliest inside each preferred
    time of the patient (flagged ``True``; with no preference every start counts as preferred)."""
    starts: list[tuple[datetime, bool]] = []
    earliest = max(ceil_to_slot(window.start), not_before)
    if earliest + length <= window.end:
        starts.append((earliest, not req.preferred_times))
    for pref in intersect([window], local_windows(day, zone, req.preferred_times)):
        start = max(ceil_to_slot(pref.start), not_before)
        if start + length <= pref.end:
            starts.append((start, True))
    return starts


#: A practitioner's best start on one day, the room and whether it is in the patient's preferred
#: times; ``None`` when they cannot be booked that day. It depends only on the day, the practitioner
#: and the request, so one search computes it once (the search revisits days many times).
_Pick = tuple[datetime, int, bool] | None
_Memo = dict[tuple[date, int], _Pick]


def _pick_for(cal: Calendar, req: CourseRequest, day: date, practitioner: int) -> _Pick:
    """The earliest start (preferred times first) in a room with the equipment, lowest room id on a
    tie. Free windows are visited in time order, so the search stops at the first window holding a
    start in the patient's preferred times: a later window can only start later."""
    working = cal.working.get(practitioner)
    if not working:
        return None
    span = local_day(day, cal.zone)
    free = _free_for(cal, practitioner, day, span, working)
    if not free:
        return None
    length = timedelta(
        minutes=math.ceil((req.duration_minutes + req.buffer_minutes) / SLOT_MINUTES) * SLOT_MINUTES
    )
    rooms = [r for r, kit in sorted(cal.rooms.items()) if req.required_equipment <= kit]
    not_before = ceil_to_slot(req.not_before)
    best: tuple[int, datetime, int, bool] | None = None
    for fragment in free:
        for room in rooms:
            holes = cal.busy_room.get(room, NO_BUSY).within(fragment)
            for window in subtract([fragment], holes):
                for start, preferred in _starts_in(req, day, cal.zone, window, not_before, length):
                    penalty = 0 if preferred else PENALTY_NOT_PREFERRED_TIME
                    if best is None or (penalty, start) < (best[0], best[1]):
                        best = (penalty, start, room, preferred)
        if best is not None and best[0] == 0:
            break
    return None if best is None else (best[1], best[2], best[3])


def _best_on_day(
    cal: Calendar, req: CourseRequest, day: date, earliest_day: date, session_number: int, memo: _Memo
) -> ProposedSlot | None:
    """The best slot on one day: the usual practitioner first, then the others."""
    if day in cal.closures or not cal.opening.get(day.weekday()):
        return None
    if local_day(day, cal.zone).end <= req.not_before:
        return None  # every start would be in the past: no need to ask each practitioner
    base = _day_floor(req, day, earliest_day)
    ordered = sorted(req.practitioners, key=lambda p: (p != req.preferred_practitioner, p))
    for practitioner in ordered:
        if (day, practitioner) not in memo:
            memo[(day, practitioner)] = _pick_for(cal, req, day, practitioner)
        pick = memo[(day, practitioner)]
        if pick is None:
            continue
        start, room, preferred = pick
        score = base + (0 if preferred else PENALTY_NOT_PREFERRED_TIME)
        if req.preferred_practitioner is not None and practitioner != req.preferred_practitioner:
            score += PENALTY_OTHER_PRACTITIONER
        return ProposedSlot(
            session_number, start, start + timedelta(minutes=req.duration_minutes), practitioner, room, score
        )
    return None


def _window(req: CourseRequest, previous: date | None) -> list[date]:
    first_day = req.not_before.astimezone(UTC).date() - timedelta(days=1)
    if previous is not None and previous + timedelta(days=req.interval_max_days) < first_day:
        previous = None  # the window has passed: the next session is booked as soon as possible
    if previous is None:
        return [first_day + timedelta(days=n) for n in range(FIRST_SESSION_HORIZON_DAYS + 2)]
    return [
        previous + timedelta(days=n)
        for n in range(req.interval_min_days, req.interval_max_days + 1)
        if previous + timedelta(days=n) >= first_day
    ]


def _day_floor(req: CourseRequest, day: date, earliest_day: date) -> int:
    """The lowest score any slot on ``day`` can have: ``_best_on_day`` only adds penalties to it."""
    floor = (day - earliest_day).days * PENALTY_PER_DAY_LATE
    if req.preferred_days and day.weekday() not in req.preferred_days:
        floor += PENALTY_NOT_PREFERRED_DAY
    return floor


def _candidates(
    cal: Calendar, req: CourseRequest, previous: date | None, number: int, memo: _Memo
) -> Iterator[ProposedSlot]:
    """Each day's best slot, best first (by score, then start), found lazily: days are visited in
    order of the lowest score they could reach, and a slot is given out as soon as no unvisited
    day could beat it. The search usually needs the first few, so most days are never looked at
    (and their rooms never fetched); the order is exactly that of scoring every day."""
    days = _window(req, previous)
    if not days:
        return
    earliest = max(days[0], req.not_before.astimezone(cal.zone).date())
    unvisited = sorted(days, key=lambda d: (_day_floor(req, d, earliest), d))
    found: list[tuple[int, datetime, ProposedSlot]] = []
    for day in unvisited:
        floor = _day_floor(req, day, earliest)
        while found and found[0][0] < floor:
            yield heapq.heappop(found)[2]
        slot = _best_on_day(cal, req, day, earliest, number, memo)
        if slot is not None and slot.starts_at >= req.not_before:
            heapq.heappush(found, (slot.score, slot.starts_at, slot))
    while found:
        yield heapq.heappop(found)[2]


def _search(
    cal: Calendar, req: CourseRequest, previous: date | None, index: int, budget: list[int], memo: _Memo
) -> list[ProposedSlot] | None:
    """Depth-first: the best candidate day for this session, backtracking when a later one fails."""
    if index == req.sessions:
        return []
    for slot in itertools.islice(_candidates(cal, req, previous, req.first_session_number + index, memo), 3):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        rest = _search(cal, req, slot.starts_at.astimezone(cal.zone).date(), index + 1, budget, memo)
        if rest is not None:
            return [slot, *rest]
    return None


def propose_course_slots(cal: Calendar, req: CourseRequest) -> CourseProposals:
    """The best set of slots for every remaining session, and up to three alternatives.

    Each session falls ``interval_min_days``–``interval_max_days`` after the previous one (the course
    plan's window), in a room with the type's equipment, with the usual practitioner where possible
    and in the patient's preferred days and times when available; otherwise the earliest feasible.
    Alternatives start the course on a different day (or with another practitioner)."""
    if req.sessions <= 0:
        return CourseProposals(None, (), "The course has no sessions left to book.")
    plans: list[CoursePlanProposal] = []
    memo: _Memo = {}
    firsts = _candidates(cal, req, req.previous, req.first_session_number, memo)
    seen_days: set[date] = set()
    for first in firsts:
        day = first.starts_at.astimezone(cal.zone).date()
        if day in seen_days:
            continue
        seen_days.add(day)
        rest = _search(cal, req, day, 1, [60], memo)
        if rest is not None:
            plans.append(CoursePlanProposal((first, *rest)))
        if len(plans) > MAX_ALTERNATIVES:
            break
    if not plans:
        return CourseProposals(
            None, (), "No set of free slots fits the course's interval window; widen it or free time."
        )
    ranked = sorted(plans, key=lambda p: (p.score, p.slots[0].starts_at))
    return CourseProposals(ranked[0], tuple(ranked[1 : MAX_ALTERNATIVES + 1]))


def replan_after_move(
    cal: Calendar, req: CourseRequest, moved_session_number: int, moved_to: datetime
) -> CourseProposals:
    """When session ``moved_session_number`` moves to ``moved_to``, propose the sessions after it
    again, anchored on the new date (``req.sessions`` is the number that follow it)."""
    anchored = CourseRequest(
        sessions=req.sessions,
        duration_minutes=req.duration_minutes,
        buffer_minutes=req.buffer_minutes,
        interval_min_days=req.interval_min_days,
        interval_max_days=req.interval_max_days,
        practitioners=req.practitioners,
        not_before=max(req.not_before, moved_to),
        previous=moved_to.astimezone(cal.zone).date(),
        required_equipment=req.required_equipment,
        preferred_practitioner=req.preferred_practitioner,
        preferred_days=req.preferred_days,
        preferred_times=req.preferred_times,
        first_session_number=moved_session_number + 1,
    )
    return propose_course_slots(cal, anchored)
