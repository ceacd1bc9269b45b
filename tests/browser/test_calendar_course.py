"""The receptionist books a whole course from the proposed slots, then moves a session: refused
while it would break the course's interval window, accepted with the later session re-planned,
and the move is in the appointment's history."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.arrange import API, open_for_sessions, token
from tests.browser.conftest import sign_in
from tests.support import World
from tests.treatment.helpers import ok

pytestmark = pytest.mark.browser
LONDON = ZoneInfo("Europe/London")


def test_a_receptionist_books_adas_course_from_the_proposals_and_moves_a_session(
    page: Page, world: World, api: httpx.Client
) -> None:
    ready, session_type = open_for_sessions(api, world)
    course = ok(api.get(f"{API}/courses/{ready.course_id}", headers=token(api, world.clinician)))
    sign_in(page, world.receptionist)

    page.goto(f"/calendar/courses/{ready.course_id}")
    page.get_by_label("Appointment type").select_option(str(session_type["id"]))
    page.get_by_role("button", name="Propose slots").click()
    proposed = page.get_by_role("group", name="Proposed sessions (3 left to book)")
    expect(proposed.get_by_role("checkbox")).to_have_count(3)
    slots = [
        datetime.fromisoformat(value.split("|")[0]).astimezone(LONDON)
        for value in proposed.get_by_role("checkbox").evaluate_all("boxes => boxes.map(b => b.value)")
    ]
    page.get_by_role("button", name="Book these sessions").click()

    expect(page).to_have_url(f"{page.url.split('/calendar')[0]}/calendar?date={slots[0].date().isoformat()}")
    expect(page.get_by_role("link", name="Lovelace, Ada")).to_contain_text("Mesotherapy session")

    # Session 2 to the end of its window after session 1: session 3 would then come too soon.
    page.goto(f"/calendar?date={slots[1].date().isoformat()}")
    page.get_by_role("link", name="Lovelace, Ada").click()
    expect(page.get_by_role("heading", name="Lovelace, Ada")).to_be_visible()
    moved = datetime.combine(
        slots[0].date() + timedelta(days=course["interval_max_days"]), slots[1].time(), tzinfo=LONDON
    )
    page.get_by_label("New time").fill(moved.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Reason").fill("Ada is away that week")
    page.get_by_role("button", name="Reschedule").click()
    expect(page.get_by_role("alert")).to_contain_text("out of their interval window")
    expect(page.get_by_label("New time")).to_have_value(moved.strftime("%Y-%m-%dT%H:%M"))
    expect(page.get_by_label("Reason")).to_have_value("Ada is away that week")

    page.get_by_label("If the course's later sessions no longer fit, move them too").check()
    page.get_by_role("button", name="Reschedule").click()
    expect(page).to_have_url(f"{page.url.split('/calendar')[0]}/calendar?date={moved.date().isoformat()}")
    page.get_by_role("link", name="Lovelace, Ada").click()
    history = page.get_by_role("list", name="History")
    expect(history.get_by_role("listitem")).to_have_count(2)
    expect(history.get_by_role("listitem").last).to_contain_text(
        f"rescheduled for {moved.strftime('%a %d %b %H:%M')}: Ada is away that week"
    )
    page.get_by_role("link", name="Course sessions").click()
    expect(page.get_by_role("heading", name="Book the course's sessions")).to_be_visible()
