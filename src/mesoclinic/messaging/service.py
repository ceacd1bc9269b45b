"""The outbox: queue messages idempotently, claim due ones safely across processes, record results;
the reminder jobs that fill it; the maintenance-due list.

Delivery is at-least-once: a worker that dies after sending but before recording it leaves the row
``sending``; once its lease expires another worker sends it again. Email carries a Message-ID
derived from the idempotency key, so a receiving server can drop the duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mesoclinic import crypto
from mesoclinic.audit import service as audit
from mesoclinic.audit.service import SYSTEM_ACTOR, Actor
from mesoclinic.auth.rules import Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, NotFound, Refusal
from mesoclinic.messaging import rules, templates
from mesoclinic.messaging.rules import Channel, ContactPrefs, Kind
from mesoclinic.models import (
    AftercareCheckin,
    Appointment,
    AppointmentEvent,
    AppointmentType,
    CalendarFeed,
    Clinic,
    ClinicMembership,
    ContactPreference,
    CoursePlan,
    OutboxMessage,
    Patient,
    Role,
    Room,
    User,
)
from mesoclinic.practitioners import service as practitioners
from mesoclinic.scheduling.ical import IcsEvent, render_calendar

CLAIMABLE_LEASE = timedelta(minutes=5)


# --- the outbox ---------------------------------------------------------------------------------


def enqueue(
    db: Session,
    *,
    key: str,
    kind: str,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    due_at: datetime,
    patient_id: int | None = None,
    clinic_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Queue a message in the caller's transaction; a second call with the same ``key`` returns
    the message already queued and changes nothing (even when two processes race)."""
    return _enqueue(
        db,
        key=key,
        kind=kind,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        due_at=due_at,
        patient_id=patient_id,
        clinic_id=clinic_id,
        payload=payload,
    )[0]


def _enqueue(db: Session, *, key: str, **values: Any) -> tuple[OutboxMessage, bool]:
    values["payload"] = values.get("payload") or {}
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxMessage)
        .values(idempotency_key=key, **values)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
        .returning(OutboxMessage.id)
    )
    new_id = db.execute(statement).scalar_one_or_none()
    message = db.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
    return message, new_id is not None


def _claimable(now: datetime) -> Any:
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.due_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
    )


def claim_due(
    db: Session, worker_id: str, limit: int, now: datetime, lease: timedelta = CLAIMABLE_LEASE
) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for ``worker_id`` (status ``sending``, leased until
    ``now + lease``, one more attempt counted). The caller commits before delivering, so other
    workers see the claim; two workers never claim the same row.

    PostgreSQL locks the chosen rows with ``FOR UPDATE SKIP LOCKED`` (a concurrent claimer skips
    them instead of waiting); SQLite has one writer at a time, and each row is taken with a
    conditional UPDATE that only succeeds while the row is still claimable.
    """
    candidates = (
        select(OutboxMessage.id).where(_claimable(now)).order_by(OutboxMessage.due_at, OutboxMessage.id)
    )
    if db.get_bind().dialect.name == "postgresql":
        ids = list(db.scalars(candidates.limit(limit).with_for_update(skip_locked=True)))
    else:
        ids = []
        for candidate in db.scalars(candidates.limit(limit * 2)).all():
            if len(ids) == limit:
                break
            taken = db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == candidate, _claimable(now))
                .values(status="sending")
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                ids.append(candidate)
    if not ids:
        return []
    db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            status="sending",
            claimed_by=worker_id,
            claimed_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def _held(db: Session, message_id: int, worker_id: str) -> OutboxMessage | None:
    """The message if ``worker_id`` still holds its claim (a lapsed lease may have passed it on)."""
    return db.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_by == worker_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def mark_sent(db: Session, message_id: int, worker_id: str, now: datetime) -> bool:
    """Record a delivery; False when the claim was lost meanwhile (nothing changes then)."""
    message = _held(db, message_id, worker_id)
    if message is None:
        return False
    message.status, message.sent_at, message.claimed_until, message.last_error = "sent", now, None, ""
    return True


def mark_failed(
    db: Session, message_id: int, worker_id: str, error: str, now: datetime, max_attempts: int
) -> str | None:
    """Record a failed delivery: back to ``pending`` with a backoff, or ``failed`` after the last
    attempt. Returns the new status, or None when the claim was lost meanwhile."""
    message = _held(db, message_id, worker_id)
    if message is None:
        return None
    decision = rules.after_failure(message.attempts, max_attempts, now)
    message.status, message.due_at = decision.status, decision.due_at
    message.claimed_until, message.last_error = None, error[:2000]
    return decision.status


# --- reminder jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    target_type: str
    target_id: int
    code: str
    reason: str


@dataclass
class JobReport:
    """What one job run did: messages queued now, found already queued, and those not queued (why)."""

    kind: str
    queued: list[int] = field(default_factory=list)
    already_queued: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _preferences(db: Session, patient_ids: Sequence[int]) -> dict[int, ContactPrefs]:
    rows = db.scalars(select(ContactPreference).where(ContactPreference.patient_id.in_(list(patient_ids))))
    return {r.patient_id: ContactPrefs(r.email_allowed, r.sms_allowed, r.reminders_opt_out) for r in rows}


def _queue_for_patient(
    db: Session,
    report: JobReport,
    *,
    kind: Kind,
    key: str,
    patient: Patient,
    prefs: ContactPrefs,
    render: Any,
    due_at: datetime,
    target: tuple[str, int],
) -> None:
    routing = rules.route(kind, prefs, patient.email, patient.phone)
    if routing.refused is not None:
        report.skipped.append(Skipped(target[0], target[1], routing.refused.code, routing.refused.reason))
        return
    for channel, address in routing.targets:
        text: templates.Rendered = render(channel)
        message, created = _enqueue(
            db,
            key=f"{key}:{channel.value}",
            kind=kind.value,
            channel=channel.value,
            recipient=address,
            subject=text.subject,
            body=text.body,
            due_at=due_at,
            patient_id=patient.id,
            clinic_id=patient.clinic_id,
            payload={target[0] + "_id": target[1]},
        )
        if created:
            report.queued.append(message.id)
            audit.record(
                db,
                SYSTEM_ACTOR,
                "message.queued",
                target_type="outbox_message",
                target_id=message.id,
                patient_id=patient.id,
                clinic_id=patient.clinic_id,
                details={"kind": kind.value, "channel": channel.value, target[0] + "_id": target[1]},
            )
        else:
            report.already_queued.append(message.id)


def queue_appointment_reminders(db: Session, now: datetime, portal_url: str = "") -> JobReport:
    """Remind patients of tomorrow's (clinic-local) booked appointments, the day before."""
    report = JobReport(Kind.APPOINTMENT_REMINDER.value)
    for clinic in db.scalars(select(Clinic).order_by(Clinic.id)):
        tomorrow = rules.local_today(now, clinic.timezone) + timedelta(days=1)
        starts, ends = rules.local_day_bounds(tomorrow, clinic.timezone)
        rows = db.execute(
            select(Appointment, Patient)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(
                Appointment.clinic_id == clinic.id,
                Appointment.status == "booked",
                Appointment.starts_at >= starts,
                Appointment.starts_at < ends,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        prefs = _preferences(db, [p.id for _, p in rows])
        due_at = rules.send_at(rules.reminder_day(tomorrow), clinic.timezone, now)
        for appointment, patient in rows:
            local_start = appointment.starts_at.astimezone(ZoneInfo(clinic.timezone))
            _queue_for_patient(
                db,
                report,
                kind=Kind.APPOINTMENT_REMINDER,
                # Keyed by the start, not the day: a same-day move cancels the old reminder and
                # needs a new one, while re-runs for an unchanged appointment stay idempotent.
                key=f"appointment-reminder:{appointment.id}:{appointment.starts_at.isoformat()}",
                patient=patient,
                prefs=prefs.get(patient.id, ContactPrefs()),
                render=lambda ch, n=clinic.name, s=local_start: templates.appointment_reminder(
                    ch, n, s, portal_url
                ),
                due_at=due_at,
                target=("appointment", appointment.id),
            )
    return report


def cancel_pending_for_appointment(db: Session, appointment_id: int) -> list[int]:
    """Cancel the not-yet-claimed reminders of an appointment that was cancelled, missed or moved,
    so that a stale reminder is never sent (call it in the transaction that changes the appointment;
    a moved appointment gets a fresh reminder from the next reminder run). Returns the ids cancelled."""
    ids = list(
        db.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status == "pending",
                OutboxMessage.idempotency_key.like(f"appointment-reminder:{appointment_id}:%"),
            )
        )
    )
    if ids:
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
            .values(status="cancelled")
        )
        audit.record(
            db,
            SYSTEM_ACTOR,
            "message.cancelled",
            target_type="appointment",
            target_id=appointment_id,
            details={"outbox_message_ids": ids},
        )
    return ids


def _clinic_zones(db: Session) -> dict[int, tuple[str, str]]:
    return {c.id: (c.timezone, c.name) for c in db.scalars(select(Clinic))}


def queue_checkin_prompts(db: Session, now: datetime, portal_url: str = "") -> JobReport:
    """Prompt patients on the day an aftercare check-in falls due (not once it is completed)."""
    report = JobReport(Kind.AFTERCARE_CHECKIN.value)
    zones = _clinic_zones(db)
    earliest = min((rules.local_today(now, tz) for tz, _ in zones.values()), default=now.date())
    rows = db.execute(
        select(AftercareCheckin, Patient)
        .join(Patient, Patient.id == AftercareCheckin.patient_id)
        .where(
            AftercareCheckin.completed_at.is_(None),
            AftercareCheckin.due_on >= earliest - timedelta(days=rules.CATCH_UP_DAYS + 1),
            AftercareCheckin.due_on <= earliest + timedelta(days=1),
        )
        .order_by(AftercareCheckin.due_on, AftercareCheckin.id)
    ).all()
    prefs = _preferences(db, [p.id for _, p in rows])
    for checkin, patient in rows:
        zone, clinic_name = zones[patient.clinic_id]
        if not rules.within_catch_up(checkin.due_on, rules.local_today(now, zone)):
            continue
        _queue_for_patient(
            db,
            report,
            kind=Kind.AFTERCARE_CHECKIN,
            key=f"aftercare-checkin:{checkin.id}:{checkin.due_on.isoformat()}",
            patient=patient,
            prefs=prefs.get(patient.id, ContactPrefs()),
            render=lambda ch, n=clinic_name: templates.aftercare_checkin(ch, n, portal_url),
            due_at=rules.send_at(checkin.due_on, zone, now),
            target=("aftercare_checkin", checkin.id),
        )
    return report


def queue_maintenance_reminders(db: Session, now: datetime, portal_url: str = "") -> JobReport:
    """Tell patients whose completed course reached its maintenance date that it is time to book."""
    report = JobReport(Kind.MAINTENANCE_DUE.value)
    zones = _clinic_zones(db)
    earliest = min((rules.local_today(now, tz) for tz, _ in zones.values()), default=now.date())
    rows = db.execute(
        select(CoursePlan, Patient)
        .join(Patient, Patient.id == CoursePlan.patient_id)
        .where(
            CoursePlan.status == "completed",
            CoursePlan.maintenance_due_on >= earliest - timedelta(days=rules.CATCH_UP_DAYS + 1),
            CoursePlan.maintenance_due_on <= earliest + timedelta(days=1),
        )
        .order_by(CoursePlan.maintenance_due_on, CoursePlan.id)
    ).all()
    prefs = _preferences(db, [p.id for _, p in rows])
    for course, patient in rows:
        zone, clinic_name = zones[patient.clinic_id]
        due_on = course.maintenance_due_on
        if due_on is None or not rules.within_catch_up(due_on, rules.local_today(now, zone)):
            continue
        _queue_for_patient(
            db,
            report,
            kind=Kind.MAINTENANCE_DUE,
            key=f"maintenance-due:{course.id}:{due_on.isoformat()}",
            patient=patient,
            prefs=prefs.get(patient.id, ContactPrefs()),
            render=lambda ch, n=clinic_name: templates.maintenance_due(ch, n, portal_url),
            due_at=rules.send_at(due_on, zone, now),
            target=("course_plan", course.id),
        )
    return report


def queue_credential_reminders(db: Session, now: datetime) -> JobReport:
    """Email practitioners 60, 30 and 7 days before a credential without renewal expires."""
    report = JobReport(Kind.CREDENTIAL_EXPIRY.value)
    clinic_ids = list(db.scalars(select(Clinic.id)))
    today = now.date()
    for found in practitioners.expiring_in_clinics(db, clinic_ids, today, max(rules.CREDENTIAL_MILESTONES)):
        milestone = rules.credential_milestone(found.days_left)
        qualification = found.qualification
        if milestone is None:
            continue
        if not found.email.strip():
            report.skipped.append(
                Skipped("qualification", qualification.id, rules.NO_CHANNEL.code, rules.NO_CHANNEL.reason)
            )
            continue
        text = templates.credential_expiry(
            found.full_name, qualification.title, qualification.expires_on, found.days_left
        )
        message, created = _enqueue(
            db,
            key=f"credential-expiry:{qualification.id}:{qualification.expires_on.isoformat()}:{milestone}",
            kind=Kind.CREDENTIAL_EXPIRY.value,
            channel=Channel.EMAIL.value,
            recipient=found.email,
            subject=text.subject,
            body=text.body,
            due_at=now,
            payload={"qualification_id": qualification.id, "milestone_days": milestone},
        )
        (report.queued if created else report.already_queued).append(message.id)
        if created:
            audit.record(
                db,
                SYSTEM_ACTOR,
                "message.queued",
                target_type="outbox_message",
                target_id=message.id,
                details={"kind": Kind.CREDENTIAL_EXPIRY.value, "qualification_id": qualification.id},
            )
    return report


def run_reminder_jobs(db: Session, now: datetime, portal_url: str = "") -> list[JobReport]:
    """Every reminder job once; safe to run as often as wanted, by several processes at once."""
    return [
        queue_appointment_reminders(db, now, portal_url),
        queue_checkin_prompts(db, now, portal_url),
        queue_maintenance_reminders(db, now, portal_url),
        queue_credential_reminders(db, now),
    ]


# --- the maintenance-due list -------------------------------------------------------------------


@dataclass(frozen=True)
class MaintenanceDue:
    patient_id: int
    given_name: str
    family_name: str
    course_plan_id: int
    maintenance_due_on: date
    status: str


def maintenance_due(
    db: Session, principal: Principal, clinic_id: int, within_days: int = 0, now: datetime | None = None
) -> list[MaintenanceDue]:
    """Patients of a clinic whose completed course's maintenance date has come (or comes within
    ``within_days``), most overdue first. Staff of that clinic only; others get 404."""
    clinic = db.get(Clinic, clinic_id)
    if clinic is None or not principal.is_staff or clinic_id not in principal.clinic_ids:
        raise NotFound(
            "No such clinic.",
            code="clinic-not-found",
            refusal=Refusal("messaging.maintenance_due.read", "clinic", str(clinic_id)),
        )
    today = rules.local_today(now or utcnow(), clinic.timezone)
    rows = db.execute(
        select(CoursePlan, Patient)
        .join(Patient, Patient.id == CoursePlan.patient_id)
        .where(
            Patient.clinic_id == clinic_id,
            CoursePlan.status == "completed",
            CoursePlan.maintenance_due_on.is_not(None),
            CoursePlan.maintenance_due_on <= today + timedelta(days=within_days),
        )
        .order_by(CoursePlan.maintenance_due_on, Patient.family_name, Patient.id)
    ).all()
    found = [
        MaintenanceDue(
            patient_id=patient.id,
            given_name=patient.given_name,
            family_name=patient.family_name,
            course_plan_id=course.id,
            maintenance_due_on=course.maintenance_due_on,
            status=rules.maintenance_status(course.maintenance_due_on, today),
        )
        for course, patient in rows
        if course.maintenance_due_on is not None
    ]
    audit.record(
        db,
        principal.actor,
        "messaging.maintenance_due.read",
        target_type="clinic",
        target_id=clinic_id,
        clinic_id=clinic_id,
        details={"within_days": within_days, "patient_ids": sorted({f.patient_id for f in found})},
    )
    return found


# --- calendar feeds -----------------------------------------------------------------------------

#: The window a feed shows: recent past and the coming year (calendar apps re-fetch it regularly).
FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=366)


@dataclass(frozen=True)
class IssuedFeed:
    """A new feed and its secret token: shown once, only its hash is stored."""

    token: str
    feed: CalendarFeed


def _shares_clinic(db: Session, user_id: int, clinic_ids: frozenset[int]) -> bool:
    return (
        db.scalar(
            select(ClinicMembership.id).where(
                ClinicMembership.user_id == user_id, ClinicMembership.clinic_id.in_(list(clinic_ids))
            )
        )
        is not None
    )


def create_feed(db: Session, principal: Principal, owner: str | None, owner_id: int | None) -> IssuedFeed:
    """A calendar feed for the caller (a practitioner's appointments, or a patient's own), or, for
    an admin, for a practitioner of one of their clinics. Receptionists have no feed."""
    owner = owner or ("patient" if principal.role == Role.PATIENT else "practitioner")
    if owner == "patient":
        if principal.role != Role.PATIENT or principal.patient_id is None:
            raise Forbidden(
                "Only a patient may create their own calendar feed.",
                code="feed-owner-forbidden",
                field="owner",
                refusal=Refusal("calendar.feed.create", "patient", str(owner_id or "")),
            )
        if owner_id not in (None, principal.patient_id):
            raise NotFound("No such patient.", code="patient-not-found", field="owner_id")
        owner_id = principal.patient_id
    else:
        owner_id = owner_id or principal.user_id
        if principal.role not in (Role.PRACTITIONER, Role.ADMIN):
            raise Forbidden(
                "Only practitioners have appointment feeds.",
                code="feed-owner-forbidden",
                field="owner",
                refusal=Refusal("calendar.feed.create", "user", str(owner_id)),
            )
        if owner_id != principal.user_id:
            if principal.role != Role.ADMIN:
                raise Forbidden(
                    "Only an admin may create a feed for another practitioner.",
                    code="feed-owner-forbidden",
                    field="owner_id",
                    refusal=Refusal("calendar.feed.create", "user", str(owner_id)),
                )
            target = db.get(User, owner_id)
            if (
                target is None
                or target.role != Role.PRACTITIONER.value
                or not _shares_clinic(db, owner_id, principal.clinic_ids)
            ):
                raise NotFound("No such practitioner.", code="practitioner-not-found", field="owner_id")
    token = "mcf_" + crypto.new_token()
    feed = CalendarFeed(
        owner=owner,
        owner_id=owner_id,
        token_hash=crypto.hash_token(token),
        created_by_user_id=principal.user_id,
    )
    db.add(feed)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "calendar.feed.created",
        target_type="calendar_feed",
        target_id=feed.id,
        patient_id=owner_id if owner == "patient" else None,
        details={"owner": owner, "owner_id": owner_id},
    )
    return IssuedFeed(token, feed)


def revoke_feed(db: Session, principal: Principal, feed_id: int) -> CalendarFeed:
    """Revoke a feed: its URL answers 404 from now on. Its owner may, and an admin of the
    practitioner's clinic; everyone else is told it does not exist."""
    feed = db.get(CalendarFeed, feed_id)
    mine = feed is not None and (
        (feed.owner == "patient" and principal.patient_id == feed.owner_id)
        or (
            feed.owner == "practitioner"
            and principal.role != Role.PATIENT
            and principal.user_id == feed.owner_id
        )
        or (
            feed.owner == "practitioner"
            and principal.role == Role.ADMIN
            and _shares_clinic(db, feed.owner_id, principal.clinic_ids)
        )
    )
    if feed is None or not mine:
        raise NotFound(
            "No such calendar feed.",
            code="feed-not-found",
            refusal=Refusal("calendar.feed.revoke", "calendar_feed", str(feed_id)),
        )
    if feed.revoked_at is not None:
        raise Conflict("This calendar feed is already revoked.", code="feed-already-revoked")
    feed.revoked_at = utcnow()
    audit.record(
        db,
        principal.actor,
        "calendar.feed.revoked",
        target_type="calendar_feed",
        target_id=feed.id,
        patient_id=feed.owner_id if feed.owner == "patient" else None,
    )
    return feed


def render_feed(db: Session, token: str, actor: Actor, now: datetime | None = None) -> str:
    """The iCalendar text behind a secret feed URL; 404 for an unknown or revoked token.

    Patients' entries say only where (the clinic); practitioners' say the appointment type and
    room, never the patient's name or clinical details (the feed ends up in third-party apps)."""
    now = now or utcnow()
    feed = db.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == crypto.hash_token(token)))
    owner_ok = feed is not None and feed.revoked_at is None
    if feed is not None and owner_ok and feed.owner == "practitioner":
        user = db.get(User, feed.owner_id)
        owner_ok = user is not None and user.is_active
    if feed is None or not owner_ok:
        raise NotFound(
            "No such calendar feed.",
            code="feed-not-found",
            refusal=Refusal("calendar.feed.read", "calendar_feed", str(feed.id) if feed else ""),
        )
    column = Appointment.patient_id if feed.owner == "patient" else Appointment.practitioner_user_id
    rows = db.execute(
        select(Appointment, AppointmentType, Room, Clinic)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Room, Room.id == Appointment.room_id)
        .join(Clinic, Clinic.id == Appointment.clinic_id)
        .where(
            column == feed.owner_id,
            Appointment.starts_at >= now - FEED_PAST,
            Appointment.starts_at < now + FEED_FUTURE,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    changes: dict[int, int] = {
        appointment_id: int(n)
        for appointment_id, n in db.execute(
            select(AppointmentEvent.appointment_id, func.count())
            .where(AppointmentEvent.appointment_id.in_([a.id for a, *_ in rows]))
            .group_by(AppointmentEvent.appointment_id)
        )
    }
    events = [
        IcsEvent(
            uid=f"appointment-{appointment.id}@mesoclinic",
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            summary=f"Appointment at {clinic.name}" if feed.owner == "patient" else kind.name,
            location=(clinic.address or clinic.name)
            if feed.owner == "patient"
            else f"{room.name}, {clinic.name}",
            description="" if feed.owner == "patient" else f"Appointment #{appointment.id}",
            cancelled=appointment.status == "cancelled",
            sequence=max(changes.get(appointment.id, 1) - 1, 0),
        )
        for appointment, kind, room, clinic in rows
    ]
    audit.record(
        db,
        actor,
        "calendar.feed.read",
        target_type="calendar_feed",
        target_id=feed.id,
        patient_id=feed.owner_id if feed.owner == "patient" else None,
        details={"owner": feed.owner, "appointment_ids": [a.id for a, *_ in rows]},
    )
    return render_calendar("MesoClinic appointments", events, now)
