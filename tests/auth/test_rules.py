"""The pure rules: who may do what, when logins are throttled, and which passwords are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.auth.rules import (
    MIN_PASSWORD_LENGTH,
    ROLE_PERMISSIONS,
    STAFF_ROLES,
    Permission,
    Principal,
    lockout_until,
    password_problems,
)
from mesoclinic.models import Role
from tests.support import PASSWORD

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)

# Failures up to two hours before NOW, at microsecond resolution like the database timestamps.
ages = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2))
failure_lists = st.lists(ages, max_size=30).map(lambda found: [NOW - age for age in found])
max_failures = st.integers(min_value=1, max_value=8)
windows = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=1))


def principal(role: Role, clinics: frozenset[int] = frozenset({1})) -> Principal:
    return Principal(
        user_id=7, email="someone@clinic.example", full_name="Some One", role=role, clinic_ids=clinics
    )


# --- roles and permissions -------------------------------------------------------------------------


def test_every_role_has_a_permission_set() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_admin_may_do_everything() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


def test_practitioner_documents_care_but_manages_no_users_and_verifies_no_audit() -> None:
    assert ROLE_PERMISSIONS[Role.PRACTITIONER] == {
        Permission.PATIENT_READ,
        Permission.PATIENT_WRITE,
        Permission.CLINICAL_READ,
        Permission.CLINICAL_WRITE,
    }


def test_receptionist_registers_patients_but_neither_reads_nor_writes_clinical_records() -> None:
    allowed = ROLE_PERMISSIONS[Role.RECEPTIONIST]
    assert allowed == {Permission.PATIENT_READ, Permission.PATIENT_WRITE}
    assert Permission.CLINICAL_READ not in allowed


def test_patient_may_only_read_and_record_scoping_limits_it_to_their_own() -> None:
    assert ROLE_PERMISSIONS[Role.PATIENT] == {Permission.PATIENT_READ, Permission.CLINICAL_READ}


def test_only_admins_manage_users_or_verify_the_audit_trail() -> None:
    for permission in (Permission.USER_MANAGE, Permission.AUDIT_VERIFY):
        assert {role for role in Role if permission in ROLE_PERMISSIONS[role]} == {Role.ADMIN}


@pytest.mark.parametrize("role", list(Role))
def test_principal_may_exactly_what_its_role_allows(role: Role) -> None:
    caller = principal(role)
    assert {p for p in Permission if caller.may(p)} == ROLE_PERMISSIONS[role]


def test_staff_are_the_three_clinic_roles_and_patients_are_not_staff() -> None:
    staff = {role for role in Role if principal(role).is_staff}
    assert staff == set(STAFF_ROLES) == {Role.ADMIN, Role.PRACTITIONER, Role.RECEPTIONIST}


def test_principal_actor_carries_who_and_from_where_for_the_audit_trail() -> None:
    caller = Principal(
        user_id=3,
        email="a@b.example",
        full_name="A",
        role=Role.ADMIN,
        clinic_ids=frozenset(),
        ip="203.0.113.9",
        user_agent="pytest",
    )
    actor = caller.actor
    assert (actor.user_id, actor.label, actor.ip, actor.user_agent) == (
        3,
        "a@b.example",
        "203.0.113.9",
        "pytest",
    )


def test_principal_repr_does_not_show_the_csrf_token() -> None:
    caller = Principal(
        user_id=1,
        email="a@b.example",
        full_name="A",
        role=Role.ADMIN,
        clinic_ids=frozenset(),
        csrf_token="s3cr3t",
    )
    assert "s3cr3t" not in repr(caller)


# --- login throttling ------------------------------------------------------------------------------


def test_it_locks_at_exactly_the_maximum_number_of_recent_failures() -> None:
    window = timedelta(minutes=15)
    failures = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4, 5)]
    assert lockout_until(failures[:4], NOW, 5, window) is None
    # Locked until the oldest of the five ages out of the window.
    assert lockout_until(failures, NOW, 5, window) == NOW - timedelta(minutes=5) + window


def test_it_ignores_failures_exactly_one_window_old() -> None:
    window = timedelta(minutes=15)
    failures = [NOW - window, *(NOW - timedelta(minutes=m) for m in (1, 2, 3, 4))]
    assert lockout_until(failures, NOW, 5, window) is None
    nudged = [NOW - window + timedelta(microseconds=1), *failures[1:]]
    assert lockout_until(nudged, NOW, 5, window) == NOW + timedelta(microseconds=1)


def test_it_never_locks_without_failures() -> None:
    assert lockout_until([], NOW, 1, timedelta(minutes=15)) is None


@given(failure_lists, max_failures, windows)
def test_it_never_locks_with_fewer_than_the_maximum_failures_in_the_window(
    failures: list[datetime], limit: int, window: timedelta
) -> None:
    in_window = [t for t in failures if NOW - t < window]
    if len(in_window) < limit:
        assert lockout_until(failures, NOW, limit, window) is None
    else:
        assert lockout_until(failures, NOW, limit, window) is not None


@given(failure_lists, max_failures, windows)
def test_a_lock_ends_within_one_window_of_the_newest_counted_failure(
    failures: list[datetime], limit: int, window: timedelta
) -> None:
    until = lockout_until(failures, NOW, limit, window)
    if until is None:
        return
    counted = [t for t in failures if NOW - t < window]
    assert NOW < until <= max(counted) + window
    # The lock lasts exactly until the failure that made the count reach the limit ages out.
    assert until - window in counted
    assert len([t for t in counted if t >= until - window]) >= limit


@given(failure_lists, max_failures, windows)
def test_a_lock_is_over_when_it_says_and_not_a_moment_before(
    failures: list[datetime], limit: int, window: timedelta
) -> None:
    until = lockout_until(failures, NOW, limit, window)
    if until is None:
        return
    assert lockout_until(failures, until, limit, window) is None
    assert lockout_until(failures, until - timedelta(microseconds=1), limit, window) == until


@given(failure_lists, max_failures, windows, st.floats(min_value=0, max_value=1, exclude_max=True))
def test_waiting_does_not_move_the_end_of_a_lock(
    failures: list[datetime], limit: int, window: timedelta, fraction: float
) -> None:
    until = lockout_until(failures, NOW, limit, window)
    if until is None:
        return
    later = NOW + (until - NOW) * fraction
    if later < until:  # rounding of the fraction to whole microseconds may land on ``until``
        assert lockout_until(failures, later, limit, window) == until


@given(failure_lists, max_failures, windows)
def test_another_failure_never_shortens_or_lifts_a_lock(
    failures: list[datetime], limit: int, window: timedelta
) -> None:
    before = lockout_until(failures, NOW, limit, window)
    after = lockout_until([*failures, NOW], NOW, limit, window)
    if before is not None:
        assert after is not None
        assert after >= before


@given(st.lists(ages, max_size=30).flatmap(lambda found: st.permutations(found)), max_failures, windows)
def test_the_order_failures_are_given_in_does_not_matter(
    shuffled: list[timedelta], limit: int, window: timedelta
) -> None:
    failures = [NOW - age for age in shuffled]
    assert lockout_until(failures, NOW, limit, window) == lockout_until(sorted(failures), NOW, limit, window)


# --- password strength -----------------------------------------------------------------------------


def test_the_test_password_is_acceptable() -> None:
    assert password_problems(PASSWORD, "clinician@a.example") == []


def test_it_names_every_problem_of_a_password_at_once() -> None:
    problems = password_problems("annaanna", "anna@clinic.example")
    assert problems == [
        f"must be at least {MIN_PASSWORD_LENGTH} characters",
        "must not be made of so few different characters",
        "must not contain the email name",
    ]


def test_it_refuses_the_email_name_whatever_its_case() -> None:
    assert password_problems("my-Clinician-is-great", "clinician@a.example") == [
        "must not contain the email name"
    ]
    assert password_problems("my-clinician-is-great", "CLINICIAN@a.example") == [
        "must not contain the email name"
    ]


def test_without_an_email_only_length_and_variety_count() -> None:
    assert password_problems("clinician-password") == []


@given(st.text(max_size=MIN_PASSWORD_LENGTH - 1), st.emails())
def test_it_refuses_any_password_shorter_than_the_minimum(password: str, email: str) -> None:
    assert f"must be at least {MIN_PASSWORD_LENGTH} characters" in password_problems(password, email)


@given(
    st.lists(st.characters(), min_size=1, max_size=4, unique=True), st.integers(min_value=12, max_value=40)
)
def test_it_refuses_passwords_of_fewer_than_five_different_characters(
    alphabet: list[str], length: int
) -> None:
    password = "".join(alphabet[i % len(alphabet)] for i in range(length))
    assert password_problems(password) == ["must not be made of so few different characters"]


@given(
    st.from_regex(r"[a-z]{3,12}", fullmatch=True),
    st.text(max_size=10),
    st.text(max_size=10),
)
def test_it_refuses_passwords_containing_the_email_name(name: str, before: str, after: str) -> None:
    password = before + name.upper() + after
    assert "must not contain the email name" in password_problems(password, f"{name}@clinic.example")


@given(st.text(alphabet="0123456789!#%&*-_=+", min_size=MIN_PASSWORD_LENGTH, max_size=64))
def test_it_accepts_long_varied_passwords_unrelated_to_the_email(password: str) -> None:
    # Letters are kept out of the alphabet so the email name cannot occur by chance.
    if len(set(password)) >= 5:
        assert password_problems(password, "clinician@a.example") == []
