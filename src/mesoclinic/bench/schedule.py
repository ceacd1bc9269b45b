"""`mesoclinic bench schedule`: course slot proposals and week views on a busy synthetic clinic.

A temporary SQLite database is migrated and filled in bulk (not through the API) with one clinic of
``practitioners`` practitioners and ``rooms`` rooms open 08:00–20:00 Monday to Saturday, booked
about ``fill`` of the rooms' time for ``days`` days. Every appointment needs a room, so the rooms
are the scarce resource and ``fill`` is measured against them. Then ``requests`` course proposals
(5 sessions, 14–21 days apart) and ``requests`` practitioner week views are timed in-process,
through the same service functions the API calls (minus access checks and audit writes). Each proposal
is then computed again on a calendar loaded whole (``calendar_for``, the former path) to compare times
and check both give the same plans.
"""

from __future__ import annotations

import gc
import random
import statistics
import tempfile
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mesoclinic.db import make_engine, make_session_factory, utcnow
from mesoclinic.migrations import upgrade_database
from mesoclinic.models import (
    Appointment,
    AppointmentType,
    Clinic,
    ClinicMembership,
    CoursePlan,
    Formulation,
    OpeningHours,
    Patient,
    Qualification,
    Room,
    SkinAssessment,
    User,
    WorkingHours,
)
from mesoclinic.scheduling import busy_time, rules, service

ZONE = "Europe/London"
SESSION_MINUTES = 30
COURSES = 50


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3), "p95_ms": round(p95 * 1000, 3)}


def _ids(db: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    return list(db.scalars(insert(model).returning(model.id), rows))


def build(
    db: Session, *, days: int, practitioners: int, rooms: int, fill: float, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    zone = ZoneInfo(ZONE)
    clinic = Clinic(name="Bench clinic", slug="bench", timezone=ZONE)
    db.add(clinic)
    db.flush()
    staff = _ids(
        db,
        User,
        [
            {
                "email": f"p{n}@bench.example",
                "full_name": f"P {n}",
                "role": "practitioner",
                "password_hash": "!",
            }
            for n in range(practitioners)
        ],
    )
    today = utcnow().astimezone(zone).date()
    db.execute(insert(ClinicMembership), [{"user_id": u, "clinic_id": clinic.id} for u in staff])
    db.execute(
        insert(Qualification),
        [
            {
                "user_id": u,
                "scope": "mesotherapy",
                "title": "Registered nurse",
                "licence_number": f"B{u}",
                "issuer": "Bench",
                "valid_from": today - timedelta(days=365),
                "expires_on": today + timedelta(days=days + 400),
            }
            for u in staff
        ],
    )
    room_ids = _ids(
        db,
        Room,
        [
            {"clinic_id": clinic.id, "name": f"Room {n}", "equipment": ["treatment_couch"]}
            for n in range(rooms)
        ],
    )
    db.execute(
        insert(OpeningHours),
        [{"clinic_id": clinic.id, "weekday": d, "opens": time(8), "closes": time(20)} for d in range(6)],
    )
    shifts = [(time(8), time(16)), (time(12), time(20))]
    db.execute(
        insert(WorkingHours),
        [
            {
                "user_id": u,
                "clinic_id": clinic.id,
                "weekday": d,
                "starts": shifts[i % 2][0],
                "ends": shifts[i % 2][1],
            }
            for i, u in enumerate(staff)
            for d in range(6)
        ],
    )
    session_type = AppointmentType(
        clinic_id=clinic.id,
        code="mesotherapy_session",
        name="Mesotherapy session",
        duration_minutes=SESSION_MINUTES - 5,
        buffer_minutes=5,
        required_equipment=["treatment_couch"],
        patient_bookable=True,
    )
    db.add(session_type)
    db.flush()
    patients = _ids(
        db,
        Patient,
        [
            {
                "clinic_id": clinic.id,
                "given_name": "Bench",
                "family_name": f"Patient {n}",
                "date_of_birth": date(1980, 1, 1),
            }
            for n in range(2000)
        ],
    )
    booked = capacity = 0
    appointments: list[dict[str, Any]] = []
    for offset in range(days):
        day = today + timedelta(days=offset + 1)
        if day.weekday() == 6:
            continue
        for half_hour in range(24):  # 08:00–20:00
            local = datetime.combine(day, time(8), tzinfo=zone) + timedelta(minutes=30 * half_hour)
            on_shift = [
                u
                for i, u in enumerate(staff)
                if (i % 2 == 0 and half_hour < 16) or (i % 2 == 1 and half_hour >= 8)
            ]
            rng.shuffle(on_shift)
            for room in room_ids:
                capacity += 1
                if rng.random() >= fill or not on_shift:
                    continue
                starts = local.astimezone(UTC)
                appointments.append(
                    {
                        "clinic_id": clinic.id,
                        "patient_id": rng.choice(patients),
                        "practitioner_user_id": on_shift.pop(),
                        "room_id": room,
                        "appointment_type_id": session_type.id,
                        "starts_at": starts,
                        "ends_at": starts + timedelta(minutes=SESSION_MINUTES - 5),
                        "status": "booked",
                        "created_by_user_id": staff[0],
                    }
                )
                booked += 1
    for chunk in range(0, len(appointments), 5000):
        db.execute(insert(Appointment), appointments[chunk : chunk + 5000])
    assessments = _ids(
        db, SkinAssessment, [{"patient_id": p, "assessor_user_id": staff[0]} for p in patients[:COURSES]]
    )
    formulations = _ids(
        db,
        Formulation,
        [
            {"patient_id": p, "assessment_id": a, "proposed": [], "created_by_user_id": staff[0]}
            for p, a in zip(patients[:COURSES], assessments, strict=True)
        ],
    )
    _ids(
        db,
        CoursePlan,
        [
            {
                "patient_id": p,
                "formulation_id": f,
                "sessions_planned": 5,
                "interval_min_days": 14,
                "interval_max_days": 21,
                "created_by_user_id": staff[0],
            }
            for p, f in zip(patients[:COURSES], formulations, strict=True)
        ],
    )
    db.commit()
    return {"appointments": booked, "room_fill": round(booked / capacity, 3) if capacity else 0.0}


def run(
    *,
    days: int = 120,
    requests: int = 200,
    practitioners: int = 20,
    rooms: int = 8,
    fill: float = 0.7,
    seed: int = 1,
) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        began = clock.perf_counter()
        upgrade_database(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        try:
            with factory() as db:
                shape = build(db, days=days, practitioners=practitioners, rooms=rooms, fill=fill, seed=seed)
            setup = clock.perf_counter() - began
            with factory() as db:
                clinic = db.scalars(select(Clinic)).one()
                atype = db.scalars(select(AppointmentType)).one()
                courses = list(db.scalars(select(CoursePlan)))
                patients = {
                    p.id: p
                    for p in db.scalars(
                        select(Patient).where(Patient.id.in_([c.patient_id for c in courses]))
                    )
                }
                staff = list(db.scalars(select(User.id)))
                zone = ZoneInfo(clinic.timezone)
                proposing: list[float] = []
                full_load: list[float] = []
                asked = [(rng.choice(courses), rng.choice(staff)) for _ in range(requests)]
                searched = []
                for course, preferred in asked:
                    started = clock.perf_counter()
                    now = utcnow()
                    practitioner_ids = service.bookable_practitioners(
                        db, clinic.id, now.astimezone(zone).date()
                    )
                    request, span = service.course_request(
                        db, course, patients[course.patient_id], atype, practitioner_ids, now, preferred
                    )
                    result = rules.propose_course_slots(
                        busy_time.search_calendar(db, clinic, practitioner_ids, span, course.patient_id),
                        request,
                    )
                    proposing.append(clock.perf_counter() - started)
                    searched.append((course, practitioner_ids, request, span, result))
                # The same requests on a calendar loaded whole (the former path), afterwards: its
                # garbage (tens of thousands of intervals a request) would otherwise bill the
                # collector's pauses to the requests timed after it.
                gc.collect()
                differing = 0
                for course, practitioner_ids, request, span, result in searched:
                    started = clock.perf_counter()
                    slow = rules.propose_course_slots(
                        busy_time.calendar_for(db, clinic, practitioner_ids, span, course.patient_id), request
                    )
                    full_load.append(clock.perf_counter() - started)
                    differing += slow != result
                found = sum(result.best is not None for *_, result in searched)
                weeks: list[float] = []
                today = utcnow().astimezone(zone).date()
                for _ in range(requests):
                    start = today + timedelta(days=rng.randrange(max(days - 7, 1)))
                    started = clock.perf_counter()
                    service.practitioner_week(db, clinic, rng.choice(staff), start, [clinic.id])
                    weeks.append(clock.perf_counter() - started)
        finally:
            engine.dispose()
    return {
        "propose_course": {**_percentiles(proposing), "sessions": 5, "plans_found": found},
        "propose_course_full_load": {**_percentiles(full_load), "differing_results": differing},
        "week_view": _percentiles(weeks),
        "n": requests,
        "setup_s": round(setup, 3),
        "clinic": {"practitioners": practitioners, "rooms": rooms, "days": days, **shape},
    }
