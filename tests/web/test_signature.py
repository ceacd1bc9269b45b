"""Signing by typing one's name: the drawing the consent rules accept, and the consent forms
(portal and tablet) that offer it instead of the signature pad."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.consent.rules import check_signature
from mesoclinic.models import ConsentRecord
from mesoclinic.settings import Settings
from mesoclinic.web.signature import FRAME_HEIGHT, FRAME_WIDTH, typed_signature
from tests.conftest import count
from tests.support import World
from tests.treatment.helpers import publish_treatment_consent, token_headers
from tests.web.conftest import HTML, post_form, sign_in

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@pytest.mark.parametrize(
    "name", ["Ada Lovelace", "José-María O’Neil", "Zoë Ødegård", "李 小龍", "Dr. Mary Somerville"]
)
def test_a_typed_name_is_drawn_as_a_signature_the_consent_rules_store_unchanged(name: str) -> None:
    path = typed_signature(name)
    checked = check_signature(path)
    assert checked.problem is None
    assert checked.canonical == path  # what is stored is exactly the drawing: it can be recognised


@given(st.text(alphabet=st.characters(categories=["L", "Zs", "Pd", "Po"]), max_size=200))
def test_any_name_with_two_letters_is_accepted_and_drawn_inside_the_pad(name: str) -> None:
    assume(sum(c.isalpha() for c in name) >= 2)
    path = typed_signature(name)
    assert check_signature(path).problem is None
    numbers = [float(n) for n in NUMBER.findall(path)]
    assert all(0 <= x <= FRAME_WIDTH for x in numbers[0::2])
    assert all(0 <= y <= FRAME_HEIGHT for y in numbers[1::2])


def test_the_drawing_depends_on_the_name_only_not_on_spacing_or_case() -> None:
    assert typed_signature("ada   lovelace ") == typed_signature("Ada Lovelace")
    assert typed_signature("Ada Lovelace") != typed_signature("Ada Byron")
    assert typed_signature("   ") == ""


@pytest.fixture
def text_id(client: TestClient, db: Session, settings: Settings, world: World) -> int:
    return int(
        publish_treatment_consent(client, token_headers(db, settings, world.admin), world.clinic_a)["id"]
    )


def test_ada_signs_in_the_portal_by_typing_her_name(
    client: TestClient, db: Session, settings: Settings, world: World, text_id: int
) -> None:
    csrf = sign_in(client, db, settings, world.patient_user)
    form = {"consent_text_id": str(text_id), "sign_by_typing": "yes"}

    wrong = post_form(client, "/portal/consent", csrf, **form, typed_name="Ada Byron")
    assert wrong.status_code == 422
    assert f'id="typed-{text_id}-error" role="alert">The typed name must be' in wrong.text
    assert 'value="Ada Byron"' in wrong.text
    assert 'name="sign_by_typing" value="yes" class="sign-by-typing" checked' in wrong.text
    assert count(db, "consent_record") == 0

    signed = post_form(client, "/portal/consent", csrf, **form, typed_name="Ada  Lovelace")
    assert signed.status_code == 303, signed.text
    db.rollback()
    record = db.scalars(select(ConsentRecord)).one()
    assert (record.typed_name, record.witnessed_by_user_id) == ("Ada Lovelace", None)
    assert record.signature_svg_path == typed_signature("Ada Lovelace")
    page = client.get("/portal/consent", headers=HTML).text
    assert "You have signed this version." in page
    assert f'<path d="{record.signature_svg_path}"' in page  # she sees what was stored


def test_the_portal_asks_for_a_signature_when_there_is_neither_a_drawing_nor_typing(
    client: TestClient, db: Session, settings: Settings, world: World, text_id: int
) -> None:
    csrf = sign_in(client, db, settings, world.patient_user)
    refused = post_form(
        client, "/portal/consent", csrf, consent_text_id=str(text_id), typed_name="Ada Lovelace"
    )
    assert refused.status_code == 422
    assert "Sign in the box, or choose to sign by typing your name." in refused.text
    assert count(db, "consent_record") == 0


def test_a_patient_signs_on_the_tablet_by_typing_witnessed_by_the_clinician(
    client: TestClient, db: Session, settings: Settings, world: World, text_id: int
) -> None:
    csrf = sign_in(client, db, settings, world.clinician)
    signed = post_form(
        client,
        f"/patients/{world.patient_a}/consultation/consent",
        csrf,
        consent_text_id=str(text_id),
        typed_name="Ada Lovelace",
        sign_by_typing="yes",
        signature_svg_path="",
    )
    assert signed.status_code == 303, signed.text
    db.rollback()
    record = db.scalars(select(ConsentRecord)).one()
    assert record.signature_svg_path == typed_signature("Ada Lovelace")
    assert record.witnessed_by_user_id is not None
