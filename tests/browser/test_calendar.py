"""The receptionist's calendar: click a free slot, book a patient, see the appointment appear, drag it
to another time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.support import PASSWORD, World
from tests.treatment.helpers import add_credential, clinic_today, created, ok

pytestmark = pytest.mark.browser
API = "/api/v1"


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def token(api: httpx.Client, email: str) -> dict[str, str]:
    body = created(api.post(f"{API}/auth/tokens", json={"email": email, "password": PASSWORD}))
    return {"Authorization": f"Bearer {body['token']}"}


def open_clinic_a(api: httpx.Client, world: World) -> str:
    """Clinic A open 09:00-17:00 every day with one room and a 30-minute consultation, and the
    clinician qualified and working 09:00-13:00 every day. Returns the clinician's name."""
    admin = token(api, world.admin)
    clinician = ok(api.get(f"{API}/me", headers=token(api, world.clinician)))
    today = clinic_today()
    add_credential(
        api,  # type: ignore[arg-type]
        admin,
        clinician["id"],
        valid_from=today - timedelta(days=30),
        expires_on=today + timedelta(days=700),
    )
    created(api.post(f"{API}/clinics/{world.clinic_a}/rooms", json={"name": "Room 1"}, headers=admin))
    created(
        api.post(
            f"{API}/clinics/{world.clinic_a}/appointment-types",
            json={"code": "consultation", "name": "Consultation", "duration_minutes": 30},
            headers=admin,
        )
    )
    for weekday in range(7):
        created(
            api.post(
                f"{API}/clinics/{world.clinic_a}/opening-hours",
                json={"weekday": weekday, "opens": "09:00", "closes": "17:00"},
                headers=admin,
            )
        )
        created(
            api.post(
                f"{API}/practitioners/{clinician['id']}/working-hours",
                json={"clinic_id": world.clinic_a, "weekday": weekday, "starts": "09:00", "ends": "13:00"},
                headers=admin,
            )
        )
    return str(clinician["full_name"])


def test_a_receptionist_books_ada_into_a_free_slot_and_sees_it_in_the_day(
    page: Page, world: World, api: httpx.Client
) -> None:
    clinician = open_clinic_a(api, world)
    tomorrow = clinic_today() + timedelta(days=1)
    sign_in(page, world.receptionist)
    page.goto(f"/calendar?date={tomorrow.isoformat()}")
    expect(page.get_by_role("columnheader", name=clinician)).to_be_visible()
    expect(page.get_by_role("link", name="Book 13:00")).to_have_count(0)  # after working hours

    page.get_by_role("link", name=f"Book 10:30 with {clinician}").click()
    expect(page.get_by_label("Starts at")).to_have_value(f"{tomorrow.isoformat()}T10:30")
    page.get_by_label("Find patient").fill("Lovelace")
    page.get_by_role("button", name="Search").click()
    page.get_by_label("Patient", exact=True).select_option(str(world.patient_a))
    page.get_by_role("button", name="Book").click()

    expect(page).to_have_url(f"{page.url.split('/calendar')[0]}/calendar?date={tomorrow.isoformat()}")
    booked = page.get_by_role("link", name="Lovelace, Ada")
    expect(booked).to_contain_text("10:30–11:00")
    expect(booked).to_contain_text("Consultation")
    expect(page.get_by_role("link", name=f"Book 10:30 with {clinician}")).to_have_count(0)
    expect(page.get_by_role("link", name=f"Book 11:00 with {clinician}")).to_be_visible()

    booked.drag_to(page.get_by_role("link", name=f"Book 12:00 with {clinician}"))  # move by dragging
    expect(booked).to_contain_text("12:00–12:30")
    expect(page.get_by_role("link", name=f"Book 10:30 with {clinician}")).to_be_visible()

    booked.click()
    expect(page.get_by_role("listitem").filter(has_text="rescheduled")).to_contain_text(
        "Moved in the calendar"
    )
    page.get_by_role("button", name="Cancel appointment").click()
    expect(page.get_by_role("link", name=f"Book 10:30 with {clinician}")).to_be_visible()
