"""Photos in the browser: a clinician on the tablet uploads a photo (the previous visit's ghost as a
guide), reads its quality feedback, analyses it with progress shown while the analysis runs, and
compares the two visits with the slider from the keyboard; Ada sees her before/after on her phone."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.arrange import API, analysed_photo, face_jpeg, photo_consent, token
from tests.browser.conftest import sign_in
from tests.support import World
from tests.treatment.helpers import ok

pytestmark = pytest.mark.browser

EARLIER = (date.today() - timedelta(days=42)).isoformat()


def loaded(page: Page, selector: str) -> list[int]:
    """Natural widths of the images matching ``selector`` once all have loaded (0: failed to)."""
    page.wait_for_function(
        "selector => [...document.querySelectorAll(selector)].every(image => image.complete)", arg=selector
    )
    widths: list[int] = page.locator(selector).evaluate_all("images => images.map(i => i.naturalWidth)")
    return widths


def test_a_clinician_uploads_analyses_with_progress_and_compares_two_visits_with_the_slider(
    page: Page, world: World, api: httpx.Client, tmp_path: Path
) -> None:
    photo_consent(api, world)
    clinician = token(api, world.clinician)
    earlier = analysed_photo(api, clinician, world.patient_a, face_jpeg(red_cast=True), EARLIER)
    face = tmp_path / "face.jpg"
    face.write_bytes(face_jpeg())
    sign_in(page, world.clinician)
    page.goto(f"/patients/{world.patient_a}")
    page.get_by_role("link", name="Photos: capture, analysis, before and after").click()

    # The previous visit's front photo, as a ghost with its face outline, guides the capture.
    capture = page.get_by_role("region", name="Take or upload a photo")
    expect(capture.get_by_role("img", name=re.compile(r"^Guide: the front photo of"))).to_be_visible()
    expect(capture.locator(".guides .outline")).to_have_attribute("points", re.compile(r"0\.\d+,0\.\d+ "))
    expect(capture.get_by_label("View")).to_have_value("front")
    capture.get_by_label("Lighting").select_option("flash")
    capture.get_by_label("No make-up").check()
    capture.get_by_label("Photo (JPEG, PNG or HEIC)").set_input_files(face)
    capture.get_by_role("button", name="Upload photo").click()

    feedback = page.get_by_role("region", name=re.compile("Retake advised|Photo saved"))
    expect(feedback).to_be_visible()
    photo_id = int(re.search(r"uploaded=(\d+)", page.url).group(1))  # type: ignore[union-attr]
    photo = ok(api.get(f"{API}/photos/{photo_id}", headers=clinician))
    for advice in photo["capture_advice"]:
        expect(feedback).to_contain_text(advice["advice"])
    expect(feedback.get_by_role("heading")).to_have_text(
        "Retake advised" if photo["retake_advised"] else re.compile("^Photo saved")
    )

    # Analyse: while the request runs, the button is busy and the progress and status say so.
    card = page.locator(f"#photo-{photo_id}")
    seen: dict[str, Any] = {}

    def while_running(route: Route) -> None:
        seen["status"] = card.get_by_role("status").inner_text()
        seen["progress"] = card.locator("progress").is_visible()
        seen["button"] = card.get_by_role("button", name="Analyse").is_disabled()
        route.continue_()

    page.route(f"**{API}/photos/{photo_id}/analysis", while_running)
    card.get_by_role("button", name="Analyse").click()
    expect(page.get_by_role("status").filter(has_text="photo of")).to_contain_text("is analysed")
    assert seen == {
        "status": "Analysing: finding the face, aligning it and measuring every zone…",
        "progress": True,
        "button": True,
    }
    expect(card.get_by_text("Analysed", exact=True)).to_be_visible()

    # Compare the two visits: the slider moves from the keyboard, the table judges every change.
    compare = page.get_by_role("region", name="Compare two visits")
    expect(compare.get_by_label("Before (earlier visit)")).to_have_value(str(earlier))
    expect(compare.get_by_label("After (later visit)")).to_have_value(str(photo_id))
    compare.get_by_role("button", name="Compare").click()
    divider = page.get_by_role("slider", name="Before / after divider")
    expect(divider).to_have_value("50")
    divider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    expect(divider).to_have_value("40")
    expect(divider).to_have_attribute("aria-valuetext", "40% before, 60% after")
    expect(page.locator(".ba-after")).to_have_css("clip-path", "inset(0px 0px 0px 40%)")
    page.keyboard.press("End")
    expect(divider).to_have_value("100")
    expect(page.locator(".ba-divider")).to_be_visible()
    widths = loaded(page, ".ba img")
    assert len(widths) == 2
    assert widths[0] == widths[1] > 0  # the aligned photos share one frame
    table = page.get_by_role("table")
    expect(table.locator("tbody")).to_have_count(12)
    # A cheek: her fringe is clipped to black over the forehead in these photos, so it is not judged.
    cheek = table.locator("tbody").filter(has_text="Cheek, left")
    expect(cheek.get_by_role("row").filter(has_text="Redness")).to_contain_text("Improved")
    expect(page.get_by_role("region", name="In short")).to_contain_text("less redness")


def test_ada_sees_her_before_and_after_and_what_it_means_on_her_phone(
    phone: Page, world: World, api: httpx.Client
) -> None:
    photo_consent(api, world)
    clinician = token(api, world.clinician)
    analysed_photo(api, clinician, world.patient_a, face_jpeg(red_cast=True), EARLIER)
    analysed_photo(api, clinician, world.patient_a, face_jpeg(), date.today().isoformat())
    sign_in(phone, world.patient_user)
    phone.goto("/portal")
    phone.get_by_role("link", name="My photos: before and after").click()

    outcome = phone.get_by_role("region", name="Does it work for me?")
    expect(outcome.locator(".answer")).to_have_text(re.compile(r"^(Yes, measurably|Partly): "))
    expect(outcome).to_contain_text("less redness")
    divider = phone.get_by_role("slider", name="Before / after divider")
    divider.focus()
    phone.keyboard.press("Home")
    expect(divider).to_have_value("0")
    expect(phone.locator(".ba-after")).to_have_css("clip-path", "inset(0px 0px 0px 0%)")
    widths = loaded(phone, ".ba img")
    assert len(widths) == 2
    assert min(widths) > 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
