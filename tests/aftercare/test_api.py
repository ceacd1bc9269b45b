"""Aftercare over the API: check-ins, escalation and its queue, adverse events and follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import AdverseEvent, AftercareCheckin, AuditEvent, Escalation, User
from mesoclinic.settings import Settings
from tests.aftercare.conftest import Treated
from tests.conftest import count
from tests.support import World
from tests.treatment.helpers import API, clinic_today, create_product, ok, receive_lot, token_headers


def days_later(days: int) -> time_machine.travel:
    return time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)


def answer(client: TestClient, headers: dict[str, str], checkin_id: int, **answers: Any) -> Any:
    return client.post(f"{API}/checkins/{checkin_id}", json=answers, headers=headers)


def report(client: TestClient, headers: dict[str, str], patient_id: int, **answers: Any) -> Any:
    return client.post(f"{API}/patients/{patient_id}/checkins", json=answers, headers=headers)


def stored_checkin(db: Session, checkin_id: int) -> AftercareCheckin:
    db.rollback()
    return db.get_one(AftercareCheckin, checkin_id)


def stored_escalation(db: Session, escalation_id: int) -> Escalation:
    db.rollback()
    return db.get_one(Escalation, escalation_id)


def events(db: Session, action: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def uid(db: Session, email: str) -> int:
    db.rollback()
    return int(db.scalars(select(User.id).where(User.email == email)).one())


def raise_escalation(client: TestClient, headers: dict[str, str], treated: Treated) -> dict[str, Any]:
    result = ok(answer(client, headers, treated.checkins["day1"]["id"], red_flags=["fever"]))
    escalation: dict[str, Any] = result["escalation"]
    assert escalation["urgency"] == "urgent"
    return escalation


# --- check-ins ----------------------------------------------------------------------------------


def test_a_patient_answers_her_check_in_and_an_expected_reaction_is_not_escalated(
    client: TestClient, world: World, db: Session, patient: dict[str, str], treated: Treated
) -> None:
    due = ok(client.get(f"{API}/patients/{world.patient_a}/checkins?open_only=true", headers=patient))
    assert [c["label"] for c in due] == ["day1", "day3", "day7", "week4", "week8", "week12"]

    result = ok(
        answer(client, patient, treated.checkins["day1"]["id"], symptoms={"redness": 1, "swelling": 1})
    )
    assert result["escalation"] is None
    assert result["advice"] == ["Thank you. Everything you reported is within what we expect."]
    stored = stored_checkin(db, treated.checkins["day1"]["id"])
    assert stored.completed_at is not None
    assert stored.submitted_by_user_id == uid(db, world.patient_user)
    assert stored.answers == {"symptoms": {"redness": 1, "swelling": 1}, "red_flags": [], "note": ""}
    assert count(db, "escalation") == 0
    [event] = events(db, "aftercare.checkin")
    assert (event.patient_id, event.details) == (world.patient_a, {"escalated": False})

    still_due = ok(client.get(f"{API}/patients/{world.patient_a}/checkins?open_only=true", headers=patient))
    assert [c["label"] for c in still_due] == ["day3", "day7", "week4", "week8", "week12"]


def test_staff_answer_a_check_in_on_the_patients_behalf(
    client: TestClient, world: World, db: Session, settings: Settings, treated: Treated
) -> None:
    desk = token_headers(db, settings, world.receptionist)
    ok(answer(client, desk, treated.checkins["day1"]["id"], symptoms={"itching": 1}, note="Phoned in."))
    assert stored_checkin(db, treated.checkins["day1"]["id"]).submitted_by_user_id == uid(
        db, world.receptionist
    )


def test_it_names_an_unknown_symptom_or_red_flag_and_records_nothing(
    client: TestClient, db: Session, patient: dict[str, str], treated: Treated
) -> None:
    checkin_id = treated.checkins["day1"]["id"]
    unknown_symptom = answer(client, patient, checkin_id, symptoms={"hair_loss": 2})
    assert (unknown_symptom.status_code, unknown_symptom.json()["field"]) == (422, "symptoms")
    unknown_flag = answer(client, patient, checkin_id, red_flags=["headache"])
    assert (unknown_flag.status_code, unknown_flag.json()["field"]) == (422, "red_flags")
    out_of_scale = answer(client, patient, checkin_id, symptoms={"redness": 4})
    assert (out_of_scale.status_code, out_of_scale.json()["field"]) == (422, "symptoms.redness")
    assert stored_checkin(db, checkin_id).completed_at is None
    assert events(db, "aftercare.checkin") == []


def test_a_check_in_is_answered_once(
    client: TestClient, db: Session, patient: dict[str, str], treated: Treated
) -> None:
    checkin_id = treated.checkins["day1"]["id"]
    ok(answer(client, patient, checkin_id, symptoms={"redness": 1}))
    again = answer(client, patient, checkin_id, red_flags=["fever"])
    assert (again.status_code, again.json()["code"]) == (409, "checkin-already-completed")
    assert stored_checkin(db, checkin_id).answers == {"symptoms": {"redness": 1}, "red_flags": [], "note": ""}
    assert count(db, "escalation") == 0


def test_a_symptom_outlasting_its_window_is_escalated_for_routine_review(
    client: TestClient, world: World, db: Session, patient: dict[str, str], treated: Treated
) -> None:
    with days_later(5):
        result = ok(answer(client, patient, treated.checkins["day7"]["id"], symptoms={"redness": 1}))
    escalation = result["escalation"]
    assert (escalation["urgency"], escalation["status"]) == ("routine", "open")
    assert [r["code"] for r in escalation["reasons"]] == ["prolonged:redness"]
    assert (escalation["session_id"], escalation["checkin_id"]) == (
        treated.session["id"],
        treated.checkins["day7"]["id"],
    )
    [raised] = events(db, "escalation.raised")
    assert (raised.patient_id, raised.details) == (world.patient_a, {"urgency": "routine"})


def test_breathing_difficulty_is_an_emergency_and_heads_the_queue(
    client: TestClient, world: World, patient: dict[str, str], clinician: dict[str, str], treated: Treated
) -> None:
    with days_later(5):
        routine = ok(answer(client, patient, treated.checkins["day7"]["id"], symptoms={"bumps": 1}))[
            "escalation"
        ]
        emergency = ok(report(client, patient, world.patient_a, red_flags=["breathing_difficulty"]), 201)
        assert emergency["checkin"]["label"] == "report1"
        assert emergency["escalation"]["urgency"] == "emergency"
        assert "emergency services" in emergency["advice"][0]
        queue = ok(client.get(f"{API}/escalations", headers=clinician))
    assert [(e["id"], e["urgency"]) for e in queue] == [
        (emergency["escalation"]["id"], "emergency"),
        (routine["id"], "routine"),
    ]


def test_an_unscheduled_report_needs_a_signed_session(
    client: TestClient, world: World, db: Session, patient: dict[str, str]
) -> None:
    response = report(client, patient, world.patient_a, red_flags=["new_painful_nodule"])
    assert (response.status_code, response.json()["code"]) == (409, "no-signed-session")
    assert (count(db, "aftercare_checkin"), count(db, "escalation")) == (0, 0)


def test_a_patient_sees_only_her_own_check_ins(
    client: TestClient, world: World, patient: dict[str, str], treated: Treated
) -> None:
    assert client.get(f"{API}/patients/{world.other_patient_a}/checkins", headers=patient).status_code == 404
    assert report(client, patient, world.other_patient_a, red_flags=["fever"]).status_code == 404


# --- the escalation queue ----------------------------------------------------------------------


def test_the_queue_is_for_the_clinics_own_staff(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    patient: dict[str, str],
    clinician: dict[str, str],
    treated: Treated,
) -> None:
    escalation = raise_escalation(client, patient, treated)
    assert [e["id"] for e in ok(client.get(f"{API}/escalations", headers=clinician))] == [escalation["id"]]
    desk = token_headers(db, settings, world.receptionist)
    assert [e["id"] for e in ok(client.get(f"{API}/escalations", headers=desk))] == [escalation["id"]]

    colleague = token_headers(db, settings, world.colleague)
    assert ok(client.get(f"{API}/escalations", headers=colleague)) == []
    hidden = client.post(f"{API}/escalations/{escalation['id']}/acknowledge", headers=colleague)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "escalation-not-found")

    forbidden = client.get(f"{API}/escalations", headers=patient)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "staff-only")
    assert client.post(f"{API}/escalations/{escalation['id']}/acknowledge", headers=desk).status_code == 403
    assert stored_escalation(db, escalation["id"]).status == "open"


def test_an_escalation_is_acknowledged_then_resolved_once(
    client: TestClient,
    world: World,
    db: Session,
    patient: dict[str, str],
    clinician: dict[str, str],
    treated: Treated,
) -> None:
    escalation = raise_escalation(client, patient, treated)
    url = f"{API}/escalations/{escalation['id']}"

    acknowledged = ok(client.post(f"{url}/acknowledge", headers=clinician))
    assert (acknowledged["status"], acknowledged["acknowledged_at"] is not None) == ("acknowledged", True)
    twice = client.post(f"{url}/acknowledge", headers=clinician)
    assert (twice.status_code, twice.json()["code"]) == (409, "escalation-not-open")
    assert ok(client.get(f"{API}/escalations", headers=clinician)) == []
    waiting = ok(client.get(f"{API}/escalations?status=acknowledged", headers=clinician))
    assert [e["id"] for e in waiting] == [escalation["id"]]

    too_short = client.post(f"{url}/resolve", json={"note": "ok"}, headers=clinician)
    assert (too_short.status_code, too_short.json()["field"]) == (422, "note")
    resolved = ok(
        client.post(f"{url}/resolve", json={"note": "Phoned; afebrile, reassured."}, headers=clinician)
    )
    assert (resolved["status"], resolved["resolution_note"]) == ("resolved", "Phoned; afebrile, reassured.")
    again = client.post(f"{url}/resolve", json={"note": "Second attempt."}, headers=clinician)
    assert (again.status_code, again.json()["code"]) == (409, "escalation-resolved")
    late_ack = client.post(f"{url}/acknowledge", headers=clinician)
    assert (late_ack.status_code, late_ack.json()["code"]) == (409, "escalation-not-open")

    stored = stored_escalation(db, escalation["id"])
    assert (stored.status, stored.resolution_note) == ("resolved", "Phoned; afebrile, reassured.")
    clinician_id = uid(db, world.clinician)
    assert (stored.acknowledged_by_user_id, stored.resolved_by_user_id) == (clinician_id, clinician_id)
    assert [e.target_id for e in events(db, "escalation.acknowledged")] == [str(escalation["id"])]
    [closed] = events(db, "escalation.resolved")
    assert "afebrile" not in str(closed.details)  # no clinical text in the audit trail


def test_resolving_an_open_escalation_also_acknowledges_it(
    client: TestClient, db: Session, patient: dict[str, str], clinician: dict[str, str], treated: Treated
) -> None:
    escalation = raise_escalation(client, patient, treated)
    ok(
        client.post(
            f"{API}/escalations/{escalation['id']}/resolve",
            json={"note": "Seen the same day."},
            headers=clinician,
        )
    )
    stored = stored_escalation(db, escalation["id"])
    assert stored.acknowledged_at is not None
    assert stored.resolved_at is not None


# --- adverse events ----------------------------------------------------------------------------


def adverse_event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "nodule",
        "description": "Tender nodule at a cheek injection point.",
        "onset_on": clinic_today().isoformat(),
        "seriousness": "non_serious",
        "severity": "mild",
        "outcome": "ongoing",
    }
    body.update(overrides)
    return body


def test_an_adverse_event_is_validated_before_anything_is_stored(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    patient: dict[str, str],
    clinician: dict[str, str],
    treated: Treated,
) -> None:
    owner = token_headers(db, settings, world.admin)
    product_b = create_product(client, owner, world.clinic_b, name="Clinic B booster")
    lot_b = receive_lot(client, owner, product_b["id"], "B-1", expires_on=clinic_today() + timedelta(days=90))
    url = f"{API}/patients/{world.patient_a}/adverse-events"

    future = client.post(
        url, json=adverse_event(onset_on=(clinic_today() + timedelta(days=1)).isoformat()), headers=clinician
    )
    assert (future.status_code, future.json()["code"], future.json()["field"]) == (
        422,
        "onset-in-future",
        "onset_on",
    )
    elsewhere = client.post(url, json=adverse_event(suspected_lot_id=lot_b["id"]), headers=clinician)
    assert (elsewhere.status_code, elsewhere.json()["field"]) == (422, "suspected_lot_id")
    others = client.post(
        f"{API}/patients/{world.other_patient_a}/adverse-events",
        json=adverse_event(session_id=treated.session["id"]),
        headers=clinician,
    )
    assert (others.status_code, others.json()["field"]) == (422, "session_id")
    unknown_outcome = client.post(url, json=adverse_event(outcome="better"), headers=clinician)
    assert (unknown_outcome.status_code, unknown_outcome.json()["field"]) == (422, "outcome")
    assert client.post(url, json=adverse_event(), headers=patient).status_code == 403
    assert count(db, "adverse_event") == 0
    assert events(db, "adverse_event.reported") == []


def test_a_follow_up_is_a_new_row_and_the_original_report_stands(
    client: TestClient,
    world: World,
    db: Session,
    clinician: dict[str, str],
    patient: dict[str, str],
    treated: Treated,
) -> None:
    original = ok(
        client.post(
            f"{API}/patients/{world.patient_a}/adverse-events",
            json=adverse_event(session_id=treated.session["id"], suspected_lot_id=treated.ready.lot_id),
            headers=clinician,
        ),
        201,
    )
    update = {
        "description": "Nodule resolved after drainage.",
        "seriousness": "non_serious",
        "severity": "mild",
        "outcome": "resolved",
    }
    follow_up = ok(
        client.post(f"{API}/adverse-events/{original['id']}/follow-ups", json=update, headers=clinician), 201
    )
    assert follow_up["id"] != original["id"]
    assert (follow_up["follows_up_id"], follow_up["outcome"]) == (original["id"], "resolved")
    assert (follow_up["session_id"], follow_up["suspected_lot_id"], follow_up["code"]) == (
        treated.session["id"],
        treated.ready.lot_id,
        "nodule",
    )

    db.rollback()
    stored = db.get_one(AdverseEvent, original["id"])
    assert (stored.outcome, stored.description, stored.follows_up_id) == (
        "ongoing",
        "Tender nodule at a cheek injection point.",
        None,
    )
    listed = ok(client.get(f"{API}/patients/{world.patient_a}/adverse-events", headers=patient))
    assert [(e["id"], e["outcome"]) for e in listed] == [
        (original["id"], "ongoing"),
        (follow_up["id"], "resolved"),
    ]
    [reported] = events(db, "adverse_event.reported")
    assert reported.details == {"seriousness": "non_serious", "lot_id": treated.ready.lot_id}
    [followed] = events(db, "adverse_event.followed_up")
    assert followed.details == {"follows_up_id": original["id"]}


def test_a_colleague_at_another_clinic_cannot_follow_up(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    clinician: dict[str, str],
    treated: Treated,
) -> None:
    original = ok(
        client.post(
            f"{API}/patients/{world.patient_a}/adverse-events", json=adverse_event(), headers=clinician
        ),
        201,
    )
    colleague = token_headers(db, settings, world.colleague)
    update = {
        "description": "Trying to edit.",
        "seriousness": "serious",
        "severity": "severe",
        "outcome": "ongoing",
    }
    response = client.post(
        f"{API}/adverse-events/{original['id']}/follow-ups", json=update, headers=colleague
    )
    assert response.status_code == 404
    assert count(db, "adverse_event") == 1
