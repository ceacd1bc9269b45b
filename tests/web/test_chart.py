"""The patient chart's timeline: who sees it, and what it gathers."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mesoclinic.models import AuditEvent
from mesoclinic.settings import Settings
from tests.support import World
from tests.web.conftest import HTML, Treated, red_flag, sign_in, text


def test_a_clinician_sees_the_whole_course_of_care_newest_first(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    treated: Treated,
    patient: dict[str, str],
) -> None:
    red_flag(client, patient, treated)
    sign_in(client, db, settings, world.clinician)
    response = client.get(f"/patients/{world.patient_a}", headers=HTML)
    assert response.status_code == 200
    page = text(response.text)
    for entry in [
        "Intake questionnaire",
        "Skin assessment",
        "Course plan 3 sessions",
        "Session 1 signed",
        "Check-in day1 answered",
        "Check-in week12 due",
    ]:
        assert entry in page, entry
    assert page.index("Check-in week12 due") < page.index("Intake questionnaire")  # newest first
    db.rollback()
    reads = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "session.list", AuditEvent.patient_id == world.patient_a)
    )
    assert reads == 1


def test_the_front_desk_and_the_patient_see_no_clinical_timeline(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.receptionist)
    desk = client.get(f"/patients/{world.patient_a}", headers=HTML)
    assert desk.status_code == 200
    assert 'id="timeline"' not in desk.text
    sign_in(client, db, settings, world.patient_user)
    own = client.get(f"/patients/{world.patient_a}", headers=HTML)
    assert own.status_code == 200
    assert 'id="timeline"' not in own.text


def test_a_colleague_at_another_clinic_finds_no_chart(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.colleague)
    assert client.get(f"/patients/{world.patient_a}", headers=HTML).status_code == 404
