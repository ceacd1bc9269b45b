"""The treatment room in a browser: the consultation wizard through to a signed session charted
on the face chart, on a tablet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.support import PASSWORD, World
from tests.treatment.helpers import (
    add_credential,
    clinic_today,
    create_product,
    publish_treatment_consent,
    receive_lot,
    submit_intake,
    user_id,
)

pytestmark = pytest.mark.browser

API = "/api/v1"


def token(api: httpx.Client, email: str) -> dict[str, str]:
    response = api.post(f"{API}/auth/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def arrange(base_url: str, world: World) -> tuple[dict[str, str], dict[str, Any]]:
    """Through the API: the clinician's credential, the consent text, stock, and Ada's own intake."""
    today = clinic_today()
    with httpx.Client(base_url=base_url) as api:
        admin = token(api, world.admin)
        clinician = token(api, world.clinician)
        ada = token(api, world.patient_user)
        add_credential(
            api,  # type: ignore[arg-type]
            admin,
            user_id(api, clinician),  # type: ignore[arg-type]
            valid_from=today - timedelta(days=30),
            expires_on=today + timedelta(days=700),
        )
        publish_treatment_consent(api, admin, world.clinic_a)  # type: ignore[arg-type]
        product = create_product(api, clinician, world.clinic_a)  # type: ignore[arg-type]
        lot = receive_lot(api, clinician, product["id"], "L-2026-A", expires_on=today + timedelta(days=365))  # type: ignore[arg-type]
        submit_intake(api, ada, world.patient_a)  # type: ignore[arg-type]
    return clinician, lot


def draw_signature(page: Page) -> None:
    box = page.locator("#signature-pad").bounding_box()
    assert box is not None
    x, y = box["x"], box["y"]
    page.mouse.move(x + 30, y + 120)
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(x + 30 + step * 20, y + 120 - (40 if step % 2 else 0), steps=3)
    page.mouse.up()


def chart_ready(page: Page) -> None:
    """The face chart's script has attached its handlers (it runs after the page is shown)."""
    expect(page.locator("#face-chart[data-live]")).to_be_attached()


def test_a_clinician_takes_ada_from_consultation_to_a_signed_charted_session(
    page: Page, base_url: str, world: World
) -> None:
    clinician, lot = arrange(base_url, world)
    sign_in(page, world.clinician)

    # Intake review → screening
    page.goto(f"/patients/{world.patient_a}/consultation")
    expect(page.get_by_role("heading", name="Intake review")).to_be_visible()
    page.get_by_role("link", name="Continue to screening").click()
    page.get_by_role("button", name="Run screening").click()
    expect(page.locator("#screening-outcome")).to_have_text("Cleared for treatment")
    page.get_by_role("link", name="Continue to assessment").click()

    # Assessment on a scale: first a refusal that keeps what was typed, then the fix
    finding = page.get_by_role("group", name="Finding 1")
    finding.get_by_label("Concern").select_option("dehydration")
    finding.get_by_label("Zone").select_option("full_face")
    finding.get_by_label("Scale").select_option("vas_hydration")
    finding.get_by_label("Value").fill("30")
    page.get_by_role("button", name="Record assessment").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(finding.get_by_label("Value")).to_have_value("30")
    finding.get_by_label("Method (VAS)").fill("blinded photo panel")
    page.get_by_role("button", name="Record assessment").click()

    # Proposed formulation → decided → course
    expect(page.get_by_role("heading", name="Proposed formulation")).to_be_visible()
    page.get_by_role("button", name="Propose from the latest assessment").click()
    page.get_by_role("button", name="Decide formulation").click()
    expect(page.get_by_role("heading", name="Course plan")).to_be_visible()
    page.get_by_label("Sessions").fill("3")
    page.get_by_label("Starts on").fill(clinic_today().isoformat())
    page.get_by_role("button", name="Create course").click()

    # Ada signs on the tablet: typed name and a drawn signature
    expect(page.get_by_role("heading", name="Treatment consent")).to_be_visible()
    page.get_by_label("Patient's full name").fill("Ada Lovelace")
    expect(page.get_by_text("Drawing a signature needs JavaScript.")).to_be_hidden()  # the pad is live
    draw_signature(page)
    page.get_by_role("button", name="Sign consent").click()
    expect(page.locator("#consent-status")).to_have_text("valid")

    # The session: checklist with the numbing wait already honoured (cream on 25 minutes ago)
    page.get_by_role("button", name="Start next session").click()
    expect(page.get_by_role("heading", name="Session 1")).to_be_visible()
    page.get_by_role("button", name="Mark skin cleansed").click()
    applied = (datetime.now(UTC) - timedelta(minutes=25)).astimezone(ZoneInfo("Europe/London"))
    page.get_by_label("Cream").fill("EMLA 5% cream")
    page.get_by_label("Applied at (clinic time)").fill(applied.strftime("%H:%M"))
    page.get_by_role("button", name="Record numbing").click()
    expect(page.locator("#numbing-timer")).to_have_text("Ready to inject")

    # Face chart: three taps on the left cheek, totals live
    chart_ready(page)
    expect(page.locator("#zone-total")).to_have_text("0 points, 0 mL")
    cheek = page.get_by_role("button", name="Cheek, left")
    box = cheek.bounding_box()
    assert box is not None
    for dx, dy in ((0.5, 0.4), (0.4, 0.6), (0.6, 0.55)):
        page.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
    expect(page.locator("#zone-total")).to_have_text("3 points, 0.06 mL")
    expect(page.get_by_label("Zone", exact=True)).to_have_value("cheek:L")
    page.get_by_label("Technique").select_option("nappage")
    page.get_by_label("Depth (mm)").fill("2")
    page.get_by_label("Volume per point (mL)").fill("0.01")
    expect(page.locator("#live-total")).to_have_text("0.03 mL in 3 points")
    page.get_by_role("button", name="Record zone").click()

    # A second zone from the keyboard: the live total adds to what is recorded
    chart_ready(page)
    forehead = page.get_by_role("button", name="Forehead")
    forehead.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(page.locator("#live-total")).to_have_text("0.07 mL in 5 points")
    page.get_by_role("button", name="Record zone").click()

    page.get_by_label("Pain score (0 none – 10 worst)").select_option("3")
    page.get_by_role("button", name="Sign session").click()
    expect(page.locator("#session-status")).to_have_text("signed")

    with httpx.Client(base_url=base_url) as api:
        sessions = api.get(f"{API}/patients/{world.patient_a}/sessions", headers=clinician).json()
    assert len(sessions) == 1
    session = sessions[0]
    assert session["signed_at"] is not None
    assert session["pain_score"] == 3
    injections = {(i["zone"], i["side"]): i for i in session["injections"]}
    assert set(injections) == {("cheek", "L"), ("forehead", "M")}
    cheek_row = injections[("cheek", "L")]
    assert (cheek_row["technique"], cheek_row["points"], cheek_row["total_volume_ml"]) == ("nappage", 3, 0.03)
    assert cheek_row["lot_id"] == lot["id"]
    assert len(cheek_row["chart_points"]) == 3
    assert all(0.6 < x < 0.8 and 0.4 < y < 0.65 for x, y in cheek_row["chart_points"])
    assert injections[("forehead", "M")]["points"] == 2
    assert session["total_points"] == 5
    assert session["total_volume_ml"] == pytest.approx(0.07)
