"""The pure decisions of messaging and the iCalendar writer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.messaging import rules
from mesoclinic.messaging.rules import Channel, ContactPrefs, Kind
from mesoclinic.scheduling import ical

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_it_sends_no_reminder_to_a_patient_who_opted_out() -> None:
    routing = rules.route(Kind.APPOINTMENT_REMINDER, ContactPrefs(reminders_opt_out=True), "a@x.org", "+44")
    assert routing.targets == ()
    assert routing.refused == rules.NO_REMINDERS


@pytest.mark.parametrize("kind", sorted(rules.PATIENT_REMINDER_KINDS))
def test_every_patient_reminder_kind_obeys_the_opt_out(kind: Kind) -> None:
    assert rules.route(kind, ContactPrefs(reminders_opt_out=True), "a@x.org", "").refused is not None


def test_a_patient_without_preference_gets_email_only() -> None:
    routing = rules.route(Kind.MAINTENANCE_DUE, ContactPrefs(), " a@x.org ", "+44 7700 900123")
    assert routing.targets == ((Channel.EMAIL, "a@x.org"),)


def test_it_uses_sms_only_when_allowed_and_a_phone_exists() -> None:
    both = rules.route(Kind.AFTERCARE_CHECKIN, ContactPrefs(sms_allowed=True), "a@x.org", "+44 1")
    assert both.targets == ((Channel.EMAIL, "a@x.org"), (Channel.SMS, "+44 1"))
    no_phone = rules.route(
        Kind.AFTERCARE_CHECKIN, ContactPrefs(email_allowed=False, sms_allowed=True), "a@x", ""
    )
    assert no_phone.refused == rules.NO_CHANNEL


def test_it_refuses_when_no_allowed_channel_has_an_address() -> None:
    assert rules.route(Kind.MAINTENANCE_DUE, ContactPrefs(), "  ", "+44").refused == rules.NO_CHANNEL


@pytest.mark.parametrize(
    ("days_left", "milestone"),
    [(61, None), (60, 60), (59, 60), (31, 60), (30, 30), (8, 30), (7, 7), (0, 7), (-1, None)],
)
def test_credential_milestones_are_60_30_and_7_days(days_left: int, milestone: int | None) -> None:
    assert rules.credential_milestone(days_left) == milestone


@given(st.integers(min_value=-1000, max_value=1000))
def test_a_credential_milestone_is_the_nearest_one_not_yet_passed(days_left: int) -> None:
    milestone = rules.credential_milestone(days_left)
    if milestone is None:
        assert days_left < 0 or days_left > max(rules.CREDENTIAL_MILESTONES)
    else:
        assert days_left <= milestone
        assert all(m < days_left or m >= milestone for m in rules.CREDENTIAL_MILESTONES)


def test_the_reminder_goes_out_at_nine_on_the_day_before() -> None:
    day = rules.reminder_day(date(2026, 7, 2))
    assert day == date(2026, 7, 1)
    early = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 00:30 in London (BST)
    assert rules.send_at(day, "Europe/London", early) == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    late = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    assert rules.send_at(day, "Europe/London", late) == late


def test_a_local_day_spans_23_hours_when_clocks_go_forward() -> None:
    start, end = rules.local_day_bounds(date(2026, 3, 29), "Europe/London")
    assert start == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


def test_local_today_follows_the_clinic_time_zone() -> None:
    moment = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert rules.local_today(moment, "Europe/London") == date(2026, 11, 25)
    assert rules.local_today(moment, "Asia/Tokyo") == date(2026, 11, 26)


def test_prompts_catch_up_for_two_weeks_but_never_ahead() -> None:
    today = date(2026, 11, 25)
    assert rules.within_catch_up(today, today)
    assert rules.within_catch_up(today - timedelta(days=rules.CATCH_UP_DAYS), today)
    assert not rules.within_catch_up(today - timedelta(days=rules.CATCH_UP_DAYS + 1), today)
    assert not rules.within_catch_up(today + timedelta(days=1), today)


def test_maintenance_status_is_overdue_due_or_upcoming() -> None:
    today = date(2026, 11, 25)
    assert rules.maintenance_status(today - timedelta(days=1), today) == "overdue"
    assert rules.maintenance_status(today, today) == "due"
    assert rules.maintenance_status(today + timedelta(days=1), today) == "upcoming"


@given(st.integers(min_value=1, max_value=10_000))
def test_retry_delays_double_and_stay_capped(attempts: int) -> None:
    delay = rules.retry_delay(attempts)
    assert rules.RETRY_BASE <= delay <= rules.RETRY_CAP
    assert rules.retry_delay(attempts + 1) >= delay
    if delay * 2 <= rules.RETRY_CAP:
        assert rules.retry_delay(attempts + 1) == delay * 2


def test_it_gives_up_after_the_last_attempt() -> None:
    assert rules.after_failure(1, 3, NOW) == rules.AfterFailure("pending", NOW + timedelta(minutes=1))
    assert rules.after_failure(2, 3, NOW) == rules.AfterFailure("pending", NOW + timedelta(minutes=2))
    assert rules.after_failure(3, 3, NOW).status == "failed"


# --- iCalendar ----------------------------------------------------------------------------------


def event(**overrides: object) -> ical.IcsEvent:
    values: dict[str, object] = {
        "uid": "appointment-1@mesoclinic",
        "starts_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        "ends_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        "summary": "Appointment",
    }
    values.update(overrides)
    return ical.IcsEvent(**values)  # type: ignore[arg-type]


def test_the_calendar_uses_crlf_and_utc_times() -> None:
    text = ical.render_calendar("Feed", [event()], NOW)
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = ical.unfold(text)
    assert "DTSTART:20261201T090000Z" in lines
    assert "DTEND:20261201T093000Z" in lines
    assert "DTSTAMP:20261125T120000Z" in lines
    assert "STATUS:CONFIRMED" in lines


def test_a_cancelled_appointment_is_marked_cancelled() -> None:
    assert "STATUS:CANCELLED" in ical.unfold(ical.render_calendar("F", [event(cancelled=True)], NOW))


def test_it_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        ical.format_utc(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_text_is_escaped() -> None:
    assert ical.escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=400))
def test_long_lines_fold_within_75_octets_and_unfold_to_the_same_text(summary: str) -> None:
    text = ical.render_calendar("Feed", [event(summary=summary)], NOW)
    for physical in text.split("\r\n")[:-1]:
        assert len(physical.encode()) <= 75
    summaries = [line for line in ical.unfold(text) if line.startswith("SUMMARY:")]
    assert [ical.unescape_text(s.removeprefix("SUMMARY:")) for s in summaries] == [summary]


@given(st.text(max_size=200))
def test_escaping_round_trips(value: str) -> None:
    expected = value.replace("\r\n", "\n").replace("\r", "\n")
    assert ical.unescape_text(ical.escape_text(value)) == expected
