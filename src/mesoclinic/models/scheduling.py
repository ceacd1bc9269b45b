from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow

#: Booking granularity: every appointment (with its buffer) occupies whole slots of this size.
SLOT_MINUTES = 5


class Room(Base):
    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("clinic_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Equipment codes the room has, e.g. ``["treatment_couch", "photo_station"]``.
    equipment: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OpeningHours(Base):
    """One opening interval of a clinic on a weekday (0 = Monday); several per day allowed."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("closes > opens", name="interval_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]
    opens: Mapped[time]
    closes: Mapped[time]


class ClinicClosure(Base):
    """A day the clinic is closed (bank holiday, training day)."""

    __tablename__ = "clinic_closure"
    __table_args__ = (UniqueConstraint("clinic_id", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"))
    on_date: Mapped[date]
    reason: Mapped[str] = mapped_column(String(200), default="")


class WorkingHours(Base):
    """When a practitioner works at a clinic on a weekday (clinic-local times)."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("ends > starts", name="interval_order"),
        Index("ix_working_hours_user_clinic", "user_id", "clinic_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    starts: Mapped[time]
    ends: Mapped[time]


class Absence(Base):
    """Leave, training or sickness: the practitioner cannot be booked in this interval."""

    __tablename__ = "absence"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="interval_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")


class AppointmentType(Base):
    __tablename__ = "appointment_type"
    __table_args__ = (
        UniqueConstraint("clinic_id", "code"),
        CheckConstraint("duration_minutes > 0 AND buffer_minutes >= 0", name="durations_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"))
    #: ``consultation``, ``mesotherapy_session``, ``review`` … (clinics may add their own).
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    duration_minutes: Mapped[int]
    #: Time after the appointment kept free (cleaning, notes); occupies the room and practitioner.
    buffer_minutes: Mapped[int] = mapped_column(default=0)
    required_equipment: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Only these types are bookable by patients from the portal.
    patient_bookable: Mapped[bool] = mapped_column(Boolean, default=False)


class Appointment(Base):
    """A booked appointment; its status changes are also kept as ``AppointmentEvent`` rows."""

    __tablename__ = "appointment"
    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'checked_in', 'completed', 'cancelled', 'no_show')", name="status_known"
        ),
        CheckConstraint("ends_at > starts_at", name="interval_order"),
        Index("ix_appointment_practitioner_time", "practitioner_user_id", "starts_at"),
        Index("ix_appointment_clinic_time", "clinic_id", "starts_at"),
        Index("ix_appointment_patient_time", "patient_id", "starts_at"),
        Index("ix_appointment_room_time", "room_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"))
    practitioner_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id", ondelete="RESTRICT"))
    appointment_type_id: Mapped[int] = mapped_column(ForeignKey("appointment_type.id", ondelete="RESTRICT"))
    course_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_plan.id", ondelete="RESTRICT"), default=None
    )
    session_number: Mapped[int | None] = mapped_column(default=None)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="booked")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))


class AppointmentEvent(Base):
    """Append-only history of an appointment: booked, rescheduled, cancelled, no-show…"""

    __tablename__ = "appointment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    actor_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class BookedSlot(Base):
    """The database's guarantee against double booking, on SQLite and PostgreSQL alike.

    A live appointment holds one row per ``SLOT_MINUTES`` slot it (and its buffer) covers, for its
    practitioner, its room and its patient. The primary key makes a second booking of any of those
    slots fail inside the database, however many server processes race for it.
    """

    __tablename__ = "booked_slot"
    __table_args__ = (
        CheckConstraint("resource IN ('practitioner', 'room', 'patient')", name="resource_known"),
    )

    resource: Mapped[str] = mapped_column(String(12), primary_key=True)
    resource_id: Mapped[int] = mapped_column(primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)


class CalendarFeed(Base):
    """A secret, revocable URL token for an iCalendar feed (a practitioner's or a patient's)."""

    __tablename__ = "calendar_feed"
    __table_args__ = (CheckConstraint("owner IN ('practitioner', 'patient')", name="owner_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(12))
    owner_id: Mapped[int]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class ContactPreference(Base):
    """How a patient wants to be contacted, and what they opted out of."""

    __tablename__ = "contact_preference"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True)
    email_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    reminders_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: ``[["09:00", "12:00"], …]`` clinic-local windows the patient prefers.
    preferred_times: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """A message to deliver, written in the same transaction as the change that causes it.

    Workers claim due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE on
    SQLite), deliver, and mark them sent; ``idempotency_key`` keeps a reminder from being queued
    twice.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name="status_known"
        ),
        Index("ix_outbox_message_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: ``appointment_reminder``, ``aftercare_checkin``, ``maintenance_due``, ``credential_expiry`` …
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), default=None)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
