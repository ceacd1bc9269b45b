"""The one way pages handle a refusal (``web.forms.attempt``): the form comes back with the error,
nothing the refused attempt did is kept, and the refusal is audited exactly as the API audits it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import verify_chain
from mesoclinic.models import AuditEvent, Injection, TreatmentSession
from mesoclinic.settings import Settings
from tests.support import World
from tests.treatment.helpers import Ready, injection, ok, prepare, ready_patient, start_session, token_headers
from tests.web.conftest import post_form, sign_in


@pytest.fixture
def ready(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str]
) -> Ready:
    return ready_patient(client, world, clinician, token_headers(db, settings, world.admin))


def denied(db: Session) -> list[tuple[object, ...]]:
    db.rollback()
    rows = db.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied").order_by(AuditEvent.id))
    return [(e.action, e.target_type, e.target_id, e.actor_user_id, e.details) for e in rows]


def test_a_refused_form_post_is_audited_as_denied_like_the_api_and_changes_nothing(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str], ready: Ready
) -> None:
    session = ok(start_session(client, clinician, ready.course_id), 201)
    prepare(client, clinician, session["id"], numbing_lead=timedelta(minutes=5))  # cream on 5 min ago
    checklist = ok(client.get(f"/api/v1/sessions/{session['id']}", headers=clinician))["checklist"]
    csrf = sign_in(client, db, settings, world.clinician)
    assert denied(db) == []

    page = post_form(
        client,
        f"/sessions/{session['id']}/zones",
        csrf,
        zone="cheek:L",
        technique="nappage",
        depth_mm="2",
        volume_per_point_ml="0.01",
        points="2",
        needle_gauge="32",
        needle_length_mm="4",
        lot=str(ready.lot_id),
        chart_points="0.7,0.5;0.72,0.55",
    )

    assert page.status_code == 409
    assert "numbing cream needs about" in page.text
    after_page = denied(db)
    assert after_page == [
        (
            "session.injection",
            "treatment_session",
            str(session["id"]),
            after_page[0][3],
            {"status": 409, "code": "numbing-wait-not-honoured"},
        )
    ]
    assert after_page[0][3] is not None  # the signed-in clinician, not "anonymous"
    assert db.scalar(select(func.count()).select_from(Injection)) == 0
    assert db.get_one(TreatmentSession, session["id"]).checklist == checklist
    assert verify_chain(db) is None

    # The same refusal through the API leaves the same row.
    api = client.post(
        f"/api/v1/sessions/{session['id']}/injections",
        json=injection(ready.product_id, ready.lot_id),
        headers=clinician,
    )
    assert api.status_code == 409
    assert denied(db) == after_page * 2
