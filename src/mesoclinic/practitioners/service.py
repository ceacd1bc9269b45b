"""Practitioners' credentials: recording them, and deciding who may be assigned to or sign a session.

Staff users are visible to the staff of the clinics they share; credentials are managed by an
administrator of a shared clinic, and read by those administrators and by the practitioner themself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import STAFF_ROLES, Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.models import Clinic, ClinicMembership, Qualification, Role, User
from mesoclinic.practitioners import rules
from mesoclinic.practitioners.schemas import (
    CredentialStatusRead,
    ExpiringCredential,
    PractitionerRead,
    QualificationCreate,
    QualificationRead,
)

STAFF_ROLE_VALUES = sorted(r.value for r in STAFF_ROLES)


def today_for(db: Session, principal: Principal, now: datetime | None = None) -> date:
    """Today in the caller's active clinic's time zone (UTC when the caller has none)."""
    now = now or utcnow()
    if principal.active_clinic_id is not None:
        zone = db.scalar(select(Clinic.timezone).where(Clinic.id == principal.active_clinic_id))
        if zone:
            return now.astimezone(ZoneInfo(zone)).date()
    return now.date()


def _staff_in(clinic_ids: Iterable[int]) -> Select[User]:
    """The one place that decides which staff users a caller may see: those of shared clinics."""
    members = select(ClinicMembership.user_id).where(ClinicMembership.clinic_id.in_(list(clinic_ids)))
    return select(User).where(User.id.in_(members), User.role.in_(STAFF_ROLE_VALUES))


def _memberships(db: Session, user_ids: Iterable[int]) -> dict[int, list[int]]:
    clinics: dict[int, list[int]] = defaultdict(list)
    rows = db.execute(
        select(ClinicMembership.user_id, ClinicMembership.clinic_id)
        .where(ClinicMembership.user_id.in_(list(user_ids)))
        .order_by(ClinicMembership.clinic_id)
    )
    for user_id, clinic_id in rows:
        clinics[user_id].append(clinic_id)
    return clinics


def _qualifications(db: Session, user_ids: Iterable[int]) -> dict[int, list[Qualification]]:
    held: dict[int, list[Qualification]] = defaultdict(list)
    for q in db.scalars(
        select(Qualification)
        .where(Qualification.user_id.in_(list(user_ids)))
        .order_by(Qualification.user_id, Qualification.valid_from, Qualification.id)
    ):
        held[q.user_id].append(q)
    return held


def _require_staff(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("Only clinic staff may see practitioners.", code="staff-only")


def _visible_user(db: Session, principal: Principal, user_id: int) -> User:
    user = db.scalar(_staff_in(principal.clinic_ids).where(User.id == user_id))
    if user is None:
        raise NotFound(
            "No such practitioner.",
            code="practitioner-not-found",
            refusal=Refusal("practitioner.read", "user", str(user_id)),
        )
    return user


def status_read(status: rules.CredentialStatus, scope: str, on_date: date) -> CredentialStatusRead:
    return CredentialStatusRead(
        scope=scope,
        status=status.status,
        may_treat=status.may_treat,
        qualification_id=status.credential_id,
        expires_on=status.expires_on,
        days_left=status.days_left(on_date),
        reason=status.reason,
    )


# --- the gate other domains call ---------------------------------------------------------------


def require_qualified(
    db: Session,
    user_id: int,
    on_date: date,
    scope: str = rules.MESOTHERAPY,
    *,
    clinic_id: int | None = None,
) -> Qualification:
    """The credential that lets ``user_id`` be assigned to, or sign, a session on ``on_date``.

    Refuses (409 ``practitioner-not-qualified``) a user who is not an active practitioner, one not
    working at ``clinic_id`` when given, and one whose credential for ``scope`` is expired, not yet
    valid or missing; the detail says which."""
    user = db.get(User, user_id)
    if user is None or user.role != Role.PRACTITIONER.value or not user.is_active:
        raise Conflict(
            "Only an active practitioner may be assigned to or sign a session.",
            code=rules.NOT_QUALIFIED,
            field="practitioner_user_id",
            refusal=Refusal("practitioner.qualification.check", "user", str(user_id)),
        )
    if clinic_id is not None and clinic_id not in _memberships(db, [user_id]).get(user_id, []):
        raise Conflict(
            "The practitioner does not work at this clinic.",
            code=rules.NOT_QUALIFIED,
            field="practitioner_user_id",
            refusal=Refusal("practitioner.qualification.check", "user", str(user_id)),
        )
    held = _qualifications(db, [user_id]).get(user_id, [])
    status = rules.credential_status(held, on_date, scope)
    if not status.may_treat or status.credential_id is None:
        raise Conflict(
            f"{user.full_name} may not treat on {on_date}: {status.reason}",
            code=rules.NOT_QUALIFIED,
            field="practitioner_user_id",
            extra={"credential_status": status.status},
            refusal=Refusal(
                "practitioner.qualification.check",
                "user",
                str(user_id),
                details={"credential_status": status.status},
            ),
        )
    return next(q for q in held if q.id == status.credential_id)


# --- use cases behind the API ------------------------------------------------------------------


def list_practitioners(
    db: Session, principal: Principal, on_date: date, scope: str = rules.MESOTHERAPY
) -> list[PractitionerRead]:
    """Staff of the caller's clinics, each with their standing for ``scope`` on ``on_date``."""
    _require_staff(principal)
    users = list(db.scalars(_staff_in(principal.clinic_ids).order_by(User.full_name, User.id)))
    ids = [u.id for u in users]
    clinics, held = _memberships(db, ids), _qualifications(db, ids)
    audit.record(db, principal.actor, "practitioner.list", target_type="user", details={"count": len(users)})
    return [
        PractitionerRead(
            user_id=u.id,
            full_name=u.full_name,
            email=u.email,
            role=u.role,
            clinic_ids=clinics.get(u.id, []),
            credential=status_read(
                rules.credential_status(held.get(u.id, []), on_date, scope), scope, on_date
            ),
        )
        for u in users
    ]


def list_qualifications(db: Session, principal: Principal, user_id: int) -> list[Qualification]:
    """A practitioner's credentials, for an administrator of a shared clinic or for themself."""
    _require_staff(principal)
    user = _visible_user(db, principal, user_id)
    if principal.user_id != user.id and principal.role is not Role.ADMIN:
        raise Forbidden("Only an administrator may read a colleague's credentials.", code="admin-only")
    audit.record(
        db, principal.actor, "practitioner.qualification.read", target_type="user", target_id=user.id
    )
    return _qualifications(db, [user.id]).get(user.id, [])


def add_qualification(
    db: Session, principal: Principal, user_id: int, data: QualificationCreate
) -> Qualification:
    """Record a credential (a renewal is a new row; credentials are never edited in place)."""
    _require_staff(principal)
    user = _visible_user(db, principal, user_id)
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only an administrator may record credentials.", code="admin-only")
    if user.role != Role.PRACTITIONER.value:
        raise Conflict(
            "Credentials are recorded for practitioners only.", code="not-a-practitioner", field="user_id"
        )
    if problem := rules.qualification_problem(data.licence_number, data.valid_from, data.expires_on):
        field, reason = problem
        raise InvalidInput(reason, code="invalid-qualification", field=field)
    qualification = Qualification(user_id=user.id, **data.model_dump())
    db.add(qualification)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "practitioner.qualification.added",
        target_type="qualification",
        target_id=qualification.id,
        details={"user_id": user.id, "scope": qualification.scope},
    )
    return qualification


def expiring_in_clinics(
    db: Session, clinic_ids: Iterable[int], on_date: date, within_days: int = rules.DEFAULT_REMINDER_DAYS
) -> list[ExpiringCredential]:
    """Credentials of the clinics' practitioners that end within ``within_days`` days of ``on_date``
    with no renewal on record, soonest first: what a reminder job sends. No access check (jobs)."""
    users = {
        u.id: u
        for u in db.scalars(
            _staff_in(clinic_ids).where(User.role == Role.PRACTITIONER.value, User.is_active.is_(True))
        )
    }
    clinics, held = _memberships(db, users), _qualifications(db, users)
    found = [
        ExpiringCredential(
            user_id=user_id,
            full_name=users[user_id].full_name,
            email=users[user_id].email,
            clinic_ids=clinics.get(user_id, []),
            qualification=QualificationRead.model_validate(q),
            days_left=(q.expires_on - on_date).days,
        )
        for user_id, quals in held.items()
        for q in quals
        if rules.needs_renewal(q, quals, on_date, within_days)
    ]
    return sorted(found, key=lambda e: (e.days_left, e.full_name, e.qualification.id))


def expiring_credentials(
    db: Session, principal: Principal, within_days: int, on_date: date | None = None
) -> list[ExpiringCredential]:
    """Credentials ending soon at the caller's clinics (staff only), for reminders."""
    _require_staff(principal)
    on_date = on_date or today_for(db, principal)
    found = expiring_in_clinics(db, principal.clinic_ids, on_date, within_days)
    audit.record(
        db,
        principal.actor,
        "practitioner.credentials.expiring.read",
        target_type="qualification",
        details={"within_days": within_days, "qualification_ids": [e.qualification.id for e in found]},
    )
    return found
