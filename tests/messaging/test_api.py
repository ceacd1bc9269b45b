"""Maintenance-due list and calendar feeds over HTTP: access, audit, iCalendar output, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.db import utcnow
from mesoclinic.models import AuditEvent, CalendarFeed
from mesoclinic.scheduling import ical
from mesoclinic.settings import Settings
from tests.messaging.conftest import Places, book
from tests.support import World
from tests.treatment.helpers import token_headers

API = "/api/v1"


@pytest.fixture
def as_(db: Session, settings: Settings) -> dict[str, dict[str, str]]:
    """Lazily issued API tokens by email (no password hashing)."""

    class Tokens(dict[str, dict[str, str]]):
        def __missing__(self, email: str) -> dict[str, str]:
            self[email] = token_headers(db, settings, email)
            return self[email]

    return Tokens()


def test_the_maintenance_list_is_for_staff_of_the_clinic(
    client: TestClient, world: World, as_: dict[str, dict[str, str]], db: Session
) -> None:
    url = f"{API}/clinics/{world.clinic_a}/maintenance-due"
    response = client.get(url, headers=as_[world.receptionist])
    assert response.status_code == 200, response.text
    assert response.json() == []
    audited = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "messaging.maintenance_due.read")
    ).one()
    assert audited.clinic_id == world.clinic_a
    for outsider in (world.colleague, world.patient_user):
        refused = client.get(url, headers=as_[outsider])
        assert refused.status_code == 404
        assert refused.json()["code"] == "clinic-not-found"
    assert client.get(f"{API}/clinics/999999/maintenance-due", headers=as_[world.admin]).status_code == 404
    assert client.get(url, params={"within_days": -1}, headers=as_[world.admin]).status_code == 422


def feed_lines(client: TestClient, url: str) -> list[str]:
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return ical.unfold(response.text)


def test_a_practitioner_feed_lists_their_appointments_and_can_be_revoked(
    client: TestClient, world: World, places: Places, db: Session, as_: dict[str, dict[str, str]]
) -> None:
    start = utcnow().replace(microsecond=0) + timedelta(days=2)
    booked = book(db, places, world.patient_a, start)
    cancelled = book(db, places, world.other_patient_a, start + timedelta(hours=1), status="cancelled")
    created = client.post(f"{API}/calendar-feeds", json={}, headers=as_[world.clinician])
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["owner"], body["owner_id"]) == ("practitioner", places.practitioner_id)
    assert body["url"].endswith(f"/calendar/{body['token']}.ics")
    assert db.get_one(CalendarFeed, body["id"]).token_hash != body["token"]  # only the hash is stored

    lines = feed_lines(client, body["url"])
    assert f"UID:appointment-{booked.id}@mesoclinic" in lines
    assert f"DTSTART:{start:%Y%m%dT%H%M%S}Z" in lines
    assert "SUMMARY:Mesotherapy session" in lines
    cancelled_block = lines[lines.index(f"UID:appointment-{cancelled.id}@mesoclinic") :]
    assert cancelled_block[: cancelled_block.index("END:VEVENT")].count("STATUS:CANCELLED") == 1
    assert "Lovelace" not in "".join(lines)
    read = db.scalars(select(AuditEvent).where(AuditEvent.action == "calendar.feed.read")).one()
    assert read.target_id == str(body["id"])
    assert read.actor == "anonymous"

    assert (
        client.delete(f"{API}/calendar-feeds/{body['id']}", headers=as_[world.colleague]).status_code == 404
    )
    assert (
        client.delete(f"{API}/calendar-feeds/{body['id']}", headers=as_[world.clinician]).status_code == 204
    )
    gone = client.get(body["url"].removeprefix("http://testserver"))
    assert gone.status_code == 404
    assert gone.json()["code"] == "feed-not-found"
    again = client.delete(f"{API}/calendar-feeds/{body['id']}", headers=as_[world.clinician])
    assert (again.status_code, again.json()["code"]) == (409, "feed-already-revoked")


def test_a_patient_feed_shows_only_their_appointments_without_clinical_detail(
    client: TestClient, world: World, places: Places, db: Session, as_: dict[str, dict[str, str]]
) -> None:
    start = utcnow().replace(microsecond=0) + timedelta(days=3)
    mine = book(db, places, world.patient_a, start)
    other = book(db, places, world.other_patient_a, start + timedelta(hours=1))
    created = client.post(f"{API}/calendar-feeds", json={}, headers=as_[world.patient_user])
    assert created.status_code == 201, created.text
    assert (created.json()["owner"], created.json()["owner_id"]) == ("patient", world.patient_a)
    lines = feed_lines(client, created.json()["url"])
    assert f"UID:appointment-{mine.id}@mesoclinic" in lines
    assert f"UID:appointment-{other.id}@mesoclinic" not in lines
    assert "SUMMARY:Appointment at Clinic A" in lines
    assert "Mesotherapy" not in "".join(lines)
    audited = db.scalars(select(AuditEvent).where(AuditEvent.action == "calendar.feed.read")).one()
    assert audited.patient_id == world.patient_a


def test_it_refuses_feeds_to_the_wrong_people(
    client: TestClient, world: World, places: Places, as_: dict[str, dict[str, str]]
) -> None:
    def create(email: str, **body: object) -> tuple[int, str]:
        response = client.post(f"{API}/calendar-feeds", json=body, headers=as_[email])
        return response.status_code, response.json().get("code", "")

    assert create(world.receptionist) == (403, "feed-owner-forbidden")
    assert create(world.clinician, owner="patient") == (403, "feed-owner-forbidden")
    assert create(world.patient_user, owner="practitioner") == (403, "feed-owner-forbidden")
    assert create(world.patient_user, owner="patient", owner_id=world.other_patient_a) == (
        404,
        "patient-not-found",
    )
    assert create(world.clinician, owner_id=places.practitioner_id + 1000) == (403, "feed-owner-forbidden")
    assert create(world.clinician, surprise=1)[0] == 422
    # An admin may create one for a practitioner of their clinic.
    assert create(world.admin, owner="practitioner", owner_id=places.practitioner_id)[0] == 201


def test_an_unknown_token_is_404(client: TestClient, world: World) -> None:
    response = client.get("/calendar/mcf_not-a-real-token.ics")
    assert response.status_code == 404
    assert response.json()["code"] == "feed-not-found"
