"""Treatment sessions over the API: the guarded sequence, its refusals, access, immutability.

Every refusal is checked for its problem ``code`` (and ``field`` for invalid input), for leaving
the database as it was, and, where the refusing domain audits refusals, for the denied audit row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mesoclinic.models import AuditEvent, TreatmentSession
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.support import World
from tests.treatment.helpers import (
    API,
    NUMBING_LEAD,
    Ready,
    add_credential,
    cheek_injection,
    clinic_today,
    create_product,
    injection,
    ok,
    prepare,
    ready_patient,
    receive_lot,
    sign_consent,
    start_session,
    token_headers,
    treat,
    user_id,
)


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def events(db: Session, action: str, outcome: str = "success") -> list[AuditEvent]:
    db.rollback()
    return list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.outcome == outcome)
            .order_by(AuditEvent.id)
        )
    )


def stored_session(db: Session, session_id: int) -> TreatmentSession:
    db.rollback()
    return db.get_one(TreatmentSession, session_id)


def open_session(client: TestClient, headers: dict[str, str], ready: Ready) -> dict[str, Any]:
    session: dict[str, Any] = ok(start_session(client, headers, ready.course_id), 201)
    return session


def used_units(db: Session) -> int:
    db.rollback()
    return int(db.scalar(text("SELECT count(*) FROM stock_movement WHERE kind = 'used'")) or 0)


# --- the sequence that works ---------------------------------------------------------------------


def test_a_session_is_started_documented_signed_and_audited(
    client: TestClient, world: World, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    session = open_session(client, clinician, ready)
    assert (session["session_number"], session["status"], session["patient_id"]) == (
        1,
        "in_progress",
        world.patient_a,
    )
    assert set(session["checklist"]) == {"screening_confirmed", "consent_confirmed"}
    prepare(client, clinician, session["id"], numbing_lead=NUMBING_LEAD)

    url = f"{API}/sessions/{session['id']}/injections"
    first = ok(client.post(url, json=injection(ready.product_id, ready.lot_id), headers=clinician), 201)
    assert (first["total_volume_ml"], first["notices"]) == (0.08, [])
    deep = cheek_injection(ready.product_id, ready.lot_id) | {"technique": "papule", "depth_mm": 3.5}
    unusual = ok(client.post(url, json=deep, headers=clinician), 201)
    assert any("usual" in notice for notice in unusual["notices"])  # flagged, not refused
    assert used_units(db) == 1  # one unit of the lot per session, however many zones

    signed = ok(
        client.post(f"{API}/sessions/{session['id']}/sign", json={"pain_score": 4}, headers=clinician)
    )
    assert (signed["status"], signed["pain_score"], signed["total_points"]) == ("signed", 4, 7)
    assert [i["zone"] for i in signed["injections"]] == ["forehead", "cheek"]
    stored = stored_session(db, session["id"])
    assert (stored.status, stored.pain_score) == ("signed", 4)
    assert stored.signed_at is not None
    plan = ok(client.get(f"{API}/sessions/{session['id']}/aftercare", headers=clinician))
    assert [c["label"] for c in plan["checkins"]] == ["day1", "day3", "day7", "week4", "week8", "week12"]

    assert [e.target_id for e in events(db, "session.started")] == [str(session["id"])]
    steps = [e.details["step"] for e in events(db, "session.step")]
    assert steps == ["skin_cleansed", "numbing"]
    assert len(events(db, "session.injection")) == 2
    [signing] = events(db, "session.signed")
    assert (signing.patient_id, signing.clinic_id) == (world.patient_a, world.clinic_a)
    assert "EMLA" not in str([e.details for e in events(db, "session.step")])  # no clinical text


# --- refusals at the start -----------------------------------------------------------------------


def test_it_refuses_to_start_without_valid_consent(
    client: TestClient, world: World, db: Session, clinician: dict[str, str], admin: dict[str, str]
) -> None:
    ready = ready_patient(client, world, clinician, admin, consent=False)
    body = problem(start_session(client, clinician, ready.course_id), 409, "consent-missing")
    assert body["consent_state"] == "none"
    assert count(db, "treatment_session") == 0
    assert count(db, "screening_result") == 0  # the day's screening went with the refusal

    # A withdrawn signature does not count either.
    signature = sign_consent(client, clinician, ready.patient_id, ready.consent_text_id, "Ada Lovelace")
    ok(
        client.post(
            f"{API}/consents/{signature['id']}/withdraw",
            json={"reason": "Changed my mind"},
            headers=clinician,
        )
    )
    body = problem(start_session(client, clinician, ready.course_id), 409, "consent-missing")
    assert body["consent_state"] == "withdrawn"
    assert count(db, "treatment_session") == 0
    denied = events(db, "consent.check", outcome="denied")
    assert [e.details["consent_state"] for e in denied] == ["none", "withdrawn"]


def test_it_refuses_a_practitioner_without_a_current_credential(
    client: TestClient, world: World, db: Session, clinician: dict[str, str], admin: dict[str, str]
) -> None:
    ready = ready_patient(client, world, clinician, admin, qualify=False)
    body = problem(start_session(client, clinician, ready.course_id), 409, "practitioner-not-qualified")
    assert (body["field"], body["credential_status"]) == ("practitioner_user_id", "none")

    today = clinic_today()
    add_credential(
        client,
        admin,
        user_id(client, clinician),
        valid_from=today - timedelta(days=400),
        expires_on=today - timedelta(days=1),
    )
    body = problem(start_session(client, clinician, ready.course_id), 409, "practitioner-not-qualified")
    assert body["credential_status"] == "expired"
    assert count(db, "treatment_session") == 0
    denied = events(db, "practitioner.qualification.check", outcome="denied")
    assert [e.details["credential_status"] for e in denied] == ["none", "expired"]


def test_it_refuses_a_contraindicated_patient(
    client: TestClient, world: World, db: Session, clinician: dict[str, str], admin: dict[str, str]
) -> None:
    ready = ready_patient(client, world, clinician, admin, intake={"pregnant": True})
    body = problem(start_session(client, clinician, ready.course_id), 409, "contraindicated")
    assert "pregnancy" in body["rule_codes"]
    assert count(db, "treatment_session") == 0
    assert count(db, "screening_result") == 0
    [denied] = events(db, "screening.clearance", outcome="denied")
    assert denied.details["code"] == "contraindicated"


def test_a_relative_finding_needs_an_override_on_todays_screening(
    client: TestClient, world: World, db: Session, clinician: dict[str, str], admin: dict[str, str]
) -> None:
    ready = ready_patient(client, world, clinician, admin, intake={"conditions": ["herpes_labialis_history"]})
    body = problem(start_session(client, clinician, ready.course_id), 409, "override-required")
    assert body["rule_codes"] == ["herpes-history"]
    assert count(db, "treatment_session") == 0

    # A screening that did not check the course's cocktail cannot clear a session.
    bare = ok(client.post(f"{API}/patients/{ready.patient_id}/screenings", json={}, headers=clinician), 201)
    missed = problem(
        start_session(client, clinician, ready.course_id, screening_id=bare["id"]),
        409,
        "screening-missed-ingredients",
    )
    assert missed["unchecked"]

    course = ok(client.get(f"{API}/courses/{ready.course_id}", headers=clinician))
    cocktail = ok(client.get(f"{API}/formulations/{course['formulation_id']}", headers=clinician))
    planned = [item["code"] for item in cocktail["final"]]
    screening = ok(
        client.post(
            f"{API}/patients/{ready.patient_id}/screenings",
            json={"planned_ingredients": planned},
            headers=clinician,
        ),
        201,
    )
    assert (screening["outcome"], screening["pending_overrides"]) == ("needs_override", ["herpes-history"])
    problem(
        start_session(client, clinician, ready.course_id, screening_id=screening["id"]),
        409,
        "override-required",
    )
    ok(
        client.post(
            f"{API}/screenings/{screening['id']}/overrides",
            json={
                "rule_code": "herpes-history",
                "reason": "No outbreak for 3 years; aciclovir prophylaxis given.",
            },
            headers=clinician,
        ),
        201,
    )
    session = ok(start_session(client, clinician, ready.course_id, screening_id=screening["id"]), 201)
    assert session["screening_result_id"] == screening["id"]
    assert count(db, "screening_result") == 2  # the overridden screening was used, not re-run


def test_it_refuses_a_session_too_soon_after_the_previous_one(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    treat(client, clinician, ready)
    course = ok(client.get(f"{API}/courses/{ready.course_id}", headers=clinician))
    body = problem(start_session(client, clinician, ready.course_id), 409, "interval-too-short")
    assert body["earliest"] == (clinic_today() + timedelta(days=course["interval_min_days"])).isoformat()
    assert count(db, "treatment_session") == 1
    [denied] = events(db, "session.start", outcome="denied")
    assert (denied.target_id, denied.details["code"]) == (str(ready.course_id), "interval-too-short")


# --- refusals while documenting ------------------------------------------------------------------


def test_it_refuses_injections_before_the_checklist_is_complete(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    session = open_session(client, clinician, ready)
    url = f"{API}/sessions/{session['id']}/injections"
    body = problem(
        client.post(url, json=injection(ready.product_id, ready.lot_id), headers=clinician),
        409,
        "checklist-incomplete",
    )
    assert body["missing"] == ["skin_cleansed", "numbing"]
    ok(client.post(f"{API}/sessions/{session['id']}/steps/skin-cleansed", headers=clinician))
    body = problem(
        client.post(url, json=injection(ready.product_id, ready.lot_id), headers=clinician),
        409,
        "checklist-incomplete",
    )
    assert body["missing"] == ["numbing"]
    assert (count(db, "injection"), used_units(db)) == (0, 0)
    denied = events(db, "session.injection", outcome="denied")
    assert [e.details["code"] for e in denied] == ["checklist-incomplete", "checklist-incomplete"]


def test_it_refuses_injections_before_the_numbing_wait(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    session = open_session(client, clinician, ready)
    prepare(client, clinician, session["id"], numbing_lead=timedelta(minutes=5))
    body = problem(
        client.post(
            f"{API}/sessions/{session['id']}/injections",
            json=injection(ready.product_id, ready.lot_id),
            headers=clinician,
        ),
        409,
        "numbing-wait-not-honoured",
    )
    assert "ready_at" in body
    assert (count(db, "injection"), used_units(db)) == (0, 0)
    [denied] = events(db, "session.injection", outcome="denied")
    assert (denied.target_id, denied.details["code"]) == (str(session["id"]), "numbing-wait-not-honoured")


def test_numbing_applied_in_the_future_or_too_long_ago_is_invalid(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    session = open_session(client, clinician, ready)
    for lead, code in [(timedelta(minutes=-30), "time-in-future"), (timedelta(hours=5), "numbing-too-old")]:
        body = problem(
            client.post(
                f"{API}/sessions/{session['id']}/steps/numbing",
                json={"product_name": "EMLA 5% cream", "applied_at": (datetime.now(UTC) - lead).isoformat()},
                headers=clinician,
            ),
            422,
            code,
        )
        assert body["field"] == "applied_at"
    assert "numbing" not in stored_session(db, session["id"]).checklist


def test_it_refuses_expired_and_recalled_lots(
    client: TestClient, db: Session, clinician: dict[str, str], admin: dict[str, str], ready: Ready
) -> None:
    today = clinic_today()
    expired = receive_lot(
        client,
        clinician,
        ready.product_id,
        "L-OLD",
        received_on=today - timedelta(days=60),
        expires_on=today - timedelta(days=1),
    )
    recalled = receive_lot(
        client, clinician, ready.product_id, "L-BAD", expires_on=today + timedelta(days=300)
    )
    ok(
        client.post(
            f"{API}/lots/{recalled['id']}/recall", json={"reason": "Sterility failure"}, headers=admin
        )
    )
    session = open_session(client, clinician, ready)
    prepare(client, clinician, session["id"], numbing_lead=NUMBING_LEAD)
    url = f"{API}/sessions/{session['id']}/injections"

    body = problem(
        client.post(url, json=injection(ready.product_id, expired["id"]), headers=clinician),
        409,
        "lot-expired",
    )
    assert (body["field"], body["lot_id"]) == ("lot_id", expired["id"])
    body = problem(
        client.post(url, json=injection(ready.product_id, recalled["id"]), headers=clinician),
        409,
        "lot-recalled",
    )
    assert body["lot_id"] == recalled["id"]

    assert (count(db, "injection"), used_units(db)) == (0, 0)
    denied = events(db, "inventory.lot.use", outcome="denied")
    assert [(e.target_id, e.details["code"]) for e in denied] == [
        (str(expired["id"]), "lot-expired"),
        (str(recalled["id"]), "lot-recalled"),
    ]


def test_it_refuses_a_lot_of_another_product(
    client: TestClient, world: World, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    other = create_product(client, clinician, world.clinic_a, name="Polyrevitalising 3 mL")
    other_lot = receive_lot(
        client, clinician, other["id"], "PR-1", expires_on=clinic_today() + timedelta(days=90)
    )
    session = open_session(client, clinician, ready)
    prepare(client, clinician, session["id"], numbing_lead=NUMBING_LEAD)
    body = problem(
        client.post(
            f"{API}/sessions/{session['id']}/injections",
            json=injection(ready.product_id, other_lot["id"]),
            headers=clinician,
        ),
        422,
        "lot-product-mismatch",
    )
    assert body["field"] == "lot_id"
    assert (count(db, "injection"), used_units(db)) == (0, 0)


def test_it_refuses_a_depth_beyond_the_needle(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    session = open_session(client, clinician, ready)
    prepare(client, clinician, session["id"], numbing_lead=NUMBING_LEAD)
    too_deep = injection(ready.product_id, ready.lot_id, depth_mm=5.0, needle_length_mm=4.0)
    body = problem(
        client.post(f"{API}/sessions/{session['id']}/injections", json=too_deep, headers=clinician),
        422,
        "depth-beyond-needle",
    )
    assert body["field"] == "depth_mm"
    assert (count(db, "injection"), used_units(db)) == (0, 0)


def test_it_refuses_to_sign_a_session_without_injections(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    session = open_session(client, clinician, ready)
    prepare(client, clinician, session["id"], numbing_lead=NUMBING_LEAD)
    problem(
        client.post(f"{API}/sessions/{session['id']}/sign", json={"pain_score": 2}, headers=clinician),
        409,
        "no-injections",
    )
    stored = stored_session(db, session["id"])
    assert (stored.status, stored.signed_at, stored.pain_score) == ("in_progress", None, None)
    assert count(db, "aftercare_checkin") == 0
    # Nothing to amend yet: an unsigned session is corrected directly.
    problem(
        client.post(
            f"{API}/sessions/{session['id']}/amendments",
            json={"reason": "Wrong zone recorded earlier", "changes": {"zone": "chin"}},
            headers=clinician,
        ),
        409,
        "session-not-signed",
    )
    assert count(db, "session_amendment") == 0
    assert [(e.action, e.details["code"]) for e in events(db, "session.sign", outcome="denied")] == [
        ("session.sign", "no-injections")
    ]
    assert [e.details["code"] for e in events(db, "session.amend", outcome="denied")] == [
        "session-not-signed"
    ]


# --- a signed session is final -------------------------------------------------------------------


def test_a_signed_session_cannot_be_signed_again_or_documented(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    signed = treat(client, clinician, ready, pain_score=3)
    url = f"{API}/sessions/{signed['id']}"
    problem(
        client.post(f"{url}/sign", json={"pain_score": 8}, headers=clinician), 409, "session-already-signed"
    )
    problem(client.post(f"{url}/steps/skin-cleansed", headers=clinician), 409, "session-signed")
    problem(
        client.post(
            f"{url}/steps/numbing", json={"declined_reason": "Patient prefers none"}, headers=clinician
        ),
        409,
        "session-signed",
    )
    problem(
        client.post(f"{url}/injections", json=injection(ready.product_id, ready.lot_id), headers=clinician),
        409,
        "session-signed",
    )
    stored = stored_session(db, signed["id"])
    assert (stored.pain_score, stored.checklist) == (3, signed["checklist"])
    assert (count(db, "injection"), used_units(db), len(events(db, "session.signed"))) == (2, 1, 1)
    denied = events(db, "session.sign", outcome="denied") + events(db, "session.document", outcome="denied")
    assert [(e.target_id, e.details["code"]) for e in denied] == [
        (str(signed["id"]), "session-already-signed")
    ] + [(str(signed["id"]), "session-signed")] * 3


def test_an_amendment_is_recorded_beside_the_signed_session(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    signed = treat(client, clinician, ready, pain_score=3)
    amendment = ok(
        client.post(
            f"{API}/sessions/{signed['id']}/amendments",
            json={"reason": "Patient later reported the pain as 5 out of 10.", "changes": {"pain_score": 5}},
            headers=clinician,
        ),
        201,
    )
    assert amendment["changes"] == {"pain_score": 5}
    read = ok(client.get(f"{API}/sessions/{signed['id']}", headers=clinician))
    assert read["pain_score"] == 3  # the original stands
    assert [(a["id"], a["reason"]) for a in read["amendments"]] == [
        (amendment["id"], "Patient later reported the pain as 5 out of 10.")
    ]
    [event] = events(db, "session.amended")
    assert event.details == {"amendment_id": amendment["id"], "fields": ["pain_score"]}
    assert len(events(db, "session.read")) == 1


def test_the_database_refuses_to_change_a_signed_session(
    client: TestClient, db: Session, clinician: dict[str, str], ready: Ready
) -> None:
    signed = treat(client, clinician, ready, pain_score=3)
    db.rollback()
    with pytest.raises(DBAPIError):
        db.execute(text("UPDATE treatment_session SET pain_score = 9 WHERE id = :id"), {"id": signed["id"]})
    db.rollback()
    with pytest.raises(DBAPIError):
        db.execute(text("DELETE FROM injection WHERE session_id = :id"), {"id": signed["id"]})
    db.rollback()
    with pytest.raises(DBAPIError):
        db.execute(
            text(
                "INSERT INTO injection (session_id, zone, side, technique, depth_mm, volume_per_point_ml, "
                "points, total_volume_ml, needle_gauge, needle_length_mm, product_id, lot_id, chart_points) "
                "VALUES (:s, 'chin', 'M', 'papule', 1.5, 0.02, 2, 0.04, 32, 4, :p, :l, '[]')"
            ),
            {"s": signed["id"], "p": ready.product_id, "l": ready.lot_id},
        )
    db.rollback()
    assert stored_session(db, signed["id"]).pain_score == 3
    assert count(db, "injection") == 2


# --- who may see and write -----------------------------------------------------------------------


def test_a_colleague_at_another_clinic_cannot_find_the_session(
    client: TestClient, world: World, db: Session, settings: Settings, clinician: dict[str, str], ready: Ready
) -> None:
    session = open_session(client, clinician, ready)
    colleague = token_headers(db, settings, world.colleague)
    problem(client.get(f"{API}/sessions/{session['id']}", headers=colleague), 404, "session-not-found")
    assert client.get(f"{API}/patients/{ready.patient_id}/sessions", headers=colleague).status_code == 404
    problem(
        client.post(f"{API}/sessions/{session['id']}/steps/skin-cleansed", headers=colleague),
        404,
        "session-not-found",
    )
    assert (
        client.post(f"{API}/courses/{ready.course_id}/sessions", json={}, headers=colleague).status_code
        == 404
    )
    assert "skin_cleansed" not in stored_session(db, session["id"]).checklist
    assert count(db, "treatment_session") == 1


def test_a_receptionist_neither_reads_nor_documents_a_session(
    client: TestClient, world: World, db: Session, settings: Settings, clinician: dict[str, str], ready: Ready
) -> None:
    session = open_session(client, clinician, ready)
    desk = token_headers(db, settings, world.receptionist)
    url = f"{API}/sessions/{session['id']}"
    for response in [
        client.get(url, headers=desk),
        client.post(f"{API}/courses/{ready.course_id}/sessions", json={}, headers=desk),
        client.post(f"{url}/steps/skin-cleansed", headers=desk),
        client.post(f"{url}/injections", json=injection(ready.product_id, ready.lot_id), headers=desk),
        client.post(f"{url}/sign", json={"pain_score": 1}, headers=desk),
    ]:
        assert response.status_code == 403, response.text
    stored = stored_session(db, session["id"])
    assert (stored.status, "skin_cleansed" in stored.checklist) == ("in_progress", False)
    assert count(db, "treatment_session") == 1


def test_a_patient_sees_only_her_own_sessions_and_writes_none(
    client: TestClient, world: World, db: Session, settings: Settings, clinician: dict[str, str], ready: Ready
) -> None:
    signed = treat(client, clinician, ready)
    ada = token_headers(db, settings, world.patient_user)
    assert [s["id"] for s in ok(client.get(f"{API}/patients/{world.patient_a}/sessions", headers=ada))] == [
        signed["id"]
    ]
    assert client.get(f"{API}/patients/{world.other_patient_a}/sessions", headers=ada).status_code == 404
    amend = {"reason": "I think the pain was higher.", "changes": {"pain_score": 6}}
    assert (
        client.post(f"{API}/sessions/{signed['id']}/amendments", json=amend, headers=ada).status_code == 403
    )
