"""Who may do what, and when logins are throttled: pure decisions over plain data."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mesoclinic.audit.service import Actor
from mesoclinic.models.user import Role


class Permission(enum.StrEnum):
    PATIENT_READ = "patient:read"
    PATIENT_WRITE = "patient:write"
    #: Assessments, formulations, session records: not the front desk's business.
    CLINICAL_READ = "clinical:read"
    CLINICAL_WRITE = "clinical:write"
    USER_MANAGE = "user:manage"
    AUDIT_VERIFY = "audit:verify"


STAFF_ROLES = frozenset({Role.ADMIN, Role.PRACTITIONER, Role.RECEPTIONIST})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.PRACTITIONER: frozenset(
        {
            Permission.PATIENT_READ,
            Permission.PATIENT_WRITE,
            Permission.CLINICAL_READ,
            Permission.CLINICAL_WRITE,
        }
    ),
    # Front desk registers and books patients but documents no clinical care.
    Role.RECEPTIONIST: frozenset({Permission.PATIENT_READ, Permission.PATIENT_WRITE}),
    # A patient reads their own record; the record scoping in patients.service does the rest.
    Role.PATIENT: frozenset({Permission.PATIENT_READ, Permission.CLINICAL_READ}),
}

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    email: str
    full_name: str
    role: Role
    clinic_ids: frozenset[int]
    #: The caller's own patient record (patients only).
    patient_id: int | None = None
    #: ``session`` (browser, CSRF-checked) or ``token`` (API bearer).
    via: str = "session"
    ip: str = ""
    user_agent: str = ""
    active_clinic_id: int | None = None
    csrf_token: str = field(default="", repr=False)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.email, self.ip, self.user_agent)

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def lockout_until(
    failures: Sequence[datetime], now: datetime, max_failures: int, window: timedelta
) -> datetime | None:
    """Locked while ``max_failures`` failures fall inside the window; unlocked as they age out."""
    recent = sorted(t for t in failures if now - t < window)
    if len(recent) < max_failures:
        return None
    return recent[-max_failures] + window


def password_problems(password: str, email: str = "") -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(set(password)) < 5:
        problems.append("must not be made of so few different characters")
    name = email.split("@")[0].lower()
    if len(name) >= 3 and name in password.lower():
        problems.append("must not contain the email name")
    return problems
