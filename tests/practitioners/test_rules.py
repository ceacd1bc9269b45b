"""Credential status and renewal reminders as pure functions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.practitioners.rules import (
    Credential,
    credential_status,
    needs_renewal,
    qualification_problem,
)

TODAY = date(2026, 6, 15)


def cred(id: int, valid_from: date, expires_on: date, scope: str = "mesotherapy") -> Credential:  # noqa: A002
    return Credential(id=id, scope=scope, valid_from=valid_from, expires_on=expires_on)


def test_it_reports_none_without_any_credential_for_the_scope() -> None:
    other = cred(1, date(2020, 1, 1), date(2030, 1, 1), scope="prescribing")
    status = credential_status([other], TODAY)
    assert (status.status, status.credential_id, status.may_treat) == ("none", None, False)
    assert "No mesotherapy credential" in status.reason


def test_a_credential_valid_well_beyond_the_window_is_valid() -> None:
    status = credential_status([cred(1, date(2025, 1, 1), TODAY + timedelta(days=61))], TODAY)
    assert (status.status, status.credential_id, status.may_treat) == ("valid", 1, True)
    assert status.days_left(TODAY) == 61


def test_it_warns_within_the_reminder_window_but_still_allows_treatment() -> None:
    status = credential_status([cred(1, date(2025, 1, 1), TODAY + timedelta(days=60))], TODAY)
    assert (status.status, status.may_treat) == ("expiring_soon", True)
    assert str(TODAY + timedelta(days=60)) in status.reason


def test_the_reminder_window_is_configurable() -> None:
    held = [cred(1, date(2025, 1, 1), TODAY + timedelta(days=20))]
    assert credential_status(held, TODAY, within_days=14).status == "valid"
    assert credential_status(held, TODAY, within_days=30).status == "expiring_soon"


def test_a_credential_covers_its_expiry_day_and_not_the_day_after() -> None:
    held = [cred(1, date(2025, 1, 1), TODAY)]
    assert credential_status(held, TODAY).may_treat
    after = credential_status(held, TODAY + timedelta(days=1))
    assert (after.status, after.may_treat) == ("expired", False)
    assert f"expired on {TODAY}" in after.reason


def test_a_credential_starts_on_its_first_day() -> None:
    held = [cred(1, TODAY, TODAY + timedelta(days=365))]
    assert credential_status(held, TODAY).status == "valid"
    before = credential_status(held, TODAY - timedelta(days=1))
    assert (before.status, before.may_treat) == ("not_yet_valid", False)
    assert str(TODAY) in before.reason


def test_the_expired_status_names_the_latest_expired_credential() -> None:
    held = [cred(1, date(2020, 1, 1), date(2022, 1, 1)), cred(2, date(2022, 1, 1), date(2024, 1, 1))]
    status = credential_status(held, TODAY)
    assert (status.status, status.credential_id, status.expires_on) == ("expired", 2, date(2024, 1, 1))


def test_a_renewal_in_force_decides_over_the_old_credential() -> None:
    old = cred(1, date(2024, 1, 1), TODAY + timedelta(days=10))
    renewal = cred(2, TODAY - timedelta(days=5), TODAY + timedelta(days=800))
    status = credential_status([old, renewal], TODAY)
    assert (status.status, status.credential_id) == ("valid", 2)


def test_a_future_renewal_after_a_lapse_is_not_yet_valid() -> None:
    lapsed = cred(1, date(2024, 1, 1), TODAY - timedelta(days=3))
    renewal = cred(2, TODAY + timedelta(days=2), TODAY + timedelta(days=800))
    assert credential_status([lapsed, renewal], TODAY).status == "not_yet_valid"


def test_scope_matching_ignores_case_and_spacing() -> None:
    held = [cred(1, date(2025, 1, 1), date(2030, 1, 1), scope=" Mesotherapy ")]
    assert credential_status(held, TODAY).status == "valid"


def test_it_reminds_about_a_credential_ending_soon_without_renewal() -> None:
    ending = cred(1, date(2024, 1, 1), TODAY + timedelta(days=30))
    assert needs_renewal(ending, [ending], TODAY)
    assert not needs_renewal(ending, [ending], TODAY, within_days=29)


def test_it_does_not_remind_once_a_renewal_covers_the_day_after() -> None:
    ending = cred(1, date(2024, 1, 1), TODAY + timedelta(days=30))
    renewal = cred(2, TODAY + timedelta(days=31), TODAY + timedelta(days=800))
    gap = cred(3, TODAY + timedelta(days=40), TODAY + timedelta(days=800))
    assert not needs_renewal(ending, [ending, renewal], TODAY)
    assert needs_renewal(ending, [ending, gap], TODAY)
    other_scope = cred(4, TODAY, TODAY + timedelta(days=800), scope="prescribing")
    assert needs_renewal(ending, [ending, other_scope], TODAY)


def test_it_does_not_remind_about_expired_or_distant_credentials() -> None:
    assert not needs_renewal(cred(1, date(2020, 1, 1), TODAY - timedelta(days=1)), [], TODAY)
    assert not needs_renewal(cred(1, date(2020, 1, 1), TODAY + timedelta(days=61)), [], TODAY)
    assert needs_renewal(cred(1, date(2020, 1, 1), TODAY), [], TODAY)


@pytest.mark.parametrize("licence", ["", " ", "-123", "AB 12 ", "ab<script>", "x" * 81, "12/"])
def test_it_refuses_malformed_licence_numbers(licence: str) -> None:
    problem = qualification_problem(licence, date(2025, 1, 1), date(2026, 1, 1))
    if licence == "AB 12 ":
        assert problem is None  # surrounding spaces are trimmed
    else:
        assert problem is not None
        assert problem[0] == "licence_number"


@pytest.mark.parametrize("licence", ["1234567", "NMC-12A3456E", "GMC 7654321", "A", "RN/2024.17"])
def test_it_accepts_register_style_licence_numbers(licence: str) -> None:
    assert qualification_problem(licence, date(2025, 1, 1), date(2026, 1, 1)) is None


def test_a_credential_must_expire_after_it_becomes_valid() -> None:
    assert qualification_problem("123", date(2026, 1, 1), date(2026, 1, 1)) == (
        "expires_on",
        "A credential must expire after the day it becomes valid.",
    )
    assert qualification_problem("123", date(2026, 1, 2), date(2026, 1, 1)) is not None


days = st.integers(min_value=-2000, max_value=2000)


@st.composite
def credentials(draw: st.DrawFn) -> list[Credential]:
    count = draw(st.integers(min_value=0, max_value=5))
    held = []
    for index in range(count):
        start = TODAY + timedelta(days=draw(days))
        length = draw(st.integers(min_value=1, max_value=2000))
        scope = draw(st.sampled_from(["mesotherapy", "prescribing"]))
        held.append(cred(index + 1, start, start + timedelta(days=length), scope))
    return held


@given(credentials(), st.integers(min_value=0, max_value=400))
def test_may_treat_exactly_when_some_credential_of_the_scope_covers_the_day(
    held: list[Credential], within: int
) -> None:
    status = credential_status(held, TODAY, within_days=within)
    covering = [c for c in held if c.scope == "mesotherapy" and c.valid_from <= TODAY <= c.expires_on]
    assert status.may_treat == bool(covering)
    if covering:
        assert status.expires_on == max(c.expires_on for c in covering)
        assert (status.status == "expiring_soon") == ((status.expires_on - TODAY).days <= within)
    elif status.status != "none":
        assert status.credential_id in {c.id for c in held if c.scope == "mesotherapy"}


@given(credentials())
def test_a_practitioner_who_may_treat_today_is_never_reminded_about_a_credential_ending_later_than_the_window(
    held: list[Credential],
) -> None:
    for credential in held:
        if needs_renewal(credential, held, TODAY):
            assert TODAY <= credential.expires_on <= TODAY + timedelta(days=60)
