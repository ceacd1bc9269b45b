"""The staff frame in a browser: an escalation raised by a patient's check-in reaches the
clinician's Today page and is resolved from the aftercare queue; an admin recalls a lot."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.support import PASSWORD, World
from tests.treatment.helpers import ok, ready_patient, treat

pytestmark = pytest.mark.browser

API = "/api/v1"


def token(api: httpx.Client, email: str) -> dict[str, str]:
    response = api.post(f"{API}/auth/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def treated(base_url: str, world: World, *, fever: bool) -> dict[str, Any]:
    """Through the API: Ada is treated today (lot L1) and, with ``fever``, answers her day-1
    check-in with a red flag."""
    with httpx.Client(base_url=base_url) as api:
        admin, clinician = token(api, world.admin), token(api, world.clinician)
        ready = ready_patient(api, world, clinician, admin)  # type: ignore[arg-type]
        session = treat(api, clinician, ready)  # type: ignore[arg-type]
        plan = ok(api.get(f"{API}/sessions/{session['id']}/aftercare", headers=clinician))
        result: dict[str, Any] = {"lot_id": ready.lot_id}
        if fever:
            day1 = next(c for c in plan["checkins"] if c["label"] == "day1")
            ada = token(api, world.patient_user)
            answered = ok(
                api.post(f"{API}/checkins/{day1['id']}", json={"red_flags": ["fever"]}, headers=ada)
            )
            result["escalation_id"] = answered["escalation"]["id"]
        return result


def test_a_clinician_sees_the_escalation_on_today_and_resolves_it(
    page: Page, base_url: str, world: World
) -> None:
    escalation_id = treated(base_url, world, fever=True)["escalation_id"]
    sign_in(page, world.clinician)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    escalations = page.get_by_role("region", name="Open escalations")
    expect(escalations).to_contain_text("1")
    escalations.get_by_role("link", name="Ada Lovelace").click()
    card = page.locator(f"#escalation-{escalation_id}")
    expect(card).to_contain_text("Red flags")
    expect(card.get_by_role("link", name="Call +44 7700 900123")).to_have_attribute(
        "href", "tel:+447700900123"
    )
    card.get_by_role("button", name="Acknowledge").click()
    card = page.locator(f"#escalation-{escalation_id}")
    expect(card).to_contain_text("acknowledged")
    card.get_by_label("What was done").fill("Phoned Ada; fever settled, reviewed in clinic.")
    card.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("No escalations are waiting.")).to_be_visible()
    page.get_by_role("link", name="Today").click()
    expect(page.get_by_text("No open escalations.")).to_be_visible()


def test_an_admin_recalls_a_lot_and_sees_who_received_it(page: Page, base_url: str, world: World) -> None:
    lot_id = treated(base_url, world, fever=False)["lot_id"]
    sign_in(page, world.admin)
    page.get_by_role("link", name="Inventory").click()
    page.get_by_label("Recall reason for lot L1").fill("Manufacturer recall notice 2026-11")
    page.locator(f"#lot-{lot_id}").get_by_role("button", name="Recall").click()
    expect(page.get_by_role("heading", name="Recipients of lot L1")).to_be_visible()
    expect(page.get_by_text("1 patient")).to_be_visible()
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_role("link", name="ada@example.org")).to_have_attribute(
        "href", "mailto:ada@example.org"
    )
