"""The staff frame: navigation by role and the Today page."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from mesoclinic.settings import Settings
from tests.support import World
from tests.treatment.helpers import clinic_today, receive_lot
from tests.web.conftest import HTML, Treated, red_flag, sign_in, text


def test_the_staff_navigation_shows_admin_to_administrators_only(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.receptionist)
    desk = client.get("/today", headers=HTML).text
    assert 'href="/aftercare"' in desk
    assert 'href="/calendar"' in desk
    assert 'href="/admin"' not in desk
    sign_in(client, db, settings, world.admin)
    assert 'href="/admin"' in client.get("/today", headers=HTML).text


def test_today_lists_the_open_escalation_maintenance_and_a_lot_near_expiry(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    treated: Treated,
    clinician: dict[str, str],
    patient: dict[str, str],
) -> None:
    escalation = red_flag(client, patient, treated)
    receive_lot(
        client, clinician, treated.ready.product_id, "SOON-1", expires_on=clinic_today() + timedelta(10)
    )
    sign_in(client, db, settings, world.clinician)
    response = client.get("/today", headers=HTML)
    assert response.status_code == 200
    page = text(response.text)
    assert "Open escalations 1" in page
    assert f'href="/aftercare#escalation-{escalation["id"]}"' in response.text
    assert "urgent Ada Lovelace" in page
    assert "lot SOON-1" in page
    assert "lot L1 " not in page  # a year from expiry: not a warning
    assert "Nobody is due." in page


def test_today_is_for_staff_only(client: TestClient, db: Session, settings: Settings, world: World) -> None:
    sign_in(client, db, settings, world.patient_user)
    response = client.get("/today", headers=HTML)
    assert response.status_code == 403
    assert 'href="/portal"' in response.text


def test_the_patient_search_still_answers_on_the_root(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.clinician)
    response = client.get("/", params={"q": "Lovelace"}, headers=HTML)
    assert response.status_code == 200
    assert "Lovelace, Ada" in response.text
