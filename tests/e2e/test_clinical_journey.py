"""One patient's whole course of facial mesotherapy, over the HTTP API, on a simulated calendar.

Ada (clinic A) is consulted, treated three times within the course's interval window, reports an
expected reaction and then a red flag, which the clinician handles as an adverse event naming the
lot; the lot is then recalled and the recall finds her three sessions. The clock is moved with
time_machine, so the interval, numbing-wait and check-in rules all run against the dates they
would see in a clinic. Dates are in winter, when the clinics' Europe/London time is UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import verify_chain
from mesoclinic.models import AuditEvent
from tests.support import World, bearer
from tests.treatment.helpers import (
    API,
    add_credential,
    cheek_injection,
    create_product,
    injection,
    ok,
    publish_treatment_consent,
    receive_lot,
    sign_consent,
    user_id,
)

CONSULTATION = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def on(day: date, hour: int = 10) -> time_machine.travel:
    """The clock at ``hour`` o'clock (UTC, which is clinic time in winter) on ``day``."""
    return time_machine.travel(datetime(day.year, day.month, day.day, hour, tzinfo=UTC), tick=True)


def audit_count(db: Session, action: str, **where: Any) -> int:
    db.rollback()
    statement = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    for column, value in where.items():
        statement = statement.where(getattr(AuditEvent, column) == value)
    return int(db.scalar(statement) or 0)


def test_a_patient_goes_from_intake_to_recall_of_the_lot_she_was_treated_with(
    client: TestClient, world: World, db: Session
) -> None:
    ada = world.patient_a

    # --- Consultation day: credential, intake, screening, assessment, cocktail, course, consent --
    with time_machine.travel(CONSULTATION, tick=True):
        owner = bearer(client, world.admin)
        clinician = bearer(client, world.clinician)
        patient = bearer(client, world.patient_user)
        clinician_id = user_id(client, clinician)

        credential = add_credential(
            client, owner, clinician_id, valid_from=date(2026, 1, 1), expires_on=date(2028, 12, 31)
        )
        assert credential["scope"] == "mesotherapy"
        standing = {
            p["user_id"]: p["credential"] for p in ok(client.get(f"{API}/practitioners", headers=owner))
        }
        assert standing[clinician_id]["may_treat"] is True

        # Ada answers the intake questionnaire herself, on her phone.
        intake = ok(
            client.post(
                f"{API}/patients/{ada}/intakes",
                json={"pregnant": False, "breastfeeding": False, "fitzpatrick": 3, "conditions": []},
                headers=patient,
            ),
            201,
        )
        assert (intake["source"], intake["patient_id"]) == ("patient", ada)

        screening = ok(client.post(f"{API}/patients/{ada}/screenings", json={}, headers=clinician), 201)
        assert (screening["outcome"], screening["cleared"], screening["intake_id"]) == (
            "clear",
            True,
            intake["id"],
        )

        assessment = ok(
            client.post(
                f"{API}/patients/{ada}/assessments",
                json={
                    "glogau": 2,
                    "fitzpatrick": 3,
                    "goals": ["hydration", "pigmentation"],
                    "findings": [
                        {
                            "concern": "fine_lines",
                            "zone": "crows_feet",
                            "side": "L",
                            "scale": "merz_crows_feet",
                            "value": 2,
                            "components": {"state": "rest"},
                        },
                        {"concern": "laxity", "zone": "nasolabial", "side": "R", "scale": "wsrs", "value": 3},
                        {
                            "concern": "dehydration",
                            "zone": "full_face",
                            "scale": "vas_hydration",
                            "value": 30,
                            "method": "blinded photo panel",
                        },
                        {
                            "concern": "pigmentation",
                            "zone": "full_face",
                            "scale": "masi",
                            "components": {
                                region: {"area": 2, "darkness": 2, "homogeneity": 1}
                                for region in ("forehead", "malar_right", "malar_left", "chin")
                            },
                        },
                    ],
                },
                headers=clinician,
            ),
            201,
        )
        scores = {f["scale"]: f["value"] for f in assessment["findings"]}
        assert scores == {"merz_crows_feet": 2, "wsrs": 3, "vas_hydration": 30, "masi": 6.0}

        proposal = ok(
            client.post(
                f"{API}/patients/{ada}/formulations",
                json={"assessment_id": assessment["id"]},
                headers=clinician,
            ),
            201,
        )
        assert proposal["status"] == "proposed"
        proposed = [i["code"] for i in proposal["proposed"]]
        assert proposed, "the assessment's concerns should yield at least one ingredient"
        formulation = ok(
            client.post(
                f"{API}/formulations/{proposal['id']}/decide",
                json={"final": [{"code": code} for code in proposed], "note": "As proposed."},
                headers=clinician,
            )
        )
        assert formulation["status"] == "final"
        assert [i["code"] for i in formulation["final"]] == proposed

        course = ok(
            client.post(
                f"{API}/patients/{ada}/courses",
                json={"formulation_id": formulation["id"], "sessions_planned": 3, "starts_on": "2027-01-11"},
                headers=clinician,
            ),
            201,
        )
        assert (course["status"], course["sessions_planned"]) == ("active", 3)
        session_days = [date.fromisoformat(d) for d in course["planned_dates"]]
        assert session_days[0] == date(2027, 1, 11)
        for earlier, later in zip(session_days, session_days[1:], strict=False):
            assert course["interval_min_days"] <= (later - earlier).days <= course["interval_max_days"]

        text = publish_treatment_consent(client, owner, world.clinic_a)
        signature = sign_consent(client, patient, ada, text["id"], "Ada Lovelace")
        assert signature["witnessed_by_user_id"] is None  # signed by Ada in the portal
        consents = ok(client.get(f"{API}/patients/{ada}/consents", headers=patient))
        assert consents["status"]["treatment"] == "valid"

        product = create_product(client, owner, world.clinic_a)
        lot = receive_lot(client, owner, product["id"], "L1", expires_on=date(2027, 12, 31), quantity=10)
        assert (lot["state"], lot["stock"]) == ("usable", 10)

    # --- Three sessions, each on its planned day -------------------------------------------------
    sessions = []
    for number, day in enumerate(session_days, start=1):
        with on(day):
            session = ok(
                client.post(f"{API}/courses/{course['id']}/sessions", json={}, headers=clinician), 201
            )
            assert (session["session_number"], session["status"]) == (number, "in_progress")
            assert session["consent_record_id"] == signature["id"]
            # The screening is re-run on the day, not carried over from the consultation.
            assert session["screening_result_id"] != screening["id"]
            assert (
                session["checklist"]["screening_confirmed"]["screening_id"] == session["screening_result_id"]
            )
            url = f"{API}/sessions/{session['id']}"

            ok(client.post(f"{url}/steps/skin-cleansed", headers=clinician))
            applied_at = datetime.now(UTC) - timedelta(minutes=25)
            ok(
                client.post(
                    f"{url}/steps/numbing",
                    json={"product_name": "EMLA 5% cream", "applied_at": applied_at.isoformat()},
                    headers=clinician,
                )
            )
            zones = [
                injection(product["id"], lot["id"]),
                cheek_injection(product["id"], lot["id"], "L"),
                cheek_injection(product["id"], lot["id"], "R"),
            ]
            for body in zones:
                recorded = ok(client.post(f"{url}/injections", json=body, headers=clinician), 201)
                assert recorded["lot_id"] == lot["id"]
                assert len(recorded["chart_points"]) == body["points"]

            signed = ok(client.post(f"{url}/sign", json={"pain_score": 2 + number % 2}, headers=clinician))
            assert signed["status"] == "signed"
            assert signed["signed_at"] is not None
            assert (signed["total_points"], signed["total_volume_ml"]) == (10, 0.14)
            sessions.append(signed)

            course = ok(client.get(f"{API}/courses/{course['id']}", headers=clinician))
            assert course["status"] == ("completed" if number == 3 else "active")

    # After the last session the course is complete and maintenance falls due about 6 months on.
    last_day = session_days[-1]
    assert course["completed_on"] == last_day.isoformat()
    maintenance_due = date.fromisoformat(course["maintenance_due_on"])
    assert (maintenance_due - last_day).days == course["maintenance_interval_days"]
    assert 150 <= course["maintenance_interval_days"] <= 210
    history = ok(client.get(f"{API}/patients/{ada}/sessions", headers=clinician))
    assert [(s["session_number"], s["status"]) for s in history] == [
        (1, "signed"),
        (2, "signed"),
        (3, "signed"),
    ]

    # --- Aftercare: an expected reaction on day 1, a red flag at week 4 --------------------------
    last = sessions[-1]
    with on(last_day + timedelta(days=1), hour=18):
        patient = bearer(client, world.patient_user)
        plan = ok(client.get(f"{API}/sessions/{last['id']}/aftercare", headers=patient))
        scheduled = {c["label"]: c for c in plan["checkins"]}
        assert scheduled["day1"]["due_on"] == (last_day + timedelta(days=1)).isoformat()
        assert scheduled["week4"]["due_on"] == (last_day + timedelta(days=28)).isoformat()
        assert "new_painful_nodule" in plan["red_flags"]

        day1 = ok(
            client.post(
                f"{API}/checkins/{scheduled['day1']['id']}",
                json={"symptoms": {"redness": 1, "bumps": 1}, "note": "A little pink."},
                headers=patient,
            )
        )
        assert day1["escalation"] is None
        assert day1["checkin"]["completed_at"] is not None

    with on(last_day + timedelta(days=28), hour=8):
        patient = bearer(client, world.patient_user)
        week4 = ok(
            client.post(
                f"{API}/checkins/{scheduled['week4']['id']}",
                json={"symptoms": {}, "red_flags": ["new_painful_nodule"]},
                headers=patient,
            )
        )
        raised = week4["escalation"]
        assert raised is not None
        assert (raised["urgency"], raised["status"], raised["session_id"]) == ("urgent", "open", last["id"])
        assert [r["code"] for r in raised["reasons"]] == ["red-flag:new_painful_nodule"]

        clinician = bearer(client, world.clinician)
        queue = ok(client.get(f"{API}/escalations", headers=clinician))
        assert [(e["id"], e["urgency"]) for e in queue] == [(raised["id"], "urgent")]

        acknowledged = ok(client.post(f"{API}/escalations/{raised['id']}/acknowledge", headers=clinician))
        assert acknowledged["status"] == "acknowledged"
        resolved = ok(
            client.post(
                f"{API}/escalations/{raised['id']}/resolve",
                json={"note": "Seen in clinic; nodule drained and sent for culture."},
                headers=clinician,
            )
        )
        assert (resolved["status"], resolved["resolved_at"] is not None) == ("resolved", True)
        assert ok(client.get(f"{API}/escalations", headers=clinician)) == []

        event = ok(
            client.post(
                f"{API}/patients/{ada}/adverse-events",
                json={
                    "session_id": last["id"],
                    "suspected_lot_id": lot["id"],
                    "escalation_id": raised["id"],
                    "code": "nodule",
                    "description": "Painful nodule at a left cheek injection point.",
                    "onset_on": (last_day + timedelta(days=26)).isoformat(),
                    "seriousness": "non_serious",
                    "severity": "moderate",
                    "outcome": "recovering",
                },
                headers=clinician,
            ),
            201,
        )
        assert (event["suspected_lot_id"], event["escalation_id"]) == (lot["id"], raised["id"])

        # --- The clinic recalls the lot and finds everyone who received it -------------------------
        owner = bearer(client, world.admin)
        recalled = ok(
            client.post(
                f"{API}/lots/{lot['id']}/recall", json={"reason": "Suspected contamination"}, headers=owner
            )
        )
        assert (recalled["state"], recalled["stock"]) == ("recalled", 7)  # one unit per session
        recipients = ok(client.get(f"{API}/lots/{lot['id']}/recipients", headers=owner))
        assert recipients["patient_count"] == 1
        assert {s["patient_id"] for s in recipients["sessions"]} == {ada}
        assert sorted(
            (s["session_id"], s["session_date"], s["units_used"]) for s in recipients["sessions"]
        ) == [(s["id"], day.isoformat(), 1) for s, day in zip(sessions, session_days, strict=True)]
        assert all(s["session_status"] == "signed" for s in recipients["sessions"])

    # --- Everything was audited, and the audit chain is intact -----------------------------------
    db.rollback()
    assert verify_chain(db) is None
    assert audit_count(db, "session.signed", patient_id=ada) == 3
    assert audit_count(db, "escalation.raised", patient_id=ada, target_id=str(raised["id"])) == 1
    assert audit_count(db, "adverse_event.reported", patient_id=ada, target_id=str(event["id"])) == 1
    assert audit_count(db, "inventory.lot.recalled", target_id=str(lot["id"])) == 1
    assert audit_count(db, "aftercare.checkin", patient_id=ada) == 2
    assert audit_count(db, "consent.signed", patient_id=ada) == 1
