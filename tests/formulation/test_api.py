"""Catalogue, proposal and decision of formulations over the API: allergies, conflicts, access."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.errors import Conflict, NotFound
from mesoclinic.formulation import service
from mesoclinic.models import AuditEvent, Formulation, User
from tests.assessment.helpers import create_assessment, create_formulation, final_formulation, principal
from tests.conftest import count
from tests.support import World, bearer

HOUSE = {
    "code": "house_scar_blend",
    "name": "House scar blend",
    "ingredient_class": "polycomponent",
    "concerns": ["acne_scars"],
    "incompatible_with": ["ncha"],
    "source": "Clinic A protocol book 2025",
}


def propose(
    client: TestClient, headers: dict[str, str], patient_id: int, **overrides: object
) -> dict[str, object]:
    assessment = create_assessment(client, headers, patient_id, **overrides)
    return create_formulation(client, headers, patient_id, assessment["id"])


def decide(
    client: TestClient, headers: dict[str, str], formulation_id: object, codes: list[str], **extra: object
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/formulations/{formulation_id}/decide",
        json={"final": [{"code": c} for c in codes], **extra},
        headers=headers,
    )


def test_it_proposes_from_an_assessment_and_audits_it(client: TestClient, world: World, db: Session) -> None:
    headers = bearer(client, world.clinician)
    body = propose(client, headers, world.patient_a)
    assert body["status"] == "proposed"
    assert [i["code"] for i in body["proposed"]] == ["ncha"]  # type: ignore[index]
    assert body["final"] is None
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "formulation.proposed")).one()
    assert (event.patient_id, event.target_id) == (world.patient_a, str(body["id"]))


def test_the_proposal_leaves_out_an_allergen_and_says_why(
    client: TestClient, world: World, lidocaine_allergy: None
) -> None:
    headers = bearer(client, world.clinician)
    body = propose(client, headers, world.patient_a)
    excluded = [w for w in body["warnings"] if w["code"] == "allergy-excluded"]  # type: ignore[attr-defined]
    assert [w["ingredients"] for w in excluded] == [["lidocaine"]]


def test_it_refuses_an_assessment_of_another_patient(client: TestClient, world: World, db: Session) -> None:
    headers = bearer(client, world.clinician)
    other = create_assessment(client, headers, world.other_patient_a)
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/formulations",
        json={"assessment_id": other["id"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("assessment-not-found", "assessment_id")
    assert count(db, "formulation") == 0


def test_the_practitioner_decides_the_final_cocktail_and_who_decided_is_recorded(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    proposal = propose(client, headers, world.patient_a)
    response = client.post(
        f"/api/v1/formulations/{proposal['id']}/decide",
        json={
            "final": [{"code": "ncha", "concentration": "18 mg/mL", "volume_ml": 3}, {"code": "vitamin_c"}],
            "note": "Added vitamin C for dullness.",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "final"
    assert [i["code"] for i in body["final"]] == ["ncha", "vitamin_c"]
    assert body["final"][0]["volume_ml"] == 3
    clinician = db.scalars(select(User).where(User.email == world.clinician)).one()
    stored = db.get(Formulation, proposal["id"])
    assert stored is not None
    assert (stored.decided_by_user_id, stored.decision_note) == (
        clinician.id,
        "Added vitamin C for dullness.",
    )
    assert stored.decided_at is not None
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "formulation.decided")).one()
    assert event.details == {"ingredient_count": 2, "acknowledged": []}
    again = decide(client, headers, proposal["id"], ["ncha"])
    assert (again.status_code, again.json()["code"]) == (409, "formulation-already-final")


def test_it_refuses_an_ingredient_the_patient_is_allergic_to(
    client: TestClient, world: World, db: Session, lidocaine_allergy: None
) -> None:
    headers = bearer(client, world.clinician)
    proposal = propose(client, headers, world.patient_a)
    response = decide(client, headers, proposal["id"], ["ncha", "lidocaine"])
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("ingredient-allergy", "final")
    stored = db.get(Formulation, proposal["id"])
    assert stored is not None
    assert (stored.status, stored.final) == ("proposed", None)


def test_an_incompatible_pair_needs_an_explicit_acknowledgement(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    proposal = propose(client, headers, world.patient_a)
    refused = decide(client, headers, proposal["id"], ["phosphatidylcholine", "lidocaine"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "incompatible-ingredients"
    assert refused.json()["pairs"] == [["lidocaine", "phosphatidylcholine"]]
    assert db.get(Formulation, proposal["id"]).status == "proposed"  # type: ignore[union-attr]
    accepted = decide(
        client, headers, proposal["id"], ["phosphatidylcholine", "lidocaine"], acknowledge_incompatible=True
    )
    assert accepted.status_code == 200
    assert [w["code"] for w in accepted.json()["warnings"]] == ["incompatible-ingredients"]


def test_unknown_or_duplicate_final_ingredients_are_named(client: TestClient, world: World) -> None:
    headers = bearer(client, world.clinician)
    proposal = propose(client, headers, world.patient_a)
    response = decide(client, headers, proposal["id"], ["ncha", "unobtainium"])
    assert (response.status_code, response.json()["field"]) == (422, "final.1.code")
    assert response.json()["code"] == "unknown-ingredient"


def test_the_catalogue_includes_only_the_callers_clinic_extensions(
    client: TestClient, world: World, db: Session
) -> None:
    clinician = bearer(client, world.clinician)
    created = client.post(f"/api/v1/clinics/{world.clinic_a}/ingredients", json=HOUSE, headers=clinician)
    assert created.status_code == 201, created.text
    assert (created.json()["evidence"], created.json()["clinic_id"]) == ("clinic", world.clinic_a)
    mine = client.get("/api/v1/ingredients", headers=clinician).json()
    assert mine["clinic_id"] == world.clinic_a
    assert "house_scar_blend" in {i["code"] for i in mine["ingredients"]}
    assert mine["incompatibilities"][0]["source"]
    theirs = client.get("/api/v1/ingredients", headers=bearer(client, world.colleague)).json()
    assert "house_scar_blend" not in {i["code"] for i in theirs["ingredients"]}
    assert "ncha" in {i["code"] for i in theirs["ingredients"]}
    peek = client.get(
        f"/api/v1/ingredients?clinic_id={world.clinic_a}", headers=bearer(client, world.colleague)
    )
    assert peek.status_code == 404
    assert (
        db.scalars(select(AuditEvent).where(AuditEvent.action == "ingredient.created")).one().clinic_id
        == world.clinic_a
    )


def test_a_clinic_ingredient_is_proposed_and_its_incompatibility_flagged(
    client: TestClient, world: World
) -> None:
    headers = bearer(client, world.clinician)
    assert (
        client.post(f"/api/v1/clinics/{world.clinic_a}/ingredients", json=HOUSE, headers=headers).status_code
        == 201
    )
    findings = [
        {"concern": "acne_scars", "zone": "cheek", "side": "L", "scale": "goodman_baron", "value": 3},
        {
            "concern": "dehydration",
            "zone": "full_face",
            "scale": "vas_hydration",
            "value": 40,
            "method": "self-rating",
        },
    ]
    body = propose(client, headers, world.patient_a, findings=findings)
    assert [i["code"] for i in body["proposed"]] == ["house_scar_blend", "ncha"]  # type: ignore[index]
    assert "incompatible-pair" in [w["code"] for w in body["warnings"]]  # type: ignore[attr-defined]


def test_only_staff_of_the_clinic_who_practise_may_extend_its_catalogue(
    client: TestClient, world: World, db: Session
) -> None:
    url = f"/api/v1/clinics/{world.clinic_a}/ingredients"
    outsider = client.post(url, json=HOUSE, headers=bearer(client, world.colleague))
    assert (outsider.status_code, outsider.json()["code"]) == (403, "clinic-not-yours")
    assert client.post(url, json=HOUSE, headers=bearer(client, world.receptionist)).status_code == 403
    admin = bearer(client, world.admin)
    assert client.post(url, json=HOUSE, headers=admin).status_code == 201
    twice = client.post(url, json=HOUSE, headers=admin)
    assert (twice.status_code, twice.json()["code"]) == (409, "ingredient-code-taken")
    bad = client.post(
        url, json={**HOUSE, "code": "other", "concerns": ["youth"], "incompatible_with": ["x"]}, headers=admin
    )
    assert bad.status_code == 422
    assert [(e["code"], e["field"]) for e in bad.json()["errors"]] == [
        ("unknown-concern", "concerns.0"),
        ("unknown-ingredient", "incompatible_with.0"),
    ]
    assert count(db, "clinic_ingredient") == 1


def test_access_to_formulations_follows_the_patient(client: TestClient, world: World) -> None:
    clinician = bearer(client, world.clinician)
    proposal = propose(client, clinician, world.patient_a)
    other = propose(client, clinician, world.other_patient_a)
    colleague = bearer(client, world.colleague)
    assert client.get(f"/api/v1/formulations/{proposal['id']}", headers=colleague).status_code == 404
    assert decide(client, colleague, proposal["id"], ["ncha"]).status_code == 404
    assert (
        client.get(f"/api/v1/patients/{world.patient_a}/formulations", headers=colleague).status_code == 404
    )
    receptionist = bearer(client, world.receptionist)
    assert decide(client, receptionist, proposal["id"], ["ncha"]).status_code == 403
    # The front desk does not read clinical records.
    assert client.get(f"/api/v1/formulations/{proposal['id']}", headers=receptionist).status_code == 403
    patient = bearer(client, world.patient_user)
    assert client.get(f"/api/v1/formulations/{proposal['id']}", headers=patient).status_code == 200
    assert client.get(f"/api/v1/formulations/{other['id']}", headers=patient).status_code == 404
    listed = client.get(f"/api/v1/patients/{world.patient_a}/formulations", headers=patient)
    assert [f["id"] for f in listed.json()] == [proposal["id"]]


def test_final_ingredients_give_codes_and_every_name_for_allergy_screening(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    decided = final_formulation(client, headers, world.patient_a, codes=["ncha", "tranexamic_acid"])
    pending = propose(client, headers, world.patient_a)
    db.rollback()
    clinician = principal(db, world.clinician)
    names = dict(service.final_ingredients(db, clinician, decided["id"]))
    assert list(names) == ["ncha", "tranexamic_acid"]
    assert "sodium hyaluronate" in names["ncha"]
    assert "TXA" in names["tranexamic_acid"]
    with pytest.raises(Conflict) as not_final:
        service.final_ingredients(db, clinician, int(str(pending["id"])))
    assert not_final.value.code == "formulation-not-final"
    with pytest.raises(NotFound) as hidden:
        service.final_ingredients(db, principal(db, world.colleague), decided["id"])
    assert hidden.value.code == "formulation-not-found"
    db.rollback()
