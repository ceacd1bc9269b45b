"""The intake questionnaire and history items: who may submit, what is validated, what is added to
the record, what is audited."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import Allergy, AuditEvent, Intake, Medication, PreviousProcedure, User
from mesoclinic.patients import rules
from mesoclinic.patients.schemas import AllergyIn, MedicationIn, PreviousProcedureIn
from tests.conftest import count
from tests.support import World, bearer

TODAY = date.today()


def intake(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pregnant": False,
        "breastfeeding": False,
        "conditions": ["herpes_labialis_history"],
        "skin_problems": [],
        "vaccination_on": (TODAY - timedelta(days=30)).isoformat(),
        "fitzpatrick": 3,
        "allergies": [{"substance": "Lidocaine", "reaction": "hives"}],
        "medications": [
            {
                "name": "Apixaban",
                "drug_class": "anticoagulant",
                "started_on": (TODAY - timedelta(days=200)).isoformat(),
            }
        ],
        "previous_procedures": [
            {
                "procedure": "CO2 laser",
                "category": "laser",
                "performed_on": (TODAY - timedelta(days=90)).isoformat(),
            }
        ],
    }
    body.update(overrides)
    return body


def audit_events(db: Session, action: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# ---- submitting ---------------------------------------------------------------------------------------


def test_staff_submit_an_intake_that_adds_the_declared_history_and_is_audited(
    client: TestClient, world: World, db: Session
) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/intakes",
        json=intake(),
        headers=bearer(client, world.receptionist),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["source"], body["fitzpatrick"], body["answers_version"]) == ("staff", 3, 1)
    assert body["answers"]["conditions"] == ["herpes_labialis_history"]
    stored = db.get_one(Intake, body["id"])
    assert stored.answers["medications"][0]["drug_class"] == "anticoagulant"

    patient = client.get(
        f"/api/v1/patients/{world.patient_a}", headers=bearer(client, world.clinician)
    ).json()
    assert [a["substance"] for a in patient["allergies"]] == ["Lidocaine"]
    assert [(m["name"], m["drug_class"]) for m in patient["medications"]] == [("Apixaban", "anticoagulant")]
    assert [(p["procedure"], p["category"]) for p in patient["previous_procedures"]] == [
        ("CO2 laser", "laser")
    ]

    [event] = audit_events(db, "intake.submitted")
    assert (event.actor, event.patient_id, event.target_id) == (
        world.receptionist,
        world.patient_a,
        str(body["id"]),
    )
    assert event.details == {
        "source": "staff",
        "answers_version": 1,
        "added": {"allergies": 1, "medications": 1, "previous_procedures": 1},
    }
    assert "Lidocaine" not in str(event.details)
    assert "herpes" not in str(event.details)


def test_a_patient_fills_in_their_own_questionnaire_before_the_visit(
    client: TestClient, world: World, db: Session
) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/intakes",
        json=intake(allergies=[], medications=[], previous_procedures=[]),
        headers=bearer(client, world.patient_user),
    )
    assert response.status_code == 201, response.text
    portal_user = db.scalars(select(User).where(User.email == world.patient_user)).one()
    assert (response.json()["source"], response.json()["submitted_by_user_id"]) == ("patient", portal_user.id)


def test_a_patient_cannot_submit_for_someone_else(client: TestClient, world: World, db: Session) -> None:
    before = count(db, "intake")
    response = client.post(
        f"/api/v1/patients/{world.other_patient_a}/intakes",
        json=intake(),
        headers=bearer(client, world.patient_user),
    )
    assert (response.status_code, response.json()["code"]) == (404, "patient-not-found")
    assert count(db, "intake") == before


def test_staff_of_another_clinic_get_not_found_and_nothing_is_stored(
    client: TestClient, world: World, db: Session
) -> None:
    before = (count(db, "intake"), count(db, "allergy"))
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/intakes", json=intake(), headers=bearer(client, world.colleague)
    )
    assert response.status_code == 404
    assert (count(db, "intake"), count(db, "allergy")) == before
    assert [e.outcome for e in audit_events(db, "patient.read")] == ["denied"]


def test_it_names_every_invalid_answer_and_stores_nothing(
    client: TestClient, world: World, db: Session
) -> None:
    before = (
        count(db, "intake"),
        count(db, "allergy"),
        count(db, "medication"),
        count(db, "previous_procedure"),
    )
    future = (TODAY + timedelta(days=3)).isoformat()
    body = intake(
        conditions=["herpes_labialis_history", "vampirism"],
        skin_problems=["freckles"],
        vaccination_on=future,
        fitzpatrick=7,
        medications=[{"name": "Warfarin", "drug_class": "blood thinner", "started_on": future}],
        previous_procedures=[{"procedure": "Peel", "category": "spa", "performed_on": future}],
    )
    del body["pregnant"]
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/intakes", json=body, headers=bearer(client, world.clinician)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == {
        "pregnant",
        "conditions",
        "skin_problems",
        "vaccination_on",
        "fitzpatrick",
        "medications.0.drug_class",
        "medications.0.started_on",
        "previous_procedures.0.category",
        "previous_procedures.0.performed_on",
    }
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert "vampirism" in messages["conditions"]
    assert "future" in messages["vaccination_on"]
    after = (
        count(db, "intake"),
        count(db, "allergy"),
        count(db, "medication"),
        count(db, "previous_procedure"),
    )
    assert after == before


def test_unknown_questions_are_refused(client: TestClient, world: World) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/intakes",
        json=intake(smoker=True),
        headers=bearer(client, world.clinician),
    )
    assert (response.status_code, response.json()["field"]) == (422, "smoker")


def test_a_course_of_antibiotics_may_end_in_the_future_and_a_stop_date_may_be_planned(
    client: TestClient, world: World
) -> None:
    soon = (TODAY + timedelta(days=5)).isoformat()
    body = intake(
        antibiotics_until=soon,
        medications=[
            {
                "name": "Isotretinoin",
                "drug_class": "Isotretinoin ",
                "started_on": "2026-01-01",
                "stopped_on": soon,
            }
        ],
    )
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/intakes", json=body, headers=bearer(client, world.clinician)
    )
    assert response.status_code == 201, response.text
    assert response.json()["answers"]["medications"][0]["drug_class"] == "isotretinoin"


def test_a_medication_that_stops_before_it_starts_is_refused_with_its_field(
    client: TestClient, world: World, db: Session
) -> None:
    before = count(db, "intake")
    body = intake(
        medications=[
            {"name": "Aspirin", "drug_class": "antiplatelet"},
            {"name": "Warfarin", "started_on": "2026-05-01", "stopped_on": "2026-04-01"},
        ]
    )
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/intakes", json=body, headers=bearer(client, world.clinician)
    )
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        422,
        "medication-dates",
        "medications.1.stopped_on",
    )
    assert count(db, "intake") == before


def test_history_declared_again_in_a_later_intake_is_not_added_twice(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    url = f"/api/v1/patients/{world.patient_a}/intakes"
    assert client.post(url, json=intake(), headers=headers).status_code == 201
    again = intake(
        allergies=[{"substance": " lidocaine"}, {"substance": "Latex"}, {"substance": "latex"}],
    )
    second = client.post(url, json=again, headers=headers)
    assert second.status_code == 201
    db.rollback()
    substances = db.scalars(select(Allergy.substance).where(Allergy.patient_id == world.patient_a)).all()
    assert sorted(substances) == ["Latex", "Lidocaine"]
    assert len(db.scalars(select(Medication).where(Medication.patient_id == world.patient_a)).all()) == 1
    assert (
        len(
            db.scalars(select(PreviousProcedure).where(PreviousProcedure.patient_id == world.patient_a)).all()
        )
        == 1
    )
    assert audit_events(db, "intake.submitted")[-1].details["added"] == {
        "allergies": 1,
        "medications": 0,
        "previous_procedures": 0,
    }


# ---- reading ------------------------------------------------------------------------------------------


def test_intakes_are_listed_newest_first_and_the_latest_is_the_last_submitted(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    url = f"/api/v1/patients/{world.patient_a}/intakes"
    first = client.post(url, json=intake(fitzpatrick=2), headers=headers).json()
    second = client.post(url, json=intake(fitzpatrick=4), headers=headers).json()
    listed = client.get(url, headers=headers)
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()] == [second["id"], first["id"]]
    latest = client.get(f"{url}/latest", headers=headers)
    assert (latest.status_code, latest.json()["id"], latest.json()["fitzpatrick"]) == (200, second["id"], 4)
    reads = audit_events(db, "intake.read")
    assert [(e.target_type, e.patient_id) for e in reads] == [
        ("patient", world.patient_a),
        ("intake", world.patient_a),
    ]


def test_the_latest_intake_of_a_patient_without_one_is_not_found(client: TestClient, world: World) -> None:
    response = client.get(
        f"/api/v1/patients/{world.other_patient_a}/intakes/latest", headers=bearer(client, world.clinician)
    )
    assert (response.status_code, response.json()["code"]) == (404, "intake-not-found")


def test_a_patient_reads_their_own_intakes_only(client: TestClient, world: World) -> None:
    headers = bearer(client, world.patient_user)
    client.post(f"/api/v1/patients/{world.patient_a}/intakes", json=intake(), headers=headers)
    assert len(client.get(f"/api/v1/patients/{world.patient_a}/intakes", headers=headers).json()) == 1
    other = client.get(f"/api/v1/patients/{world.other_patient_a}/intakes", headers=headers)
    assert other.status_code == 404


def test_another_clinic_cannot_read_the_intakes(client: TestClient, world: World) -> None:
    client.post(
        f"/api/v1/patients/{world.patient_a}/intakes", json=intake(), headers=bearer(client, world.clinician)
    )
    headers = bearer(client, world.colleague)
    assert client.get(f"/api/v1/patients/{world.patient_a}/intakes", headers=headers).status_code == 404
    assert (
        client.get(f"/api/v1/patients/{world.patient_a}/intakes/latest", headers=headers).status_code == 404
    )


def test_an_old_intake_stays_readable_after_the_vocabulary_or_the_calendar_moves_on(
    client: TestClient, world: World, db: Session
) -> None:
    user_id = db.scalars(select(User.id).where(User.email == world.clinician)).one()
    old = Intake(
        patient_id=world.patient_a,
        submitted_by_user_id=user_id,
        source="staff",
        answers={
            "pregnant": False,
            "breastfeeding": False,
            "conditions": ["retired_condition_code"],
            "vaccination_on": (TODAY + timedelta(days=1)).isoformat(),
            "medications": [{"name": "Old drug", "drug_class": "retired_class"}],
        },
        answers_version=1,
    )
    db.add(old)
    db.commit()
    response = client.get(
        f"/api/v1/patients/{world.patient_a}/intakes/latest", headers=bearer(client, world.clinician)
    )
    assert response.status_code == 200, response.text
    assert response.json()["answers"]["conditions"] == ["retired_condition_code"]


def test_the_questionnaire_lists_the_answer_codes_with_labels(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/patients/intake-questionnaire", headers=bearer(client, world.patient_user))
    assert response.status_code == 200
    body = response.json()
    assert body["answers_version"] == 1
    assert {"code": "herpes_labialis_history", "label": "Cold sores (herpes) in the past"} in body[
        "conditions"
    ]
    assert "broken_or_sunburnt_skin" in {c["code"] for c in body["skin_problems"]}
    assert "isotretinoin" in {c["code"] for c in body["drug_classes"]}
    assert "laser" in body["procedure_categories"]
    assert client.get("/api/v1/patients/intake-questionnaire").status_code == 401


def test_the_openapi_schema_lists_the_condition_codes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["IntakeAnswers-Input"]
    assert "coagulation_disorder" in schema["properties"]["conditions"]["items"]["enum"]


# ---- history items added by staff -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "table", "action"),
    [
        ("allergies", {"substance": "Latex", "reaction": "rash"}, "allergy", "patient.allergy_added"),
        (
            "medications",
            {"name": "Clopidogrel", "drug_class": "antiplatelet", "started_on": "2025-01-01"},
            "medication",
            "patient.medication_added",
        ),
        (
            "procedures",
            {"procedure": "Glycolic peel", "category": "peel", "performed_on": "2026-09-01"},
            "previous_procedure",
            "patient.procedure_added",
        ),
    ],
)
def test_staff_add_history_items_and_each_is_audited(
    client: TestClient, world: World, db: Session, kind: str, body: dict[str, Any], table: str, action: str
) -> None:
    before = count(db, table)
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/{kind}", json=body, headers=bearer(client, world.receptionist)
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"]
    assert count(db, table) == before + 1
    [event] = audit_events(db, action)
    assert (event.patient_id, event.details) == (world.patient_a, {"item_id": response.json()["id"]})

    patient_try = client.post(
        f"/api/v1/patients/{world.patient_a}/{kind}", json=body, headers=bearer(client, world.patient_user)
    )
    assert patient_try.status_code == 403
    outsider = client.post(
        f"/api/v1/patients/{world.patient_a}/{kind}", json=body, headers=bearer(client, world.colleague)
    )
    assert outsider.status_code == 404
    assert count(db, table) == before + 1


def test_a_procedure_without_a_category_is_other_and_a_future_one_is_refused(
    client: TestClient, world: World
) -> None:
    headers = bearer(client, world.clinician)
    url = f"/api/v1/patients/{world.patient_a}/procedures"
    plain = client.post(url, json={"procedure": "Facial", "performed_on": "2026-01-05"}, headers=headers)
    assert (plain.status_code, plain.json()["category"]) == (201, "other")
    future = client.post(
        url,
        json={
            "procedure": "Laser",
            "category": "laser",
            "performed_on": (TODAY + timedelta(days=1)).isoformat(),
        },
        headers=headers,
    )
    assert (future.status_code, future.json()["field"]) == (422, "performed_on")


def test_a_medication_added_by_staff_checks_its_dates(client: TestClient, world: World, db: Session) -> None:
    before = count(db, "medication")
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/medications",
        json={
            "name": "Warfarin",
            "drug_class": "anticoagulant",
            "started_on": "2026-05-01",
            "stopped_on": "2026-04-01",
        },
        headers=bearer(client, world.clinician),
    )
    assert (response.status_code, response.json()["code"]) == (422, "medication-dates")
    assert count(db, "medication") == before


def test_registering_a_patient_takes_procedure_categories(client: TestClient, world: World) -> None:
    body = {
        "given_name": "Grace",
        "family_name": "Hopper",
        "date_of_birth": "1976-12-09",
        "previous_procedures": [
            {"procedure": "Rhinoplasty", "category": "facial_surgery", "performed_on": "2026-10-01"}
        ],
    }
    response = client.post("/api/v1/patients", json=body, headers=bearer(client, world.clinician))
    assert response.status_code == 201, response.text
    assert response.json()["previous_procedures"][0]["category"] == "facial_surgery"


# ---- the pure rules behind it -------------------------------------------------------------------------


def test_not_yet_recorded_skips_what_the_record_holds_and_repeats_within_the_declaration() -> None:
    recorded = [Allergy(substance="Lidocaine")]
    declared = [AllergyIn(substance="LIDOCAINE "), AllergyIn(substance="Latex"), AllergyIn(substance="latex")]
    assert [a.substance for a in rules.not_yet_recorded(recorded, declared, rules.allergy_key)] == ["Latex"]


def test_a_medication_is_new_when_any_of_its_dates_or_class_differ() -> None:
    recorded = [
        Medication(
            name="Isotretinoin", drug_class="isotretinoin", started_on=date(2026, 1, 1), stopped_on=None
        )
    ]
    same = MedicationIn(name="isotretinoin", drug_class="isotretinoin", started_on=date(2026, 1, 1))
    stopped = MedicationIn(
        name="Isotretinoin",
        drug_class="isotretinoin",
        started_on=date(2026, 1, 1),
        stopped_on=date(2026, 6, 1),
    )
    assert rules.not_yet_recorded(recorded, [same], rules.medication_key) == []
    assert rules.not_yet_recorded(recorded, [stopped], rules.medication_key) == [stopped]


def test_a_procedure_is_the_same_when_name_category_and_date_agree() -> None:
    recorded = [PreviousProcedure(procedure="CO2 laser", category="laser", performed_on=date(2026, 3, 1))]
    again = PreviousProcedureIn(procedure="co2  laser", category="laser", performed_on=date(2026, 3, 1))
    other_day = PreviousProcedureIn(procedure="CO2 laser", category="laser", performed_on=date(2026, 4, 1))
    assert rules.not_yet_recorded(recorded, [again, other_day], rules.procedure_key) == [other_day]


def test_medication_date_problems_name_each_bad_item() -> None:
    meds = [
        MedicationIn(name="A", started_on=date(2026, 1, 2), stopped_on=date(2026, 1, 1)),
        MedicationIn(name="B", started_on=date(2026, 1, 1), stopped_on=date(2026, 1, 1)),
        MedicationIn(name="C", stopped_on=date(2026, 1, 1)),
        MedicationIn(name="D", started_on=date(2026, 3, 1), stopped_on=date(2026, 2, 1)),
    ]
    assert [p.field for p in rules.medication_date_problems(meds, "medications")] == [
        "medications.0.stopped_on",
        "medications.3.stopped_on",
    ]
