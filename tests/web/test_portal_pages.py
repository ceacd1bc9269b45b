"""The portal, calendar and suitability pages through the test client: access, form errors that
keep what was typed, and what each submission stores."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import AftercareCheckin, AuditEvent, Clinic, Escalation, OutboxMessage
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.support import World
from tests.treatment.helpers import clinic_today
from tests.web.conftest import HTML, Treated, post_form, sign_in, text

# --- portal ------------------------------------------------------------------------------------


def test_ada_sees_her_next_check_in_and_answers_it_with_a_red_flag(
    client: TestClient, db: Session, settings: Settings, world: World, treated: Treated
) -> None:
    csrf = sign_in(client, db, settings, world.patient_user)
    home = client.get("/portal", headers=HTML)
    assert home.status_code == 200
    day1 = treated.checkins["day1"]["id"]
    assert f'href="/portal/checkins/{day1}"' in home.text

    answered = post_form(
        client, f"/portal/checkins/{day1}", csrf, symptom_redness="2", red_flag="fever", note="shivery"
    )

    assert answered.status_code == 200, answered.text
    assert "The clinic will contact you" in text(answered.text)
    db.rollback()
    escalation = db.scalars(select(Escalation)).one()
    assert (escalation.patient_id, escalation.checkin_id, escalation.urgency) == (
        world.patient_a,
        day1,
        "urgent",
    )
    assert f'href="/portal/checkins/{day1}"' not in client.get("/portal", headers=HTML).text


def test_an_impossible_symptom_score_is_refused_and_the_answers_are_kept(
    client: TestClient, db: Session, settings: Settings, world: World, treated: Treated
) -> None:
    csrf = sign_in(client, db, settings, world.patient_user)
    day1 = treated.checkins["day1"]["id"]

    refused = post_form(
        client, f"/portal/checkins/{day1}", csrf, symptom_redness="7", red_flag="fever", note="kept note"
    )

    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert 'id="f-fever" name="red_flag" value="fever" checked' in refused.text
    assert "kept note" in refused.text
    assert count(db, "escalation") == 0
    db.rollback()
    assert db.get_one(AftercareCheckin, day1).completed_at is None


def test_staff_cannot_use_the_portal(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.clinician)
    assert client.get("/portal", headers=HTML).status_code == 403


def test_ada_cannot_open_a_check_in_that_is_not_hers(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.patient_user)
    assert client.get("/portal/checkins/999", headers=HTML).status_code == 404


def test_the_explainer_is_public_and_cites_its_sources(client: TestClient) -> None:
    page = client.get("/portal/about", headers=HTML)
    assert page.status_code == 200
    assert "https://pubmed.ncbi.nlm.nih.gov/34516073" in page.text
    assert "[clinic consensus" in page.text


# --- calendar ----------------------------------------------------------------------------------


def test_a_patient_cannot_open_the_calendar(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.patient_user)
    assert client.get("/calendar", headers=HTML).status_code == 403


def test_a_refused_booking_keeps_what_the_receptionist_chose(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.receptionist)
    assert client.get("/calendar", headers=HTML).status_code == 200
    when = f"{(clinic_today() + timedelta(days=1)).isoformat()}T10:30"

    refused = post_form(client, "/calendar/book", csrf, patient_id=str(world.patient_a), starts_at=when)

    assert refused.status_code == 422
    assert 'id="practitioner_user_id-error"' in refused.text
    assert f'value="{when}"' in refused.text
    assert f'<option value="{world.patient_a}" selected>' in refused.text
    assert count(db, "appointment") == 0


def test_a_colleague_at_clinic_b_cannot_open_clinic_a_appointments(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.colleague)
    assert client.get("/calendar/appointments/1", headers=HTML).status_code == 404


# --- the public suitability check --------------------------------------------------------------


def _request(client: TestClient, **fields: str) -> tuple[str, dict[str, str]]:
    page = client.get("/suitability", headers=HTML)
    assert page.status_code == 200
    token = page.text.split('name="public_csrf" value="')[1].split('"')[0]
    form = {"public_csrf": token, "concerns": "fine_lines", "pregnant": "yes", **fields}
    return token, form


def test_anyone_gets_an_honest_answer_and_nothing_is_stored(client: TestClient, db: Session) -> None:
    _token, form = _request(client)
    before = count(db, "audit_event")

    answer = client.post("/suitability", data=form, headers=HTML)

    assert answer.status_code == 200
    assert "Not suitable now" in answer.text
    assert "3 sessions" in text(answer.text) or "sessions of about 30 minutes" in text(answer.text)
    assert count(db, "outbox_message") == 0
    assert count(db, "audit_event") == before
    assert count(db, "patient") == 3  # the test world's, no new record


def test_a_consultation_request_without_consent_is_refused(
    client: TestClient, db: Session, world: World
) -> None:
    _token, form = _request(
        client, action="request", clinic_id=str(world.clinic_a), name="Grace", contact="g@example.org"
    )

    refused = client.post("/suitability", data=form, headers=HTML)

    assert refused.status_code == 422
    assert 'id="consent-error"' in refused.text
    assert 'value="Grace"' in refused.text
    assert count(db, "outbox_message") == 0


def test_a_consented_request_queues_one_message_to_the_clinic_and_is_audited(
    client: TestClient, db: Session, world: World
) -> None:
    db.rollback()
    db.get_one(Clinic, world.clinic_a).email = "front@clinic-a.example"
    db.commit()
    _token, form = _request(
        client,
        action="request",
        clinic_id=str(world.clinic_a),
        name="Grace",
        contact="g@example.org",
        consent="yes",
    )

    sent = client.post("/suitability", data=form, headers=HTML)

    assert sent.status_code == 200
    assert "Request sent" in sent.text
    db.rollback()
    message = db.scalars(select(OutboxMessage)).one()
    assert (message.kind, message.recipient, message.clinic_id, message.patient_id) == (
        "consultation_request",
        "front@clinic-a.example",
        world.clinic_a,
        None,
    )
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "consultation.requested")).one()
    assert "Grace" not in str(audit.details)
    assert count(db, "patient") == 3


def test_a_request_from_another_site_is_refused(client: TestClient, db: Session, world: World) -> None:
    _token, form = _request(
        client, action="request", clinic_id=str(world.clinic_a), name="G", contact="g@x.org", consent="yes"
    )
    client.cookies.clear()

    assert client.post("/suitability", data=form, headers=HTML).status_code == 403
    assert count(db, "outbox_message") == 0
