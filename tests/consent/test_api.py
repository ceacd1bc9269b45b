"""Consent texts, signatures and withdrawals over the API, and the gate a session passes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.consent.service import require_valid_consent, valid_consent
from mesoclinic.consent.typed_signature import typed_signature
from mesoclinic.errors import Conflict
from mesoclinic.models import AuditEvent, ConsentRecord, ConsentText
from tests.conftest import count
from tests.consent.conftest import SIGNATURE, Texts, signing, user_id
from tests.support import World, bearer

NEW_TREATMENT_TEXT = {
    "kind": "treatment",
    "title": "Consent to facial mesotherapy (v2)",
    "body": "Revised wording after the clinical lead's review: expected reactions, red flags, results.",
}


def sign(client: TestClient, email: str, patient_id: int, text_id: int, **kw: str) -> dict[str, object]:
    response = client.post(
        f"/api/v1/patients/{patient_id}/consents", json=signing(text_id, **kw), headers=bearer(client, email)
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


# --- texts ---------------------------------------------------------------------------------------


def test_an_administrator_publishes_numbered_versions_that_supersede_each_other(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    owner = bearer(client, world.admin)
    url = f"/api/v1/clinics/{world.clinic_a}/consent-texts"
    response = client.post(url, json=NEW_TREATMENT_TEXT, headers=owner)
    assert response.status_code == 201, response.text
    assert (response.json()["version"], response.json()["current"]) == (2, True)

    listed = client.get(url, params={"kind": "treatment"}, headers=owner).json()
    assert [(t["version"], t["current"]) for t in listed] == [(2, True), (1, False)]
    assert db.get_one(ConsentText, texts.treatment_a).title == "Consent to facial mesotherapy"  # unchanged
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "consent_text.published")).all()[-1]
    assert event.details == {"kind": "treatment", "version": 2}
    everything = client.get(url, headers=owner).json()
    assert {t["kind"] for t in everything if t["current"]} == {"treatment", "photo", "marketing"}


def test_only_an_administrator_of_the_clinic_publishes(client: TestClient, world: World, db: Session) -> None:
    url = f"/api/v1/clinics/{world.clinic_a}/consent-texts"
    for email, status in [(world.clinician, 403), (world.receptionist, 403), (world.colleague, 404)]:
        assert client.post(url, json=NEW_TREATMENT_TEXT, headers=bearer(client, email)).status_code == status
    bad = client.post(url, json={**NEW_TREATMENT_TEXT, "version": 9}, headers=bearer(client, world.admin))
    assert bad.status_code == 422
    assert count(db, "consent_text") == 0


def test_a_patient_reads_the_texts_of_their_own_clinic_only(
    client: TestClient, world: World, texts: Texts
) -> None:
    headers = bearer(client, world.patient_user)
    own = client.get(f"/api/v1/clinics/{world.clinic_a}/consent-texts?kind=photo", headers=headers)
    assert [t["id"] for t in own.json()] == [texts.photo_a]
    assert (
        "redness"
        in client.get(f"/api/v1/clinics/{world.clinic_a}/consent-texts", headers=headers).text.lower()
    )
    assert client.get(f"/api/v1/clinics/{world.clinic_b}/consent-texts", headers=headers).status_code == 404


# --- signing ---------------------------------------------------------------------------------------


def test_a_patient_signs_in_the_portal_and_the_signature_is_stored_canonically(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    body = sign(
        client, world.patient_user, world.patient_a, texts.treatment_a, signature="M12,40 " + SIGNATURE[8:]
    )
    record = db.get_one(ConsentRecord, body["id"])
    assert (record.kind, record.witnessed_by_user_id, record.typed_name) == (
        "treatment",
        None,
        "Ada Lovelace",
    )
    assert record.signature_svg_path == SIGNATURE
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "consent.signed")).one()
    assert (event.patient_id, event.clinic_id) == (world.patient_a, world.clinic_a)
    assert event.details == {
        "kind": "treatment",
        "consent_text_id": texts.treatment_a,
        "version": 1,
        "witnessed_by_user_id": None,
    }
    assert "Lovelace" not in str(event.details)


def test_staff_sign_on_the_tablet_as_witness(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    body = sign(client, world.clinician, world.patient_a, texts.treatment_a, typed_name="lovelace ada")
    assert body["witnessed_by_user_id"] == user_id(db, world.clinician)
    photo = sign(client, world.receptionist, world.patient_a, texts.photo_a)
    assert photo["witnessed_by_user_id"] == user_id(db, world.receptionist)


def test_the_front_desk_may_not_witness_treatment_consent(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/consents",
        json=signing(texts.treatment_a),
        headers=bearer(client, world.receptionist),
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission-denied")
    assert count(db, "consent_record") == 0


def test_it_refuses_to_sign_outside_the_callers_reach(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    cases = [
        (world.colleague, world.patient_a, texts.treatment_a),  # clinic B's practitioner
        (world.patient_user, world.other_patient_a, texts.treatment_a),  # another patient
        (world.clinician, world.patient_a, texts.treatment_b),  # another clinic's text
    ]
    for email, patient_id, text_id in cases:
        response = client.post(
            f"/api/v1/patients/{patient_id}/consents",
            json=signing(
                text_id,
                typed_name="Mary Somerville" if patient_id == world.other_patient_a else "Ada Lovelace",
            ),
            headers=bearer(client, email),
        )
        assert response.status_code == 404, (email, patient_id, text_id)
    assert count(db, "consent_record") == 0


def test_it_refuses_a_superseded_version(client: TestClient, world: World, db: Session, texts: Texts) -> None:
    published = client.post(
        f"/api/v1/clinics/{world.clinic_a}/consent-texts",
        json=NEW_TREATMENT_TEXT,
        headers=bearer(client, world.admin),
    ).json()
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/consents",
        json=signing(texts.treatment_a),
        headers=bearer(client, world.patient_user),
    )
    assert response.status_code == 409
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("consent-text-superseded", "consent_text_id")
    assert problem["current_consent_text_id"] == published["id"]
    assert count(db, "consent_record") == 0


@pytest.mark.parametrize(
    ("typed_name", "signature", "field"),
    [
        ("Mary Somerville", SIGNATURE, "typed_name"),
        ("Ada", SIGNATURE, "typed_name"),
        ("Ada Lovelace", '<svg onload="alert(1)"><path d="M 0 0 L 10 10"/></svg>', "signature_svg_path"),
        ("Ada Lovelace", "M 0 0 L 5 5", "signature_svg_path"),
        ("Ada Lovelace", "M 0 0 L 90000 5 L 10 10 L 20 20", "signature_svg_path"),
        ("Ada Lovelace", "M 0 0" + " L 100 100" * 2500, "signature_svg_path"),
    ],
)
def test_it_refuses_a_wrong_name_or_an_invalid_signature_and_stores_nothing(
    client: TestClient, world: World, db: Session, texts: Texts, typed_name: str, signature: str, field: str
) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/consents",
        json=signing(texts.treatment_a, typed_name=typed_name, signature=signature),
        headers=bearer(client, world.patient_user),
    )
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert count(db, "consent_record") == 0


def test_a_patient_who_cannot_draw_signs_by_typing_and_the_method_is_recorded(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/consents",
        json={
            "consent_text_id": texts.treatment_a,
            "typed_name": "Ada Lovelace",
            "signature_method": "typed",
        },
        headers=bearer(client, world.patient_user),
    )
    assert response.status_code == 201, response.text
    assert response.json()["signature_method"] == "typed"
    record = db.get_one(ConsentRecord, response.json()["id"])
    assert record.signature_svg_path == typed_signature("Ada Lovelace")
    assert record.signature_method == "typed"
    drawn = sign(client, world.patient_user, world.patient_a, texts.photo_a)
    assert drawn["signature_method"] == "drawn"


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [("drawn", "", "signature-missing"), ("typed", SIGNATURE, "signature-method-conflict")],
)
def test_a_signature_must_match_its_method(
    client: TestClient, world: World, db: Session, texts: Texts, method: str, path: str, code: str
) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/consents",
        json={
            "consent_text_id": texts.treatment_a,
            "typed_name": "Ada Lovelace",
            "signature_method": method,
            "signature_svg_path": path,
        },
        headers=bearer(client, world.patient_user),
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == (code, "signature_svg_path")
    assert count(db, "consent_record") == 0


def test_it_refuses_signing_again_while_consent_holds(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    sign(client, world.patient_user, world.patient_a, texts.treatment_a)
    again = client.post(
        f"/api/v1/patients/{world.patient_a}/consents",
        json=signing(texts.treatment_a),
        headers=bearer(client, world.clinician),
    )
    assert (again.status_code, again.json()["code"]) == (409, "consent-already-signed")
    assert count(db, "consent_record") == 1


# --- withdrawal and overview -----------------------------------------------------------------------


def test_a_patient_withdraws_consent_once_and_it_is_kept(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    signed = sign(client, world.patient_user, world.patient_a, texts.photo_a)
    headers = bearer(client, world.patient_user)
    url = f"/api/v1/consents/{signed['id']}/withdraw"
    response = client.post(url, json={"reason": "Changed my mind about photographs"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["withdrawn_at"] is not None
    again = client.post(url, json={"reason": "again"}, headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "consent-already-withdrawn")
    record = db.get_one(ConsentRecord, signed["id"])
    assert record.withdrawal_reason == "Changed my mind about photographs"
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "consent.withdrawn")).one()
    assert event.details == {"kind": "photo", "by_patient": True}
    assert "mind" not in str(event.details)
    # Signing again after withdrawing consents again.
    sign(client, world.patient_user, world.patient_a, texts.photo_a)


def test_withdrawal_is_refused_outside_the_callers_reach(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    signed = sign(client, world.clinician, world.patient_a, texts.treatment_a)
    url = f"/api/v1/consents/{signed['id']}/withdraw"
    assert client.post(url, json={"reason": "x"}, headers=bearer(client, world.colleague)).status_code == 404
    assert (
        client.post(url, json={"reason": ""}, headers=bearer(client, world.receptionist)).status_code == 422
    )
    assert db.get_one(ConsentRecord, signed["id"]).withdrawn_at is None
    by_desk = client.post(url, json={"reason": "Patient phoned"}, headers=bearer(client, world.receptionist))
    assert by_desk.status_code == 200


def test_the_overview_shows_each_kinds_state_and_every_signature(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    first = sign(client, world.clinician, world.patient_a, texts.treatment_a)
    photo = sign(client, world.patient_user, world.patient_a, texts.photo_a)
    client.post(
        f"/api/v1/consents/{photo['id']}/withdraw",
        json={"reason": "no"},
        headers=bearer(client, world.patient_user),
    )
    client.post(
        f"/api/v1/clinics/{world.clinic_a}/consent-texts",
        json=NEW_TREATMENT_TEXT,
        headers=bearer(client, world.admin),
    )
    response = client.get(
        f"/api/v1/patients/{world.patient_a}/consents", headers=bearer(client, world.patient_user)
    )
    assert response.status_code == 200
    overview = response.json()
    assert overview["status"] == {"treatment": "superseded", "photo": "withdrawn", "marketing": "none"}
    assert {r["id"]: (r["state"], r["version"]) for r in overview["records"]} == {
        first["id"]: ("superseded", 1),
        photo["id"]: ("withdrawn", 1),
    }
    read = db.scalars(select(AuditEvent).where(AuditEvent.action == "consent.read")).one()
    assert read.patient_id == world.patient_a
    staff_view = client.get(
        f"/api/v1/patients/{world.patient_a}/consents", headers=bearer(client, world.colleague)
    )
    assert staff_view.status_code == 404
    other = client.get(
        f"/api/v1/patients/{world.other_patient_a}/consents", headers=bearer(client, world.patient_user)
    )
    assert other.status_code == 404


# --- the gate other domains call ---------------------------------------------------------------------


def test_the_gate_says_why_consent_is_missing(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    with pytest.raises(Conflict, match="has not signed") as missing:
        require_valid_consent(db, world.patient_a)
    assert (missing.value.code, missing.value.extra["consent_state"]) == ("consent-missing", "none")

    signed = sign(client, world.clinician, world.patient_a, texts.treatment_a)
    db.rollback()
    assert require_valid_consent(db, world.patient_a).id == signed["id"]
    valid = valid_consent(db, world.patient_a, "treatment")
    assert valid is not None
    assert valid.id == signed["id"]
    assert valid_consent(db, world.patient_a, "photo") is None

    client.post(
        f"/api/v1/consents/{signed['id']}/withdraw",
        json={"reason": "no"},
        headers=bearer(client, world.patient_user),
    )
    db.rollback()
    with pytest.raises(Conflict, match="withdrew") as withdrawn:
        require_valid_consent(db, world.patient_a)
    assert withdrawn.value.extra["consent_state"] == "withdrawn"
    # Before the withdrawal the consent was valid: the question is always "at when?".
    withdrawn_at = db.get_one(ConsentRecord, signed["id"]).withdrawn_at
    assert withdrawn_at is not None
    earlier = valid_consent(db, world.patient_a, "treatment", at=withdrawn_at - timedelta(microseconds=1))
    assert earlier is not None
    assert earlier.id == signed["id"]


def test_a_new_version_supersedes_earlier_signatures_for_the_gate(
    client: TestClient, world: World, db: Session, texts: Texts
) -> None:
    sign(client, world.clinician, world.patient_a, texts.treatment_a)
    client.post(
        f"/api/v1/clinics/{world.clinic_a}/consent-texts",
        json=NEW_TREATMENT_TEXT,
        headers=bearer(client, world.admin),
    )
    db.rollback()
    with pytest.raises(Conflict, match="earlier version") as superseded:
        require_valid_consent(db, world.patient_a)
    assert superseded.value.extra["consent_state"] == "superseded"


def test_without_any_published_text_the_gate_refuses(world: World, db: Session) -> None:
    with pytest.raises(Conflict, match="no treatment consent text") as refused:
        require_valid_consent(db, world.patient_b)
    assert refused.value.extra["consent_state"] == "no_text"
