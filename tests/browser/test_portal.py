"""The patient's portal on a phone: an aftercare check-in with a red flag raises an escalation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.support import PASSWORD, World
from tests.treatment.helpers import created, ok, ready_patient, treat

pytestmark = pytest.mark.browser
API = "/api/v1"


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def token(api: httpx.Client, email: str) -> dict[str, str]:
    body = created(api.post(f"{API}/auth/tokens", json={"email": email, "password": PASSWORD}))
    return {"Authorization": f"Bearer {body['token']}"}


def test_ada_reports_dusky_skin_on_her_phone_and_the_clinic_gets_an_emergency(
    phone: Page, world: World, api: httpx.Client
) -> None:
    clinician = token(api, world.clinician)
    ready = ready_patient(api, world, clinician, token(api, world.admin))  # type: ignore[arg-type]
    treat(api, clinician, ready)  # type: ignore[arg-type]

    sign_in(phone, world.patient_user)
    phone.goto("/portal")
    phone.get_by_role("link", name="Day 1 check-in").click()
    expect(phone.get_by_role("heading", name="Day 1 check-in")).to_be_visible()
    phone.get_by_role("group", name="Redness").get_by_text("Moderate").click()
    phone.get_by_role("group", name="Swelling").get_by_text("Mild").click()
    phone.get_by_label("White, blotchy, grey or dusky skin").check()
    phone.get_by_role("button", name="Send").click()

    expect(phone.get_by_role("heading", name="Act now")).to_be_visible()
    expect(phone.get_by_role("status")).to_contain_text("Possible vascular compromise")
    queue = ok(api.get(f"{API}/escalations", headers=clinician))
    assert [(e["patient_id"], e["urgency"]) for e in queue] == [(world.patient_a, "emergency")]

    phone.goto("/portal")  # answered: the day-1 check-in is no longer offered
    expect(phone.get_by_role("link", name="Day 1 check-in")).to_have_count(0)
