"""The intake questionnaire in the portal: what a patient sends is what the clinic reviews, and a
refused questionnaire comes back with the error next to the field and every answer kept."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import Allergy, Intake
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.support import World
from tests.treatment.helpers import clinic_today
from tests.web.conftest import HTML, post_form, sign_in, text


def test_ada_sends_her_intake_and_the_clinic_reviews_what_she_ticked(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.patient_user)
    assert "Needed before your first treatment" in text(client.get("/portal", headers=HTML).text)
    assert client.get("/portal/intake", headers=HTML).status_code == 200
    peel_on = (clinic_today() - timedelta(days=200)).isoformat()

    sent = post_form(
        client,
        "/portal/intake",
        csrf,
        pregnant="no",
        breastfeeding="no",
        conditions=["herpes_labialis_history", "epilepsy"],
        **{
            "allergies.0.substance": "Latex",
            "allergies.0.reaction": "itchy rash",
            "medications.0.name": "Aspirin",
            "medications.0.drug_class": "antiplatelet",
            "previous_procedures.0.procedure": "Glycolic peel",
            "previous_procedures.0.category": "peel",
            "previous_procedures.0.performed_on": peel_on,
            "previous_procedures.1.category": "other",  # the form's preset choice alone: a blank row
        },
        fitzpatrick="2",
        notes="Nervous about needles",
    )

    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/portal?intake=sent"
    db.rollback()
    intake = db.scalars(select(Intake).where(Intake.patient_id == world.patient_a)).one()
    assert (intake.source, intake.fitzpatrick) == ("patient", 2)
    assert intake.answers["conditions"] == ["epilepsy", "herpes_labialis_history"]
    allergies = db.scalars(select(Allergy.substance).where(Allergy.patient_id == world.patient_a))
    assert list(allergies) == ["Latex"]
    home = text(client.get(sent.headers["location"], headers=HTML).text)
    assert "your answers were sent to the clinic" in home
    assert "Last updated" in home

    sign_in(client, db, settings, world.clinician)
    review = text(client.get(f"/patients/{world.patient_a}/consultation/intake", headers=HTML).text)
    assert "by the patient in the portal" in review
    assert "Conditions Epilepsy; Cold sores (herpes) in the past" in review
    assert "Latex (itchy rash)" in review
    assert "Aspirin [Antiplatelet (for example aspirin, clopidogrel)]" in review
    assert f"{peel_on}: Glycolic peel (peel)" in review
    assert "Nervous about needles" in review


def test_a_refused_intake_marks_the_fields_and_keeps_every_answer(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.patient_user)

    refused = post_form(
        client,
        "/portal/intake",
        csrf,
        pregnant="no",
        skin_problems=["active_acne"],
        # The second allergy row: a reaction without what caused it.
        **{"allergies.1.reaction": "swelling", "medications.0.name": "Doxycycline"},
        notes="kept note",
    )

    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert 'id="i-breastfeeding-error">Please answer yes or no.' in refused.text
    assert 'id="i-allergies-1-substance-error">Please fill this in.' in refused.text
    assert 'id="i-pregnant-no" name="pregnant" value="no" checked' in refused.text
    assert 'value="active_acne" checked' in refused.text
    assert 'value="swelling"' in refused.text
    assert 'value="Doxycycline"' in refused.text
    assert "kept note" in refused.text
    assert '<details class="more" open>' in refused.text  # the row with the error is not folded away
    assert count(db, "intake") == 0


def test_a_medicine_stopping_before_it_started_is_refused_next_to_its_row(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.patient_user)
    today = clinic_today()

    refused = post_form(
        client,
        "/portal/intake",
        csrf,
        pregnant="no",
        breastfeeding="no",
        # Row 0 left blank: the service's "medications.0" is the form's row 1.
        **{
            "medications.1.name": "Prednisolone",
            "medications.1.started_on": (today - timedelta(days=10)).isoformat(),
            "medications.1.stopped_on": (today - timedelta(days=20)).isoformat(),
        },
    )

    assert refused.status_code == 422
    assert 'id="i-medications-1-stopped-on-error">A medication cannot stop before it started.' in refused.text
    assert count(db, "intake") == 0


def test_the_intake_page_is_for_patients(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.clinician)
    assert client.get("/portal/intake", headers=HTML).status_code == 403
