"""Signing by typing one's name on the consent forms (portal and tablet), instead of the pad."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.consent.typed_signature import typed_signature
from mesoclinic.models import ConsentRecord
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.support import World
from tests.treatment.helpers import publish_treatment_consent, token_headers
from tests.web.conftest import HTML, post_form, sign_in

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


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
    assert record.signature_method == "typed"
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
    assert "Draw the signature, or choose to sign by typing the name." in refused.text
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
