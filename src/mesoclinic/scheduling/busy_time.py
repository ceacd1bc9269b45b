"""Calendar inputs from the database, in the shapes the pure rules take: opening and working hours,
closures, absences, and the busy time of practitioners, rooms and patients.

The course slot search (``rules.propose_course_slots``) looks at a few days of a months-long span.
``search_calendar`` therefore fetches busy time only where the search looks, by narrow indexed
queries cached for the request; ``calendar_for`` loads the whole span at once and stays as the
reference the benchmark and a test compare it with (both give the same plans).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from mesoclinic.db import as_utc
from mesoclinic.models import (
    Absence,
    Appointment,
    AppointmentType,
    Clinic,
    ClinicClosure,
    OpeningHours,
    Room,
    WorkingHours,
)
from mesoclinic.scheduling import rules
from mesoclinic.scheduling.setup import _zone

LIVE = sorted(rules.LIVE_STATUSES)
#: Longer than any buffer: ``calendar_for`` reads appointments ending this long before its span.
BUFFER_REACH = timedelta(hours=4)
#: A practitioner's busy time is fetched a week at a time: the search looks at runs of nearby days.
PRACTITIONER_BLOCK = timedelta(days=7)


def opening_hours(db: Session, clinic_id: int) -> dict[int, list[rules.Window]]:
    """Weekday → the clinic's opening windows."""
    opening: dict[int, list[rules.Window]] = defaultdict(list)
    for row in db.execute(
        select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes).where(
            OpeningHours.clinic_id == clinic_id
        )
    ):
        opening[row.weekday].append((row.opens, row.closes))
    return opening


def working_hours(
    db: Session, clinic_id: int, user_ids: Iterable[int]
) -> dict[int, dict[int, list[rules.Window]]]:
    """Practitioner → weekday → their working windows at this clinic."""
    working: dict[int, dict[int, list[rules.Window]]] = defaultdict(lambda: defaultdict(list))
    for row in db.execute(
        select(WorkingHours.user_id, WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends).where(
            WorkingHours.clinic_id == clinic_id, WorkingHours.user_id.in_(list(user_ids))
        )
    ):
        working[row.user_id][row.weekday].append((row.starts, row.ends))
    return working


def closures(db: Session, clinic_id: int, first: date, last: date) -> frozenset[date]:
    return frozenset(
        db.scalars(
            select(ClinicClosure.on_date).where(
                ClinicClosure.clinic_id == clinic_id, ClinicClosure.on_date.between(first, last)
            )
        )
    )


def absences(db: Session, user_ids: Iterable[int], span: rules.Interval) -> dict[int, list[rules.Interval]]:
    found: dict[int, list[rules.Interval]] = defaultdict(list)
    for row in db.execute(
        select(Absence.user_id, Absence.starts_at, Absence.ends_at).where(
            Absence.user_id.in_(list(user_ids)), Absence.starts_at < span.end, Absence.ends_at > span.start
        )
    ):
        found[row.user_id].append(rules.Interval(row.starts_at, row.ends_at))
    return found


def hours_for(db: Session, clinic: Clinic, practitioner_id: int, on: date) -> rules.Hours:
    """The clinic's hours and the practitioner's working hours and absences around one local day."""
    zone = _zone(clinic)
    span = rules.local_day(on, zone)
    return rules.Hours(
        zone=zone,
        opening=opening_hours(db, clinic.id),
        closures=closures(db, clinic.id, on, on),
        working=working_hours(db, clinic.id, [practitioner_id]).get(practitioner_id, {}),
        absences=absences(db, [practitioner_id], span).get(practitioner_id, []),
    )


def _active_rooms(db: Session, clinic_id: int) -> dict[int, frozenset[str]]:
    return {
        r.id: frozenset(r.equipment)
        for r in db.scalars(select(Room).where(Room.clinic_id == clinic_id, Room.active))
    }


def _calendar(
    db: Session,
    clinic: Clinic,
    practitioner_ids: Sequence[int],
    span: rules.Interval,
    rooms: Mapping[int, frozenset[str]],
    *,
    busy_practitioner: Mapping[int, rules.BusyLookup],
    busy_room: Mapping[int, rules.BusyLookup],
    busy_patient: rules.BusyLookup,
) -> rules.Calendar:
    """The calendar of ``span``: the clinic's and practitioners' hours, with the busy time given."""
    zone = _zone(clinic)
    return rules.Calendar(
        zone=zone,
        opening=opening_hours(db, clinic.id),
        closures=closures(
            db, clinic.id, span.start.astimezone(zone).date(), span.end.astimezone(zone).date()
        ),
        working=working_hours(db, clinic.id, practitioner_ids),
        absences={k: rules.Busy(v) for k, v in absences(db, practitioner_ids, span).items()},
        busy_practitioner=busy_practitioner,
        rooms=rooms,
        busy_room=busy_room,
        busy_patient=busy_patient,
    )


def calendar_for(
    db: Session,
    clinic: Clinic,
    practitioner_ids: Sequence[int],
    span: rules.Interval,
    patient_id: int | None = None,
) -> rules.Calendar:
    """Everything the course slot search needs, the whole span loaded at once."""
    rooms = _active_rooms(db, clinic.id)
    busy_p: dict[int, list[rules.Interval]] = defaultdict(list)
    busy_r: dict[int, list[rules.Interval]] = defaultdict(list)
    busy_patient: list[rules.Interval] = []
    rows = db.execute(
        select(
            Appointment.practitioner_user_id,
            Appointment.room_id,
            Appointment.patient_id,
            Appointment.starts_at,
            Appointment.ends_at,
            AppointmentType.buffer_minutes,
        )
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(
            Appointment.status.in_(LIVE),
            Appointment.starts_at < span.end,
            Appointment.ends_at > span.start - BUFFER_REACH,
            (
                Appointment.practitioner_user_id.in_(list(practitioner_ids))
                | Appointment.room_id.in_(list(rooms))
                | (Appointment.patient_id == (patient_id if patient_id is not None else -1))
            ),
        )
    )
    for row in rows:
        held = rules.Interval(
            row.starts_at, rules.ceil_to_slot(row.ends_at + timedelta(minutes=row.buffer_minutes))
        )
        busy_p[row.practitioner_user_id].append(held)
        busy_r[row.room_id].append(held)
        if row.patient_id == patient_id:
            busy_patient.append(held)
    return _calendar(
        db,
        clinic,
        practitioner_ids,
        span,
        rooms,
        busy_practitioner={k: rules.Busy(v) for k, v in busy_p.items()},
        busy_room={k: rules.Busy(v) for k, v in busy_r.items()},
        busy_patient=rules.Busy(busy_patient),
    )


class _Appointments:
    """Busy intervals of live appointments for one key (a practitioner, a patient, or for rooms the
    clinic: every room at once), fetched per span asked about and cached for the request.

    Rows are limited to ``bounds`` as ``calendar_for`` limits them, so both give one answer.
    """

    def __init__(
        self,
        db: Session,
        resource: Any,
        key: Any,
        bounds: rules.Interval,
        types: _TypeExtremes,
        exclude: Sequence[int] = (),
    ) -> None:
        self._db = db
        self._bounds = bounds
        # An appointment holds time until its end plus its buffer (rounded up to a slot) and lasts at
        # most the longest type: both bounds keep the rows few and let the (key, starts_at) indexes
        # serve the query.
        self._reach_after_end = types.widest_buffer + rules.SLOT
        self._longest = types.longest
        # Built once, with no expanding parameters: the search runs a few dozen of these queries and
        # building or re-rendering a statement would cost more than running it. The timestamps are
        # read as plain DateTime and made UTC below: the column type's per-value hook cost more than
        # the query itself.
        statement = (
            select(
                resource,
                type_coerce(Appointment.starts_at, DateTime(timezone=True)),
                type_coerce(Appointment.ends_at, DateTime(timezone=True)),
                AppointmentType.buffer_minutes,
            )
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .where(
                key == bindparam("key"),
                or_(*(Appointment.status == status for status in LIVE)),  # IN (…) would be re-rendered
                Appointment.starts_at < bindparam("before", type_=Appointment.starts_at.type),
                Appointment.starts_at > bindparam("after", type_=Appointment.starts_at.type),
                Appointment.ends_at > bindparam("low", type_=Appointment.ends_at.type),
            )
        )
        if exclude:  # appointments about to be moved (a re-plan) do not hold their time
            statement = statement.where(Appointment.id.not_in(list(exclude)))
        self._statement = statement
        self._cache: dict[tuple[int, datetime, datetime], dict[int, list[rules.Interval]]] = {}

    def fetch(self, key: int, span: rules.Interval) -> dict[int, list[rules.Interval]]:
        """Resource id → its busy intervals that reach into ``span``."""
        cache_key = (key, span.start, span.end)
        if cache_key not in self._cache:
            found: dict[int, list[rules.Interval]] = defaultdict(list)
            low = max(span.start - self._reach_after_end, self._bounds.start - BUFFER_REACH)
            rows = (
                self._db.connection()
                .execute(  # Core: the ORM layer would cost more than the query
                    self._statement,
                    {
                        "key": key,
                        "before": min(span.end, self._bounds.end),
                        "after": low - self._longest,
                        "low": low,
                    },
                )
                .all()
            )
            for resource_id, starts_at, ends_at, buffer in rows:
                held_until = rules.ceil_to_slot(as_utc(ends_at) + timedelta(minutes=buffer))
                if held_until > span.start:
                    found[resource_id].append(rules.Interval(as_utc(starts_at), held_until))
            self._cache[cache_key] = found
        return self._cache[cache_key]


class _LazyBusy(Mapping[int, rules.BusyLookup]):
    """Resource id → a view of its busy time that fetches only the spans the search asks about.

    Practitioners (``block`` set): one practitioner a week at a time, since the search asks about
    runs of nearby days. Rooms (``clinic_id`` set): every room of the clinic at once, for exactly
    the free window asked about (the search asks about rooms only inside a practitioner's free time).
    """

    def __init__(
        self,
        source: _Appointments,
        ids: Iterable[int],
        *,
        bounds: rules.Interval,
        clinic_id: int | None = None,
        block: timedelta | None = None,
    ) -> None:
        self._source = source
        self._ids = tuple(sorted(set(ids)))
        self._bounds = bounds
        self._clinic_id = clinic_id
        self._block = block
        self._by_block: dict[tuple[int, datetime], rules.Busy] = {}

    def __getitem__(self, key: int) -> rules.BusyLookup:
        if key not in self._ids:
            raise KeyError(key)
        return _View(self, key)

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def _blocks(self, span: rules.Interval) -> Iterator[rules.Interval]:
        assert self._block is not None  # noqa: S101 - only called for block-wise resources
        origin = self._bounds.start
        index = max(0, (span.start - origin) // self._block)
        while origin + index * self._block < span.end:
            start = origin + index * self._block
            yield rules.Interval(start, min(start + self._block, self._bounds.end))
            index += 1

    def within(self, key: int, span: rules.Interval) -> list[rules.Interval]:
        if self._clinic_id is not None:
            return [i for i in self._source.fetch(self._clinic_id, span).get(key, []) if i.overlaps(span)]
        found: list[rules.Interval] = []
        for block in self._blocks(span):
            if (key, block.start) not in self._by_block:
                self._by_block[(key, block.start)] = rules.Busy(self._source.fetch(key, block).get(key, []))
            found += self._by_block[(key, block.start)].within(span)
        return list(dict.fromkeys(found))  # an appointment across two blocks is in both: keep it once


class _View:
    __slots__ = ("_key", "_owner")

    def __init__(self, owner: _LazyBusy, key: int) -> None:
        self._owner = owner
        self._key = key

    def within(self, span: rules.Interval) -> list[rules.Interval]:
        return self._owner.within(self._key, span)


@dataclass(frozen=True)
class _TypeExtremes:
    longest: timedelta
    widest_buffer: timedelta


def _type_extremes(db: Session, clinic_id: int) -> _TypeExtremes:
    longest, widest = db.execute(
        select(func.max(AppointmentType.duration_minutes), func.max(AppointmentType.buffer_minutes)).where(
            AppointmentType.clinic_id == clinic_id
        )
    ).one()
    return _TypeExtremes(timedelta(minutes=longest or 0), timedelta(minutes=widest or 0))


def search_calendar(
    db: Session,
    clinic: Clinic,
    practitioner_ids: Sequence[int],
    span: rules.Interval,
    patient_id: int | None = None,
    exclude: Sequence[int] = (),
) -> rules.Calendar:
    """The same calendar as ``calendar_for`` (the search gives the same plans on both), but busy
    time is fetched only where the search looks: practitioners a week at a time, rooms only inside
    a practitioner's free windows. A proposal reads a few hundred rows instead of every booking of
    the clinic for months."""
    rooms = _active_rooms(db, clinic.id)
    types = _type_extremes(db, clinic.id)
    patient_busy: list[rules.Interval] = []
    if patient_id is not None:
        patients = _Appointments(db, Appointment.patient_id, Appointment.patient_id, span, types, exclude)
        patient_busy = patients.fetch(patient_id, span).get(patient_id, [])
    practitioners = _Appointments(
        db, Appointment.practitioner_user_id, Appointment.practitioner_user_id, span, types, exclude
    )
    rooms_busy = _Appointments(db, Appointment.room_id, Appointment.clinic_id, span, types, exclude)
    return _calendar(
        db,
        clinic,
        practitioner_ids,
        span,
        rooms,
        busy_practitioner=_LazyBusy(practitioners, practitioner_ids, bounds=span, block=PRACTITIONER_BLOCK),
        busy_room=_LazyBusy(rooms_busy, rooms, bounds=span, clinic_id=clinic.id),
        busy_patient=rules.Busy(patient_busy),
    )
