"""Signing in from a browser, and what each persona lands on."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.support import World

pytestmark = pytest.mark.browser


def test_a_clinician_signs_in_and_sees_only_their_clinics_patients(page: Page, world: World) -> None:
    sign_in(page, world.clinician)
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    expect(page.get_by_role("link", name="Lovelace, Ada")).to_be_visible()
    expect(page.get_by_role("link", name="Noether, Emmy")).to_have_count(0)


def test_a_wrong_password_keeps_the_email_and_says_why(page: Page, world: World) -> None:
    sign_in(page, world.clinician, password="not the password at all")
    expect(page.get_by_role("alert")).to_contain_text("Email or password is incorrect")
    expect(page.get_by_label("Email")).to_have_value(world.clinician)


def test_a_patient_lands_on_her_own_record_on_a_phone(phone: Page, world: World) -> None:
    sign_in(phone, world.patient_user)
    expect(phone.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
