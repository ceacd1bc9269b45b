"""Who may treat on a given day: credential status as pure decisions over plain data.

A credential counts from ``valid_from`` through ``expires_on`` inclusive: a licence that expires on
the 31st still covers a session on the 31st, the same reading as a product lot's expiry date.

Source for the shape of a credential (identifier, issuer, period): FHIR R4
Practitioner.qualification, https://rubydoc.info/gems/fhir_models/4.3.0/FHIR/Practitioner/Qualification.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, Protocol

#: The scope a practitioner needs to be assigned to, or sign, a mesotherapy session.
MESOTHERAPY = "mesotherapy"
#: Reminders start this many days before a credential expires (clinic policy, not a clinical fact).
DEFAULT_REMINDER_DAYS = 60

CredentialState = Literal["valid", "expiring_soon", "expired", "not_yet_valid", "none"]
#: The states in which a practitioner may treat.
MAY_TREAT: frozenset[CredentialState] = frozenset({"valid", "expiring_soon"})

NOT_QUALIFIED = "practitioner-not-qualified"

LICENCE_NUMBER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 ./\-]{0,78}[A-Za-z0-9])?$")
SCOPE = re.compile(r"^[a-z][a-z0-9_\-]{1,59}$")


class CredentialLike(Protocol):
    """What the rules read from a credential (a ``Qualification`` row satisfies it)."""

    @property
    def id(self) -> int: ...
    @property
    def scope(self) -> str: ...
    @property
    def valid_from(self) -> date: ...
    @property
    def expires_on(self) -> date: ...


@dataclass(frozen=True)
class Credential:
    """Plain credential data, for callers (and tests) without a database row."""

    id: int
    scope: str
    valid_from: date
    expires_on: date


@dataclass(frozen=True)
class CredentialStatus:
    status: CredentialState
    #: The credential the status is about: the current one, the next one, or the last expired one.
    credential_id: int | None
    valid_from: date | None
    expires_on: date | None
    #: Plain-language reason, fit for a refusal's detail.
    reason: str

    @property
    def may_treat(self) -> bool:
        return self.status in MAY_TREAT

    def days_left(self, on_date: date) -> int | None:
        return None if self.expires_on is None else (self.expires_on - on_date).days


def same_scope(credential_scope: str, scope: str) -> bool:
    return credential_scope.strip().lower() == scope.strip().lower()


def is_current(credential: CredentialLike, on_date: date) -> bool:
    return credential.valid_from <= on_date <= credential.expires_on


def credential_status(
    qualifications: Iterable[CredentialLike],
    on_date: date,
    scope: str = MESOTHERAPY,
    within_days: int = DEFAULT_REMINDER_DAYS,
) -> CredentialStatus:
    """The practitioner's standing for ``scope`` on ``on_date``.

    * ``valid``: a credential covers the day and runs for more than ``within_days`` days;
    * ``expiring_soon``: the best current credential ends within ``within_days`` days (still may treat);
    * ``not_yet_valid``: none covers the day but one starts later (a renewal not yet in force);
    * ``expired``: every credential for the scope ended before the day;
    * ``none``: no credential for the scope at all.

    With several current credentials the one lasting longest decides, so a renewal already in
    force silences the reminder for the old one.
    """
    held = [q for q in qualifications if same_scope(q.scope, scope)]
    current = [q for q in held if is_current(q, on_date)]
    if current:
        best = max(current, key=lambda q: (q.expires_on, q.id))
        left = (best.expires_on - on_date).days
        if left <= within_days:
            return _status(
                "expiring_soon", best, f"The {scope} credential expires on {best.expires_on} ({left} days)."
            )
        return _status("valid", best, f"The {scope} credential is valid until {best.expires_on}.")
    upcoming = [q for q in held if q.valid_from > on_date]
    if upcoming:
        first = min(upcoming, key=lambda q: (q.valid_from, q.id))
        return _status(
            "not_yet_valid", first, f"The {scope} credential is not valid until {first.valid_from}."
        )
    if held:
        last = max(held, key=lambda q: (q.expires_on, q.id))
        return _status("expired", last, f"The {scope} credential expired on {last.expires_on}.")
    return CredentialStatus("none", None, None, None, f"No {scope} credential is on record.")


def _status(state: CredentialState, credential: CredentialLike, reason: str) -> CredentialStatus:
    return CredentialStatus(state, credential.id, credential.valid_from, credential.expires_on, reason)


def needs_renewal(
    credential: CredentialLike,
    others: Iterable[CredentialLike],
    on_date: date,
    within_days: int = DEFAULT_REMINDER_DAYS,
) -> bool:
    """Whether to remind about ``credential``: it ends within the window (today included) and no
    other credential of the same scope covers the day after it ends."""
    if not on_date <= credential.expires_on <= on_date + timedelta(days=within_days):
        return False
    day_after = credential.expires_on + timedelta(days=1)
    return not any(
        o.id != credential.id and same_scope(o.scope, credential.scope) and is_current(o, day_after)
        for o in others
    )


def qualification_problem(licence_number: str, valid_from: date, expires_on: date) -> tuple[str, str] | None:
    """``(field, reason)`` of the first problem with a new credential, or None.

    A licence number is what the issuer prints on the register: letters and digits, optionally
    separated by spaces, dots, slashes or hyphens."""
    if not LICENCE_NUMBER.fullmatch(licence_number.strip()):
        return (
            "licence_number",
            "The licence number must be 1–80 letters or digits (spaces, '.', '/', '-' between them).",
        )
    if expires_on <= valid_from:
        return ("expires_on", "A credential must expire after the day it becomes valid.")
    return None
