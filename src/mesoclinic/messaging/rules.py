"""Pure decisions of the messaging outbox: who may be contacted how, when a reminder is sent,
how failed deliveries are retried. No I/O here.

Timing rules are product rules from issue 4 ("Scheduling and reminders"), not clinical facts; the
ones the issue does not fix are marked as product defaults so a clinic can review them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

ISSUE_SOURCE = "issue 4 'Scheduling and reminders'"


class Kind(StrEnum):
    APPOINTMENT_REMINDER = "appointment_reminder"
    AFTERCARE_CHECKIN = "aftercare_checkin"
    MAINTENANCE_DUE = "maintenance_due"
    CREDENTIAL_EXPIRY = "credential_expiry"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


#: Messages to patients that a "no reminders" opt-out silences. Source: issue 4 ("Patients' contact
#: preferences and opt-outs are respected").
PATIENT_REMINDER_KINDS = frozenset({Kind.APPOINTMENT_REMINDER, Kind.AFTERCARE_CHECKIN, Kind.MAINTENANCE_DUE})

#: Days before a credential expires on which its holder is reminded. Source: task brief for issue 4
#: (60/30/7 days).
CREDENTIAL_MILESTONES: tuple[int, ...] = (60, 30, 7)

#: Clinic-local hour at which day-before reminders and due-date prompts go out, so that a job run
#: just after midnight does not message patients at night. Product default [verify with clinics].
SEND_HOUR = 9

#: A job that did not run for some days catches up on prompts this recent, and no older: a patient
#: is never told about a check-in or a maintenance date long past. Product default [verify].
CATCH_UP_DAYS = 14

#: Retry schedule: the first retry after ``RETRY_BASE``, doubling each time, never more than
#: ``RETRY_CAP`` apart. Product default.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)


@dataclass(frozen=True)
class Reason:
    """Why a message was not queued: a stable code and a plain-language reason."""

    code: str
    reason: str


NO_REMINDERS = Reason("reminders-opted-out", "The patient opted out of reminders.")
NO_CHANNEL = Reason(
    "no-usable-channel",
    "No channel is both allowed by the patient and has an address (email allowed with an email "
    "address, or SMS allowed with a phone number).",
)


@dataclass(frozen=True)
class ContactPrefs:
    """A patient's contact preference; the defaults are those of a patient who never set one."""

    email_allowed: bool = True
    sms_allowed: bool = False
    reminders_opt_out: bool = False


@dataclass(frozen=True)
class Routing:
    """Where a message to a patient goes: one (channel, address) per usable channel, or why none."""

    targets: tuple[tuple[Channel, str], ...]
    refused: Reason | None = None


def route(kind: Kind, prefs: ContactPrefs, email: str, phone: str) -> Routing:
    """Rule ``contact-preference`` (source: issue 4): reminders stop when the patient opted out;
    email only if allowed and an address exists; SMS only if allowed and a phone number exists."""
    if kind in PATIENT_REMINDER_KINDS and prefs.reminders_opt_out:
        return Routing((), NO_REMINDERS)
    targets: list[tuple[Channel, str]] = []
    if prefs.email_allowed and email.strip():
        targets.append((Channel.EMAIL, email.strip()))
    if prefs.sms_allowed and phone.strip():
        targets.append((Channel.SMS, phone.strip()))
    if not targets:
        return Routing((), NO_CHANNEL)
    return Routing(tuple(targets))


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def local_day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which a clinic-local day starts and ends (DST-correct)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def send_at(day: date, timezone: str, now: datetime) -> datetime:
    """When a message meant for a clinic-local day goes out: ``SEND_HOUR`` that day, or now if later."""
    planned = datetime.combine(day, time(SEND_HOUR), tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    return max(planned, now)


def reminder_day(appointment_day: date) -> date:
    """Rule ``appointment-reminder-day-before`` (source: issue 4): the clinic-local day before."""
    return appointment_day - timedelta(days=1)


def within_catch_up(due_on: date, today: date) -> bool:
    """A prompt dated ``due_on`` is sent when that day has come, unless it is ``CATCH_UP_DAYS`` old."""
    return today - timedelta(days=CATCH_UP_DAYS) <= due_on <= today


def credential_milestone(days_left: int) -> int | None:
    """The reminder milestone (60, 30 or 7 days) a credential with ``days_left`` is at, if any.

    A job that missed the exact day still reminds at the next run (59 days left → the 60-day
    reminder); the idempotency key (credential + milestone) keeps it to one per milestone.
    """
    if days_left < 0:
        return None
    reached = [m for m in CREDENTIAL_MILESTONES if days_left <= m]
    return min(reached) if reached else None


def maintenance_status(due_on: date, today: date) -> str:
    """``overdue`` (before today), ``due`` (today) or ``upcoming``."""
    if due_on < today:
        return "overdue"
    return "due" if due_on == today else "upcoming"


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the ``attempts``-th failed delivery (1-based), capped."""
    exponent = max(attempts - 1, 0)
    if exponent >= 20:  # 2**20 minutes is far past the cap; avoid huge timedelta arithmetic
        return RETRY_CAP
    return min(RETRY_BASE * (1 << exponent), RETRY_CAP)


@dataclass(frozen=True)
class AfterFailure:
    status: str  # "pending" (retry later) or "failed" (gave up)
    due_at: datetime


def after_failure(attempts: int, max_attempts: int, now: datetime) -> AfterFailure:
    """Rule ``delivery-retry`` (source: issue 4, "with retries"): retry with backoff until
    ``max_attempts`` deliveries have failed, then give up and leave the row ``failed`` for staff."""
    if attempts >= max_attempts:
        return AfterFailure("failed", now)
    return AfterFailure("pending", now + retry_delay(attempts))
