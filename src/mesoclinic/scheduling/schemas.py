"""Request and response shapes for scheduling."""

from __future__ import annotations

from datetime import date, datetime, time

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Code = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- clinic set-up -----------------------------------------------------------------------------


class RoomIn(In):
    name: str = Field(min_length=1, max_length=100)
    equipment: list[str] = Field(default_factory=list, max_length=30)


class RoomRead(Out):
    id: int
    clinic_id: int
    name: str
    equipment: list[str]
    active: bool


class OpeningHoursIn(In):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> OpeningHoursIn:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        return self


class OpeningHoursRead(Out):
    id: int
    clinic_id: int
    weekday: int
    opens: time
    closes: time


class ClosureIn(In):
    on_date: date
    reason: str = Field(default="", max_length=200)


class ClosureRead(Out):
    id: int
    clinic_id: int
    on_date: date
    reason: str


class WorkingHoursIn(In):
    clinic_id: int
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    starts: time
    ends: time

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHoursIn:
        if self.ends <= self.starts:
            raise ValueError("ends must be after starts")
        return self


class WorkingHoursRead(Out):
    id: int
    user_id: int
    clinic_id: int
    weekday: int
    starts: time
    ends: time


class AbsenceIn(In):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> AbsenceIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AbsenceRead(Out):
    id: int
    user_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str


class AppointmentTypeIn(In):
    code: str = Code
    name: str = Field(min_length=1, max_length=100)
    duration_minutes: int = Field(gt=0, le=480)
    buffer_minutes: int = Field(default=0, ge=0, le=120)
    required_equipment: list[str] = Field(default_factory=list, max_length=30)
    patient_bookable: bool = False


class AppointmentTypeRead(Out):
    id: int
    clinic_id: int
    code: str
    name: str
    duration_minutes: int
    buffer_minutes: int
    required_equipment: list[str]
    patient_bookable: bool


# --- appointments ------------------------------------------------------------------------------


class AppointmentCreate(In):
    patient_id: int
    practitioner_user_id: int
    room_id: int
    appointment_type_id: int
    starts_at: AwareDatetime
    course_plan_id: int | None = None
    note: str = Field(default="", max_length=2000)


class Reschedule(In):
    starts_at: AwareDatetime
    practitioner_user_id: int | None = None
    room_id: int | None = None
    reason: str = Field(default="", max_length=500)
    #: When moving a course session breaks the window of its later booked sessions: move those too
    #: (best re-plan, all or nothing) instead of refusing with 409 ``breaks-course-window``.
    replan: bool = False


class StatusChange(In):
    reason: str = Field(default="", max_length=500)


class AppointmentEventRead(Out):
    id: int
    kind: str
    starts_at: datetime
    ends_at: datetime
    actor_user_id: int
    reason: str
    occurred_at: datetime


class AppointmentRead(Out):
    id: int
    clinic_id: int
    patient_id: int
    practitioner_user_id: int
    room_id: int
    appointment_type_id: int
    course_plan_id: int | None
    session_number: int | None
    starts_at: datetime
    ends_at: datetime
    status: str
    note: str
    created_at: datetime


class AppointmentDetail(AppointmentRead):
    history: list[AppointmentEventRead]


class CalendarDay(BaseModel):
    date: date
    #: When the practitioner works (or the clinic is open, for the clinic day view), as UTC times.
    available: list[tuple[datetime, datetime]]
    appointments: list[AppointmentRead]


class WeekView(BaseModel):
    practitioner_user_id: int
    clinic_id: int
    days: list[CalendarDay]


class ClinicDay(BaseModel):
    clinic_id: int
    date: date
    closed: bool
    appointments: list[AppointmentRead]


# --- courses -----------------------------------------------------------------------------------


class ProposalRequest(In):
    appointment_type_id: int
    practitioner_user_id: int | None = Field(
        default=None, description="The practitioner to prefer (default: the one of the last session)"
    )


class ProposedSlotRead(BaseModel):
    session_number: int
    starts_at: datetime
    ends_at: datetime
    practitioner_user_id: int
    room_id: int
    score: int


class ProposedPlan(BaseModel):
    score: int
    slots: list[ProposedSlotRead]


class Proposals(BaseModel):
    course_plan_id: int
    appointment_type_id: int
    sessions_remaining: int
    best: ProposedPlan | None
    alternatives: list[ProposedPlan]
    reason: str | None = None


class ChosenSlot(In):
    starts_at: AwareDatetime
    practitioner_user_id: int
    room_id: int


class CourseBooking(In):
    appointment_type_id: int
    slots: list[ChosenSlot] = Field(min_length=1, max_length=12)


class SelfBooking(In):
    appointment_type_id: int
    starts_at: AwareDatetime
    practitioner_user_id: int
    room_id: int
