"""Ada's own day on her phone: the intake questionnaire (a refusal keeps her answers), booking the
next session of her course, and signing consent by drawing and, keyboard only, by typing her name."""

from __future__ import annotations

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, expect

from mesoclinic.consent.typed_signature import typed_signature
from tests.browser.arrange import API, open_for_sessions, token
from tests.browser.conftest import sign_in
from tests.support import World
from tests.treatment.helpers import created, ok, publish_treatment_consent

pytestmark = pytest.mark.browser


def test_ada_fills_in_her_intake_on_her_phone_after_a_refusal(
    phone: Page, world: World, api: httpx.Client
) -> None:
    sign_in(phone, world.patient_user)
    phone.goto("/portal")
    expect(phone.get_by_text("Needed before your first treatment.")).to_be_visible()
    phone.get_by_role("link", name="Fill in your health questionnaire").click()

    phone.get_by_role("group", name="Are you pregnant, or could you be?").get_by_text(
        "No", exact=True
    ).click()
    phone.get_by_label("Cold sores (herpes) in the past").check()
    phone.get_by_label("Allergy 1: what are you allergic to?").fill("Latex")
    medicine = phone.get_by_role("group", name="Medicine 1")
    medicine.get_by_label("Medicine 1: name").fill("Aspirin")
    medicine.get_by_label("What kind of medicine is it?").select_option("antiplatelet")
    phone.get_by_role("button", name="Send my answers").click()

    breastfeeding = phone.get_by_role("group", name="Are you breastfeeding?")
    expect(breastfeeding).to_contain_text("Please answer yes or no.")
    expect(phone.get_by_label("Cold sores (herpes) in the past")).to_be_checked()
    expect(phone.get_by_label("Allergy 1: what are you allergic to?")).to_have_value("Latex")
    expect(medicine.get_by_label("What kind of medicine is it?")).to_have_value("antiplatelet")
    breastfeeding.get_by_text("No", exact=True).click()
    phone.get_by_role("button", name="Send my answers").click()

    expect(phone.get_by_role("status")).to_contain_text("your answers were sent to the clinic")
    expect(phone.get_by_role("link", name="Update your health questionnaire")).to_be_visible()
    clinician = token(api, world.clinician)
    intake = ok(api.get(f"{API}/patients/{world.patient_a}/intakes/latest", headers=clinician))
    answers = intake["answers"]
    assert (intake["source"], answers["pregnant"], answers["breastfeeding"]) == ("patient", False, False)
    assert answers["conditions"] == ["herpes_labialis_history"]
    assert [(m["name"], m["drug_class"]) for m in answers["medications"]] == [("Aspirin", "antiplatelet")]


def test_ada_books_the_next_session_of_her_course_on_her_phone(
    phone: Page, world: World, api: httpx.Client
) -> None:
    open_for_sessions(api, world)
    sign_in(phone, world.patient_user)
    phone.goto("/portal")
    expect(phone.get_by_text("No upcoming appointments.")).to_be_visible()
    phone.get_by_role("link", name="Book your next session").click()

    times = phone.get_by_role("group", name="Choose a time").get_by_role("radio")
    expect(times.first).to_be_checked()
    chosen = phone.get_by_role("group", name="Choose a time").locator("label").first.inner_text()
    phone.get_by_role("button", name="Book").click()

    appointments = phone.get_by_role("region", name="Your appointments")
    expect(appointments).to_contain_text("(session 1)")
    expect(appointments).to_contain_text("Mesotherapy session")
    day, time = chosen.split(" · ")[0].split(", ")  # "Tue 09 Dec, 10:00"
    expect(appointments).to_contain_text(f"{day} ")  # "Tue 09 Dec 2026, 10:00"
    expect(appointments).to_contain_text(f", {time}")


def test_ada_signs_one_consent_by_drawing_and_one_by_typing_with_the_keyboard_only(
    phone: Page, world: World, api: httpx.Client
) -> None:
    admin = token(api, world.admin)
    treatment = publish_treatment_consent(api, admin, world.clinic_a)  # type: ignore[arg-type]
    photo = created(
        api.post(
            f"{API}/clinics/{world.clinic_a}/consent-texts",
            json={"kind": "photo", "title": "Consent to photographs", "body": "We photograph your face " * 3},
            headers=admin,
        )
    )
    sign_in(phone, world.patient_user)
    phone.goto("/portal/consent")

    # Drawn: the treatment consent, with a finger (the mouse here) on the pad.
    form = phone.locator("form.signature-form").filter(has=phone.locator(f"#pad-{treatment['id']}"))
    form.get_by_label("Your full name").fill("Ada Lovelace")
    pad = form.locator("canvas.signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    phone.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
    phone.mouse.down()
    for step in range(1, 12):
        phone.mouse.move(
            box["x"] + 20 + step * 22, box["y"] + box["height"] * (0.3 if step % 2 else 0.7), steps=3
        )
    phone.mouse.up()
    form.get_by_role("button", name="I agree and sign").click()
    expect(phone.get_by_text("You have signed this version.")).to_have_count(1)

    # Typed: the photo consent, from the keyboard alone.
    name_field = phone.locator(f"#typed-{photo['id']}")
    for _ in range(60):
        if name_field.evaluate("field => field === document.activeElement"):
            break
        phone.keyboard.press("Tab")
    expect(name_field).to_be_focused()
    phone.keyboard.type("Ada Lovelace")
    phone.keyboard.press("Tab")
    by_typing = phone.get_by_label("Sign by typing my name (no drawing needed)")
    expect(by_typing).to_be_focused()
    phone.keyboard.press("Space")
    expect(by_typing).to_be_checked()
    expect(phone.locator(f"#pad-{photo['id']}")).to_be_hidden()
    phone.keyboard.press("Tab")  # the hidden pad and its Clear button are skipped
    expect(phone.get_by_role("button", name="I agree and sign")).to_be_focused()
    phone.keyboard.press("Enter")

    expect(phone.get_by_text("You have signed this version.")).to_have_count(2)
    expect(phone.get_by_role("img", name="Your signature, Ada Lovelace")).to_have_count(2)
    overview = ok(api.get(f"{API}/patients/{world.patient_a}/consents", headers=token(api, world.clinician)))
    signatures = {r["kind"]: r["signature_svg_path"] for r in overview["records"]}
    assert signatures["photo"] == typed_signature("Ada Lovelace")
    assert signatures["treatment"] != typed_signature("Ada Lovelace")
    assert signatures["treatment"].startswith("M ")
    assert {r["kind"]: r["signature_method"] for r in overview["records"]} == {
        "photo": "typed",
        "treatment": "drawn",
    }
