"""Screening over the API and the service: stored findings, overrides, clearance, access, audit."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.auth.rules import Principal
from mesoclinic.errors import Conflict, Forbidden, NotFound
from mesoclinic.models import AuditEvent, Role, ScreeningResult, User
from mesoclinic.screening import service
from mesoclinic.screening.ruleset import default_ruleset
from tests.conftest import count
from tests.support import World, bearer

TODAY = date.today()


def answers(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"pregnant": False, "breastfeeding": False}
    body.update(overrides)
    return body


def submit_intake(client: TestClient, world: World, patient_id: int | None = None, **overrides: Any) -> int:
    response = client.post(
        f"/api/v1/patients/{patient_id or world.patient_a}/intakes",
        json=answers(**overrides),
        headers=bearer(client, world.clinician),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def run(client: TestClient, headers: dict[str, str], patient_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/patients/{patient_id}/screenings", json=body, headers=headers)


def audit_events(db: Session, action: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


RELATIVE_INTAKE = {
    "conditions": ["herpes_labialis_history"],
    "medications": [{"name": "Apixaban", "drug_class": "anticoagulant", "started_on": "2025-01-01"}],
}


# ---- running ------------------------------------------------------------------------------------------


def test_screening_without_an_intake_is_a_conflict_that_stores_nothing(
    client: TestClient, world: World, db: Session
) -> None:
    response = run(client, bearer(client, world.clinician), world.patient_a)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "intake-missing"
    assert count(db, "screening_result") == 0
    [denied] = audit_events(db, "screening.performed")
    assert (denied.outcome, denied.details["code"]) == ("denied", "intake-missing")


def test_a_screening_stores_its_findings_with_reasons_and_sources_and_is_audited(
    client: TestClient, world: World, db: Session
) -> None:
    intake_id = submit_intake(client, world, **RELATIVE_INTAKE)
    response = run(client, bearer(client, world.clinician), world.patient_a)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["outcome"], body["intake_id"], body["ruleset_version"]) == (
        "needs_override",
        intake_id,
        default_ruleset().version,
    )
    assert {f["code"]: f["kind"] for f in body["findings"]} == {
        "anticoagulant": "relative",
        "herpes-history": "relative",
    }
    assert all(f["source"].startswith("https://") and f["reason"] for f in body["findings"])
    assert (body["cleared"], sorted(body["pending_overrides"])) == (
        False,
        ["anticoagulant", "herpes-history"],
    )
    stored = db.get_one(ScreeningResult, body["id"])
    assert [f["code"] for f in stored.findings] == [f["code"] for f in body["findings"]]
    [event] = audit_events(db, "screening.performed")
    assert (event.outcome, event.patient_id, event.target_id) == ("success", world.patient_a, str(body["id"]))
    assert event.details["outcome"] == "needs_override"
    assert event.details["findings"] == 2
    assert "Apixaban" not in str(event.details)


def test_a_clear_patient_is_clear(client: TestClient, world: World) -> None:
    submit_intake(client, world)
    body = run(client, bearer(client, world.receptionist), world.patient_a).json()
    assert (body["outcome"], body["findings"], body["cleared"]) == ("clear", [], True)


def test_screening_judges_the_latest_intake(client: TestClient, world: World) -> None:
    submit_intake(client, world, pregnant=True)
    headers = bearer(client, world.clinician)
    assert run(client, headers, world.patient_a).json()["outcome"] == "blocked"
    later = submit_intake(client, world, pregnant=False)
    again = run(client, headers, world.patient_a).json()
    assert (again["outcome"], again["intake_id"]) == ("clear", later)


def test_an_allergy_to_a_planned_ingredient_blocks_by_code_or_by_synonym(
    client: TestClient, world: World
) -> None:
    submit_intake(client, world, allergies=[{"substance": "Sodium hyaluronate"}, {"substance": "dmae"}])
    headers = bearer(client, world.clinician)
    assert run(client, headers, world.patient_a).json()["outcome"] == "clear"
    by_code = run(client, headers, world.patient_a, planned_ingredients=["DMAE"]).json()
    assert [(f["code"], f["kind"]) for f in by_code["findings"]] == [("ingredient-allergy", "absolute")]
    by_synonym = run(
        client,
        headers,
        world.patient_a,
        planned_ingredients=[{"code": "hyaluronic_acid", "names": ["hyaluronic acid", "sodium hyaluronate"]}],
    ).json()
    assert by_synonym["outcome"] == "blocked"
    assert "Sodium hyaluronate" in by_synonym["findings"][0]["detail"]


def test_an_anaesthetic_allergy_blocks_without_any_planned_ingredient(
    client: TestClient, world: World
) -> None:
    submit_intake(client, world, allergies=[{"substance": "Lidocaine"}])
    body = run(client, bearer(client, world.clinician), world.patient_a).json()
    assert (body["outcome"], body["findings"][0]["code"]) == ("blocked", "ingredient-allergy")


def test_a_deferral_gives_the_reconsider_date_and_a_later_day_clears(
    client: TestClient, world: World
) -> None:
    stopped = TODAY - timedelta(days=30)
    submit_intake(
        client,
        world,
        medications=[
            {
                "name": "Roaccutane",
                "drug_class": "isotretinoin",
                "started_on": "2025-01-01",
                "stopped_on": stopped.isoformat(),
            }
        ],
    )
    headers = bearer(client, world.clinician)
    today = run(client, headers, world.patient_a).json()
    reconsider = (stopped + timedelta(days=184)).isoformat()
    assert (today["outcome"], today["findings"][0]["reconsider_on"], today["reconsider_on"]) == (
        "blocked",
        reconsider,
        reconsider,
    )
    on_that_day = run(client, headers, world.patient_a, on_date=reconsider).json()
    assert on_that_day["outcome"] == "clear"


def test_a_screening_cannot_be_judged_for_a_past_day(client: TestClient, world: World) -> None:
    submit_intake(client, world)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    response = run(client, bearer(client, world.clinician), world.patient_a, on_date=yesterday)
    assert (response.status_code, response.json()["field"]) == (422, "on_date")


def test_a_blank_ingredient_is_refused(client: TestClient, world: World) -> None:
    submit_intake(client, world)
    response = run(client, bearer(client, world.clinician), world.patient_a, planned_ingredients=["  "])
    assert (response.status_code, response.json()["field"]) == (422, "planned_ingredients")


# ---- access -------------------------------------------------------------------------------------------


def test_a_colleague_at_another_clinic_gets_not_found_for_the_screening_as_for_a_missing_one(
    client: TestClient, world: World, db: Session
) -> None:
    submit_intake(client, world)
    screening_id = run(client, bearer(client, world.clinician), world.patient_a).json()["id"]
    headers = bearer(client, world.colleague)
    response = client.get(f"/api/v1/screenings/{screening_id}", headers=headers)
    missing = client.get("/api/v1/screenings/999999", headers=headers)
    assert (response.status_code, response.json()["code"]) == (404, "screening-not-found")
    assert (missing.status_code, missing.json()["detail"]) == (404, response.json()["detail"])
    assert run(client, headers, world.patient_a).status_code == 404
    assert client.get(f"/api/v1/patients/{world.patient_a}/screenings", headers=headers).status_code == 404
    override = client.post(
        f"/api/v1/screenings/{screening_id}/overrides",
        json={"rule_code": "anticoagulant", "reason": "Discussed with the GP."},
        headers=headers,
    )
    assert override.status_code == 404
    denied = [e.target_id for e in audit_events(db, "screening.read") if e.outcome == "denied"]
    assert denied == [str(screening_id), "999999"]


def test_a_patient_neither_runs_nor_reads_screenings(client: TestClient, world: World) -> None:
    submit_intake(client, world)
    screening_id = run(client, bearer(client, world.clinician), world.patient_a).json()["id"]
    headers = bearer(client, world.patient_user)
    assert run(client, headers, world.patient_a).status_code == 403
    assert client.get(f"/api/v1/screenings/{screening_id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/patients/{world.patient_a}/screenings", headers=headers).status_code == 403


def test_screenings_are_listed_newest_first_and_reads_are_audited(
    client: TestClient, world: World, db: Session
) -> None:
    headers = bearer(client, world.admin)
    url = f"/api/v1/patients/{world.patient_a}/screenings"
    assert client.get(f"{url}/latest", headers=headers).status_code == 404
    submit_intake(client, world)
    first = run(client, headers, world.patient_a).json()["id"]
    second = run(client, headers, world.patient_a).json()["id"]
    assert [s["id"] for s in client.get(url, headers=headers).json()] == [second, first]
    assert client.get(f"{url}/latest", headers=headers).json()["id"] == second
    assert client.get(f"/api/v1/screenings/{first}", headers=headers).json()["id"] == first
    reads = [e for e in audit_events(db, "screening.read") if e.outcome == "success"]
    assert len(reads) == 3
    assert all(e.patient_id == world.patient_a for e in reads)


# ---- overrides ----------------------------------------------------------------------------------------


def _relative_screening(client: TestClient, world: World) -> int:
    submit_intake(client, world, **RELATIVE_INTAKE)
    return int(run(client, bearer(client, world.clinician), world.patient_a).json()["id"])


def override(
    client: TestClient, headers: dict[str, str], screening_id: int, rule_code: str, reason: str
) -> Any:
    return client.post(
        f"/api/v1/screenings/{screening_id}/overrides",
        json={"rule_code": rule_code, "reason": reason},
        headers=headers,
    )


def test_a_practitioner_overrides_relative_findings_until_the_screening_is_cleared(
    client: TestClient, world: World, db: Session
) -> None:
    screening_id = _relative_screening(client, world)
    headers = bearer(client, world.clinician)
    first = override(
        client, headers, screening_id, "anticoagulant", "  GP confirmed INR stable; pressure applied. "
    )
    assert first.status_code == 201, first.text
    assert (first.json()["rule_code"], first.json()["reason"]) == (
        "anticoagulant",
        "GP confirmed INR stable; pressure applied.",
    )
    halfway = client.get(f"/api/v1/screenings/{screening_id}", headers=headers).json()
    assert (halfway["cleared"], halfway["pending_overrides"]) == (False, ["herpes-history"])
    assert {f["code"]: f["overridden"] for f in halfway["findings"]} == {
        "anticoagulant": True,
        "herpes-history": False,
    }
    admin = override(
        client,
        bearer(client, world.admin),
        screening_id,
        "herpes-history",
        "Aciclovir prescribed from today.",
    )
    assert admin.status_code == 201
    done = client.get(f"/api/v1/screenings/{screening_id}", headers=headers).json()
    assert (done["cleared"], done["pending_overrides"], len(done["overrides"])) == (True, [], 2)
    events = audit_events(db, "screening.overridden")
    assert [(e.outcome, e.details["rule_code"]) for e in events] == [
        ("success", "anticoagulant"),
        ("success", "herpes-history"),
    ]
    assert "INR" not in str(events[0].details)


@pytest.mark.parametrize(
    ("rule_code", "reason", "status", "code", "field"),
    [
        ("pregnancy", "Patient insists, signed waiver.", 409, "not-overridable", "rule_code"),
        ("epilepsy", "Not a finding of this screening.", 422, "unknown-rule", "rule_code"),
        ("no-such-rule", "Not a rule at all, anywhere.", 422, "unknown-rule", "rule_code"),
        ("anticoagulant", "ok fine", 422, "reason-too-short", "reason"),
        ("anticoagulant", "          ", 422, "reason-too-short", "reason"),
    ],
)
def test_overrides_are_refused_for_blocking_or_unknown_findings_and_empty_reasons(
    client: TestClient,
    world: World,
    db: Session,
    rule_code: str,
    reason: str,
    status: int,
    code: str,
    field: str,
) -> None:
    submit_intake(client, world, pregnant=True, **RELATIVE_INTAKE)
    screening_id = run(client, bearer(client, world.clinician), world.patient_a).json()["id"]
    response = override(client, bearer(client, world.clinician), screening_id, rule_code, reason)
    assert (response.status_code, response.json()["code"], response.json().get("field")) == (
        status,
        code,
        field,
    )
    assert count(db, "screening_override") == 0
    [denied] = audit_events(db, "screening.overridden")
    assert (denied.outcome, denied.details["code"]) == ("denied", code)


def test_a_finding_is_overridden_once(client: TestClient, world: World, db: Session) -> None:
    screening_id = _relative_screening(client, world)
    headers = bearer(client, world.clinician)
    assert (
        override(client, headers, screening_id, "anticoagulant", "Discussed with the GP.").status_code == 201
    )
    again = override(client, headers, screening_id, "anticoagulant", "Discussed with the GP again.")
    assert (again.status_code, again.json()["code"]) == (409, "already-overridden")
    assert count(db, "screening_override") == 1


def test_front_desk_staff_cannot_override(client: TestClient, world: World, db: Session) -> None:
    screening_id = _relative_screening(client, world)
    response = override(
        client, bearer(client, world.receptionist), screening_id, "anticoagulant", "GP said fine."
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission-denied")
    assert count(db, "screening_override") == 0


def _principal(db: Session, email: str, role: Role, clinic_ids: set[int]) -> Principal:
    user = db.scalars(select(User).where(User.email == email)).one()
    return Principal(user.id, email, user.full_name, role, frozenset(clinic_ids))


def test_the_service_itself_lets_only_practitioners_and_admins_override(
    client: TestClient, world: World, db: Session
) -> None:
    screening_id = _relative_screening(client, world)
    receptionist = _principal(db, world.receptionist, Role.RECEPTIONIST, {world.clinic_a})
    with pytest.raises(Forbidden) as refused:
        service.add_override(db, receptionist, screening_id, "anticoagulant", "Because I say so.")
    assert refused.value.code == "practitioner-only"
    outsider = _principal(db, world.colleague, Role.PRACTITIONER, {world.clinic_b})
    with pytest.raises(NotFound):
        service.add_override(db, outsider, screening_id, "anticoagulant", "From the other clinic.")


# ---- clearance for later steps (booking, session) --------------------------------------------------


def _result(db: Session, screening_id: int) -> ScreeningResult:
    db.rollback()
    return db.get_one(ScreeningResult, screening_id)


def test_require_cleared_refuses_a_contraindicated_patient_naming_the_rules_and_the_date(
    client: TestClient, world: World, db: Session
) -> None:
    performed = TODAY - timedelta(days=10)
    submit_intake(
        client,
        world,
        previous_procedures=[
            {"procedure": "Peel", "category": "peel", "performed_on": performed.isoformat()}
        ],
        vaccination_on=(TODAY - timedelta(days=2)).isoformat(),
        **RELATIVE_INTAKE,
    )
    screening_id = run(client, bearer(client, world.clinician), world.patient_a).json()["id"]
    with pytest.raises(Conflict) as refused:
        service.require_cleared(db, _result(db, screening_id))
    problem = refused.value.problem()
    assert (problem["status"], problem["code"]) == (409, "contraindicated")
    assert problem["rule_codes"] == ["recent-peel", "recent-vaccination"]
    assert problem["reconsider_on"] == (performed + timedelta(days=42)).isoformat()
    assert refused.value.refusal is not None


def test_require_cleared_has_no_date_when_a_blocking_finding_is_not_a_matter_of_waiting(
    client: TestClient, world: World, db: Session
) -> None:
    submit_intake(client, world, conditions=["coagulation_disorder"], skin_problems=["warts"])
    screening_id = run(client, bearer(client, world.clinician), world.patient_a).json()["id"]
    with pytest.raises(Conflict) as refused:
        service.require_cleared(db, _result(db, screening_id))
    assert (refused.value.code, refused.value.extra["reconsider_on"]) == ("contraindicated", None)
    assert refused.value.extra["rule_codes"] == ["coagulation-disorder", "active-skin-problem"]


def test_require_cleared_wants_an_override_for_each_relative_finding(
    client: TestClient, world: World, db: Session
) -> None:
    screening_id = _relative_screening(client, world)
    with pytest.raises(Conflict) as refused:
        service.require_cleared(db, _result(db, screening_id))
    assert (refused.value.code, refused.value.extra["rule_codes"]) == (
        "override-required",
        ["anticoagulant", "herpes-history"],
    )
    headers = bearer(client, world.clinician)
    override(client, headers, screening_id, "anticoagulant", "Discussed with the GP.")
    override(client, headers, screening_id, "herpes-history", "Valaciclovir prescribed.")
    service.require_cleared(db, _result(db, screening_id))  # no longer refuses


def test_require_cleared_lets_a_clear_screening_through(
    client: TestClient, world: World, db: Session
) -> None:
    submit_intake(client, world)
    screening_id = run(client, bearer(client, world.clinician), world.patient_a).json()["id"]
    service.require_cleared(db, _result(db, screening_id))
