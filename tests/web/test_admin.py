"""The admin pages: staff accounts, practitioners' credentials, consent text versions."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import ClinicMembership, ConsentText, Qualification, User
from mesoclinic.settings import Settings
from tests.support import PASSWORD, World
from tests.treatment.helpers import clinic_today
from tests.web.conftest import HTML, post_form, sign_in, text


def test_admin_is_for_administrators(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.clinician)
    assert client.get("/admin", headers=HTML).status_code == 403
    assert client.get("/admin/consent", headers=HTML).status_code == 403
    refused = post_form(
        client, "/admin/users", csrf, email="x@a.example", full_name="X", role="admin", password=PASSWORD
    )
    assert refused.status_code == 403
    db.rollback()
    assert db.scalar(select(User.id).where(User.email == "x@a.example")) is None


def test_an_admin_creates_a_staff_account_after_a_weak_password_is_refused(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.admin)
    page = client.get("/admin", headers=HTML)
    assert page.status_code == 200
    assert "clinician@a.example" in page.text
    fields = {"email": "nurse@a.example", "full_name": "Nurse Ratched", "role": "practitioner"}
    weak = post_form(
        client, "/admin/users", csrf, **fields, password="short", clinic_ids=[str(world.clinic_a)]
    )
    assert weak.status_code == 422
    assert 'id="u-password-error"' in weak.text
    assert 'value="nurse@a.example"' in weak.text
    made = post_form(
        client, "/admin/users", csrf, **fields, password=PASSWORD, clinic_ids=[str(world.clinic_a)]
    )
    assert made.status_code == 303
    db.rollback()
    user = db.scalars(select(User).where(User.email == "nurse@a.example")).one()
    assert user.role == "practitioner"
    assert list(
        db.scalars(select(ClinicMembership.clinic_id).where(ClinicMembership.user_id == user.id))
    ) == [world.clinic_a]
    taken = post_form(
        client, "/admin/users", csrf, **fields, password=PASSWORD, clinic_ids=[str(world.clinic_a)]
    )
    assert taken.status_code == 409
    assert 'id="u-email-error"' in taken.text


def test_an_admin_records_a_credential_and_its_dates_are_checked(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    db.rollback()
    clinician_id = db.scalars(select(User.id).where(User.email == world.clinician)).one()
    csrf = sign_in(client, db, settings, world.admin)
    today = clinic_today()
    fields = {
        "user_id": str(clinician_id),
        "title": "Registered nurse prescriber",
        "licence_number": "NMC-123",
        "issuer": "Nursing and Midwifery Council",
        "valid_from": today.isoformat(),
        "expires_on": (today - timedelta(days=1)).isoformat(),
    }
    refused = post_form(client, "/admin/credentials", csrf, **fields)
    assert refused.status_code == 422
    assert 'value="NMC-123"' in refused.text
    assert 'id="q-expires_on-error"' in refused.text
    db.rollback()
    assert db.scalar(select(Qualification.id)) is None
    fields["expires_on"] = (today + timedelta(days=365)).isoformat()
    assert post_form(client, "/admin/credentials", csrf, **fields).status_code == 303
    page = text(client.get("/admin", headers=HTML).text)
    assert f"until {(today + timedelta(days=365)).isoformat()}" in page


def test_an_admin_publishes_a_new_consent_text_version(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.admin)
    short = post_form(client, "/admin/consent", csrf, kind="photo", title="Photos", body="too short")
    assert short.status_code == 422
    assert 'id="c-body-error"' in short.text
    body = "We take standardised photos of your face before and after each session."
    published = post_form(client, "/admin/consent", csrf, kind="photo", title="Photos v1", body=body)
    assert published.status_code == 303
    db.rollback()
    text_row = db.scalars(select(ConsentText).where(ConsentText.kind == "photo")).one()
    assert (text_row.clinic_id, text_row.version) == (world.clinic_a, 1)
    page = text(client.get("/admin/consent", headers=HTML).text)
    assert "photo 1 Photos v1" in page
    assert "in force" in page
