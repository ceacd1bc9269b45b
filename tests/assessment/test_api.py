"""Recording and reading skin assessments over the API: validation, advice, access, audit."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import AssessmentFinding, AuditEvent, SkinAssessment
from tests.assessment.helpers import assessment_body, create_assessment, masi_components
from tests.conftest import count
from tests.support import World, bearer


def test_it_records_an_assessment_with_graded_findings_and_audits_it(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    findings = [
        *assessment_body()["findings"],
        {"concern": "pigmentation", "zone": "full_face", "scale": "masi", "components": masi_components()},
        {
            "concern": "pigmentation",
            "zone": "full_face",
            "scale": "mmasi",
            "components": {
                c: {"area": 3, "darkness": 3} for c in ("forehead", "malar_right", "malar_left", "chin")
            },
        },
    ]
    body = create_assessment(client, headers, world.patient_a, findings=findings)
    assert body["patient_id"] == world.patient_a
    masi, mmasi = body["findings"][2], body["findings"][3]
    assert masi["value"] == 6.0
    assert masi["side"] == "M"
    assert (mmasi["value"], mmasi["band"]) == (9.0, "severe")
    assert body["findings"][0]["side"] == "L"
    assert body["advice"] == []
    assert list(body["concern_severity"])[0] == "dehydration"
    stored = db.get(SkinAssessment, body["id"])
    assert stored is not None
    assert stored.glogau == 2
    rows = db.scalars(select(AssessmentFinding).where(AssessmentFinding.assessment_id == body["id"])).all()
    assert [r.scale for r in rows] == ["merz_crows_feet", "vas_hydration", "masi", "mmasi"]
    assert rows[1].method == "blinded photo panel"
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "assessment.created")).one()
    assert (event.patient_id, event.target_id, event.actor) == (
        world.patient_a,
        str(body["id"]),
        world.clinician,
    )
    assert "Dry cheeks" not in str(event.details)


def test_it_names_the_exact_field_of_an_invalid_finding_and_stores_nothing(
    client: TestClient, world: World, db: Session
) -> None:
    before = count(db, "skin_assessment")
    bad = assessment_body()
    bad["findings"][1]["method"] = ""
    bad["findings"].append({"concern": "laxity", "zone": "nasolabial", "scale": "wsrs", "value": 7})
    bad["goals"] = ["hydration", "eternal youth"]
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/assessments", json=bad, headers=bearer(client, world.clinician)
    )
    assert response.status_code == 422
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("unknown-goal", "goals.1")
    assert [(e["code"], e["field"]) for e in problem["errors"]] == [
        ("unknown-goal", "goals.1"),
        ("method-required", "findings.1.method"),
        ("side-required", "findings.2.side"),
        ("value-out-of-range", "findings.2.value"),
    ]
    assert count(db, "skin_assessment") == before
    assert count(db, "assessment_finding") == 0


def test_it_refuses_an_out_of_range_glogau_as_malformed(client: TestClient, world: World) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/assessments",
        json=assessment_body(glogau=5, extra="x"),
        headers=bearer(client, world.clinician),
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"glogau", "extra"}


def test_glogau_iv_or_a_lifting_goal_suggests_a_surgical_consult(client: TestClient, world: World) -> None:
    headers = bearer(client, world.clinician)
    severe = create_assessment(client, headers, world.patient_a, glogau=4)
    lifting = create_assessment(client, headers, world.patient_a, glogau=2, goals=["lifting"])
    for body in (severe, lifting):
        assert [(a["code"], a["kind"]) for a in body["advice"]] == [
            ("expectation-no-lift", "expectation"),
            ("surgical-consult", "referral"),
        ]
        assert body["advice"][0]["source"]
    assert "goal: lifting" in lifting["advice"][0]["reason"]


def test_it_lists_and_reads_assessments_and_audits_the_reads(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.clinician)
    first = create_assessment(client, headers, world.patient_a)
    second = create_assessment(client, headers, world.patient_a, glogau=3)
    listed = client.get(f"/api/v1/patients/{world.patient_a}/assessments", headers=headers)
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [second["id"], first["id"]]
    one = client.get(f"/api/v1/assessments/{first['id']}", headers=headers)
    assert one.status_code == 200
    assert len(one.json()["findings"]) == 2
    actions = db.scalars(
        select(AuditEvent.action).where(AuditEvent.action.in_(["assessment.read", "assessment.listed"]))
    ).all()
    assert sorted(actions) == ["assessment.listed", "assessment.read"]


def test_colleague_at_another_clinic_gets_404_and_the_attempt_is_audited(
    client: TestClient, world: World, db: Session
) -> None:
    body = create_assessment(client, bearer(client, world.clinician), world.patient_a)
    outsider = bearer(client, world.colleague)
    assert client.get(f"/api/v1/assessments/{body['id']}", headers=outsider).status_code == 404
    assert client.get("/api/v1/assessments/999999", headers=outsider).json()["code"] == "assessment-not-found"
    assert client.get(f"/api/v1/patients/{world.patient_a}/assessments", headers=outsider).status_code == 404
    created = client.post(
        f"/api/v1/patients/{world.patient_a}/assessments", json=assessment_body(), headers=outsider
    )
    assert created.status_code == 404
    denied = db.scalars(
        select(AuditEvent.target_id).where(
            AuditEvent.outcome == "denied", AuditEvent.action == "assessment.read"
        )
    ).all()
    assert denied == [str(body["id"]), "999999"]
    assert count(db, "skin_assessment") == 1


def test_receptionist_may_not_record_an_assessment(client: TestClient, world: World, db: Session) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/assessments",
        json=assessment_body(),
        headers=bearer(client, world.receptionist),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission-denied"
    assert count(db, "skin_assessment") == 0


def test_patient_reads_only_their_own_assessments(client: TestClient, world: World) -> None:
    clinician = bearer(client, world.clinician)
    own = create_assessment(client, clinician, world.patient_a)
    other = create_assessment(client, clinician, world.other_patient_a)
    patient = bearer(client, world.patient_user)
    assert client.get(f"/api/v1/assessments/{own['id']}", headers=patient).status_code == 200
    assert client.get(f"/api/v1/assessments/{other['id']}", headers=patient).status_code == 404
    assert (
        client.get(f"/api/v1/patients/{world.other_patient_a}/assessments", headers=patient).status_code
        == 404
    )
    refused = client.post(
        f"/api/v1/patients/{world.patient_a}/assessments", json=assessment_body(), headers=patient
    )
    assert refused.status_code == 403


def test_the_zone_reference_is_served_for_the_face_chart(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/assessment-zones", headers=bearer(client, world.receptionist))
    assert response.status_code == 200
    cheek = next(z for z in response.json() if z["code"] == "cheek")
    assert cheek["sides"] == ["L", "R"]
