"""The aftercare queue page: answers and contact, acknowledge/resolve, and the adverse event form."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mesoclinic.models import AdverseEvent, AuditEvent, Escalation
from mesoclinic.settings import Settings
from tests.support import World
from tests.treatment.helpers import clinic_today
from tests.web.conftest import HTML, Treated, post_form, red_flag, sign_in, text


def stored(db: Session, escalation_id: int) -> Escalation:
    db.rollback()
    return db.get_one(Escalation, escalation_id)


def audited(db: Session, action: str) -> int:
    db.rollback()
    return int(
        db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0
    )


def test_the_queue_shows_the_answers_and_one_click_contact(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    treated: Treated,
    patient: dict[str, str],
) -> None:
    escalation = red_flag(client, patient, treated)
    sign_in(client, db, settings, world.clinician)
    response = client.get("/aftercare", headers=HTML)
    assert response.status_code == 200
    page = text(response.text)
    assert f'id="escalation-{escalation["id"]}"' in response.text
    assert "Red flags fever" in page
    assert "hot and shivery" in page
    assert 'href="mailto:ada@example.org"' in response.text
    assert 'href="tel:+447700900123"' in response.text
    assert audited(db, "escalation.queue.read") >= 1


def test_a_clinician_acknowledges_then_resolves_an_escalation(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    treated: Treated,
    patient: dict[str, str],
) -> None:
    escalation_id = red_flag(client, patient, treated)["id"]
    csrf = sign_in(client, db, settings, world.clinician)
    acknowledged = post_form(client, f"/aftercare/escalations/{escalation_id}/acknowledge", csrf)
    assert acknowledged.status_code == 303
    assert stored(db, escalation_id).status == "acknowledged"
    again = post_form(client, f"/aftercare/escalations/{escalation_id}/acknowledge", csrf)
    assert again.status_code == 409
    assert "already acknowledged" in again.text
    resolved = post_form(
        client, f"/aftercare/escalations/{escalation_id}/resolve", csrf, note="Phoned; GP seen."
    )
    assert (resolved.status_code, resolved.headers["location"]) == (303, "/aftercare")
    row = stored(db, escalation_id)
    assert (row.status, row.resolution_note) == ("resolved", "Phoned; GP seen.")
    assert audited(db, "escalation.resolved") == 1


def test_a_too_short_resolution_note_comes_back_next_to_the_field_as_typed(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    treated: Treated,
    patient: dict[str, str],
) -> None:
    escalation_id = red_flag(client, patient, treated)["id"]
    csrf = sign_in(client, db, settings, world.clinician)
    response = post_form(client, f"/aftercare/escalations/{escalation_id}/resolve", csrf, note="ok")
    assert response.status_code == 422
    assert f'id="note-{escalation_id}-error"' in response.text
    assert ">ok</textarea>" in response.text
    assert stored(db, escalation_id).status == "open"


def test_the_front_desk_may_see_but_not_resolve_and_another_clinic_finds_nothing(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    treated: Treated,
    patient: dict[str, str],
) -> None:
    escalation_id = red_flag(client, patient, treated)["id"]
    csrf = sign_in(client, db, settings, world.receptionist)
    queue = client.get("/aftercare", headers=HTML)
    assert queue.status_code == 200
    assert "Resolve</button>" not in queue.text
    refused = post_form(
        client, f"/aftercare/escalations/{escalation_id}/resolve", csrf, note="Phoned her back."
    )
    assert refused.status_code == 403
    csrf = sign_in(client, db, settings, world.colleague)
    assert f"escalation-{escalation_id}" not in client.get("/aftercare", headers=HTML).text
    hidden = post_form(
        client, f"/aftercare/escalations/{escalation_id}/resolve", csrf, note="Phoned her back."
    )
    assert hidden.status_code == 404
    assert stored(db, escalation_id).status == "open"


def test_the_adverse_event_form_refuses_a_future_onset_and_keeps_the_report(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    treated: Treated,
    patient: dict[str, str],
) -> None:
    escalation_id = red_flag(client, patient, treated)["id"]
    csrf = sign_in(client, db, settings, world.clinician)
    form = client.get(
        f"/patients/{world.patient_a}/adverse-events/new?escalation_id={escalation_id}", headers=HTML
    )
    assert form.status_code == 200
    fields = {
        "code": "infection",
        "description": "Warm tender papule, left cheek.",
        "onset_on": (clinic_today() + timedelta(days=2)).isoformat(),
        "seriousness": "non_serious",
        "severity": "moderate",
        "outcome": "ongoing",
        "escalation_id": str(escalation_id),
    }
    path = f"/patients/{world.patient_a}/adverse-events/new"
    refused = post_form(client, path, csrf, **fields)
    assert refused.status_code == 422
    assert 'id="onset_on-error"' in refused.text
    assert "Warm tender papule, left cheek." in refused.text
    db.rollback()
    assert db.scalar(select(func.count()).select_from(AdverseEvent)) == 0
    reported = post_form(client, path, csrf, **{**fields, "onset_on": clinic_today().isoformat()})
    assert reported.status_code == 303
    db.rollback()
    event = db.scalars(select(AdverseEvent)).one()
    assert (event.patient_id, event.escalation_id, event.code) == (
        world.patient_a,
        escalation_id,
        "infection",
    )
    chart = text(client.get(f"/patients/{world.patient_a}", headers=HTML).text)
    assert "Adverse event infection: moderate, ongoing" in chart


def test_the_adverse_event_form_is_not_for_the_front_desk_nor_another_clinic(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    path = f"/patients/{world.patient_a}/adverse-events/new"
    sign_in(client, db, settings, world.receptionist)
    assert client.get(path, headers=HTML).status_code == 403
    sign_in(client, db, settings, world.colleague)
    assert client.get(path, headers=HTML).status_code == 404
