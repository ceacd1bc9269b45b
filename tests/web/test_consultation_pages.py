"""The consultation wizard and the session screen through HTTP: access, refusals that keep what
was typed, and what each successful form writes (the browser journey is in tests/browser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mesoclinic.models import AuditEvent, ConsentRecord, Injection, SkinAssessment, TreatmentSession
from mesoclinic.settings import Settings
from tests.support import World
from tests.treatment.helpers import (
    SIGNATURE,
    Ready,
    ok,
    prepare,
    publish_treatment_consent,
    ready_patient,
    start_session,
    submit_intake,
    token_headers,
)
from tests.web.conftest import HTML, post_form, sign_in, text


def count(db: Session, model: Any, *where: Any) -> int:
    db.rollback()
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def vas_finding(**overrides: str) -> dict[str, str]:
    return {
        "findings.0.concern": "dehydration",
        "findings.0.zone": "full_face",
        "findings.0.scale": "vas_hydration",
        "findings.0.value": "30",
        "findings.0.method": "blinded photo panel",
        **overrides,
    }


@pytest.fixture
def ready(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str]
) -> Ready:
    admin = token_headers(db, settings, world.admin)
    return ready_patient(client, world, clinician, admin)


# --- access ----------------------------------------------------------------------------------


def test_a_colleague_at_another_clinic_does_not_find_the_consultation(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.colleague)
    response = client.get(f"/patients/{world.patient_a}/consultation/intake", headers=HTML)
    assert response.status_code == 404


def test_a_patient_cannot_open_even_her_own_consultation(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.patient_user)
    assert client.get(f"/patients/{world.patient_a}/consultation/screening", headers=HTML).status_code == 403
    assert client.get(f"/patients/{world.patient_b}/consultation/screening", headers=HTML).status_code == 404


def test_an_unknown_step_is_refused(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    sign_in(client, db, settings, world.clinician)
    assert client.get(f"/patients/{world.patient_a}/consultation/surgery", headers=HTML).status_code == 422


def test_a_receptionist_cannot_record_an_assessment_and_nothing_is_written(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.receptionist)
    response = post_form(
        client, f"/patients/{world.patient_a}/consultation/assessment", csrf, **vas_finding()
    )
    assert response.status_code == 403
    assert count(db, SkinAssessment) == 0


def test_the_wizard_steps_render_for_the_clinician_and_audit_the_reads(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str]
) -> None:
    submit_intake(client, clinician, world.patient_a)
    sign_in(client, db, settings, world.clinician)
    for step in ("intake", "screening", "assessment", "formulation", "course", "consent"):
        response = client.get(f"/patients/{world.patient_a}/consultation/{step}", headers=HTML)
        assert response.status_code == 200, (step, response.text)
        assert 'aria-current="step"' in response.text
    page = client.get(f"/patients/{world.patient_a}/consultation/intake", headers=HTML)
    assert "Continue to screening" in page.text
    assert (
        count(db, AuditEvent, AuditEvent.action == "intake.read", AuditEvent.patient_id == world.patient_a)
        >= 1
    )


# --- refusals keep what was typed ----------------------------------------------------------------


def test_screening_without_an_intake_says_so(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.clinician)
    response = post_form(client, f"/patients/{world.patient_a}/consultation/screening", csrf)
    assert response.status_code == 409
    assert 'role="alert"' in response.text
    assert "intake" in text(response.text).lower()


def test_an_assessment_missing_its_vas_method_is_refused_next_to_the_row_keeping_the_values(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.clinician)
    path = f"/patients/{world.patient_a}/consultation/assessment"
    response = post_form(client, path, csrf, **vas_finding(**{"findings.0.method": ""}), notes="Dry cheeks")
    assert response.status_code == 422
    assert 'name="findings.0.value" inputmode="decimal" value="30"' in response.text
    assert ">Dry cheeks</textarea>" in response.text
    assert 'value="vas_hydration" selected' in response.text
    assert count(db, SkinAssessment) == 0


def test_a_recorded_assessment_leads_to_the_formulation_step(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    csrf = sign_in(client, db, settings, world.clinician)
    response = post_form(
        client, f"/patients/{world.patient_a}/consultation/assessment", csrf, **vas_finding(), glogau="2"
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/patients/{world.patient_a}/consultation/formulation"
    assert (
        count(db, SkinAssessment, SkinAssessment.patient_id == world.patient_a, SkinAssessment.glogau == 2)
        == 1
    )


def test_a_consent_without_a_drawn_signature_is_refused_keeping_the_typed_name(
    client: TestClient, db: Session, settings: Settings, world: World
) -> None:
    admin = token_headers(db, settings, world.admin)
    consent_text = publish_treatment_consent(client, admin, world.clinic_a)
    csrf = sign_in(client, db, settings, world.clinician)
    path = f"/patients/{world.patient_a}/consultation/consent"
    fields = {"consent_text_id": str(consent_text["id"]), "typed_name": "Ada Lovelace"}
    response = post_form(client, path, csrf, **fields, signature_svg_path="")
    assert response.status_code == 422
    assert 'value="Ada Lovelace"' in response.text
    assert count(db, ConsentRecord) == 0
    response = post_form(client, path, csrf, **fields, signature_svg_path="<script>alert(1)</script>")
    assert response.status_code == 422
    assert count(db, ConsentRecord) == 0
    response = post_form(client, path, csrf, **fields, signature_svg_path=SIGNATURE)
    assert response.status_code == 303
    assert count(db, ConsentRecord, ConsentRecord.patient_id == world.patient_a) == 1


# --- the session screen ----------------------------------------------------------------------------


def zone_form(ready: Ready, **overrides: str) -> dict[str, str]:
    return {
        "zone": "cheek:L",
        "technique": "nappage",
        "depth_mm": "2",
        "volume_per_point_ml": "0.01",
        "points": "2",
        "needle_gauge": "32",
        "needle_length_mm": "4",
        "lot": str(ready.lot_id),
        "chart_points": "0.7,0.5;0.72,0.55",
        **overrides,
    }


def test_the_session_screen_is_not_found_at_another_clinic(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str], ready: Ready
) -> None:
    session = ok(start_session(client, clinician, ready.course_id), 201)
    sign_in(client, db, settings, world.colleague)
    assert client.get(f"/sessions/{session['id']}", headers=HTML).status_code == 404


def test_starting_the_next_session_from_the_course_opens_the_session_screen(
    client: TestClient, db: Session, settings: Settings, world: World, ready: Ready
) -> None:
    csrf = sign_in(client, db, settings, world.clinician)
    response = post_form(client, f"/courses/{ready.course_id}/next-session", csrf)
    assert response.status_code == 303
    session_id = count(db, TreatmentSession, TreatmentSession.course_plan_id == ready.course_id)
    assert session_id == 1
    screen = client.get(response.headers["location"], headers=HTML)
    assert screen.status_code == 200
    assert 'role="button"' in screen.text  # the face chart's zones
    assert "Mark skin cleansed" in screen.text


def test_injecting_before_the_numbing_wait_is_refused_and_nothing_is_recorded(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str], ready: Ready
) -> None:
    session = ok(start_session(client, clinician, ready.course_id), 201)
    prepare(client, clinician, session["id"], numbing_lead=timedelta(minutes=5))
    csrf = sign_in(client, db, settings, world.clinician)
    response = post_form(client, f"/sessions/{session['id']}/zones", csrf, **zone_form(ready))
    assert response.status_code == 409
    assert "numbing cream needs about" in response.text
    assert 'value="0.7,0.5;0.72,0.55"' in response.text
    assert count(db, Injection) == 0


def test_numbing_in_the_future_is_refused_next_to_the_time(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str], ready: Ready
) -> None:
    session = ok(start_session(client, clinician, ready.course_id), 201)
    csrf = sign_in(client, db, settings, world.clinician)
    post_form(client, f"/sessions/{session['id']}/skin-cleansed", csrf)
    soon = (datetime.now(UTC) + timedelta(minutes=30)).astimezone(ZoneInfo("Europe/London"))
    if soon.date() != datetime.now(UTC).astimezone(ZoneInfo("Europe/London")).date():
        pytest.skip("30 minutes from now is tomorrow: the time would be read as yesterday's")
    response = post_form(
        client,
        f"/sessions/{session['id']}/numbing",
        csrf,
        product_name="EMLA",
        applied_at=soon.strftime("%H:%M"),
    )
    assert response.status_code == 422
    assert "cannot be applied in the future" in response.text
    assert 'name="product_name" value="EMLA"' in response.text


def test_a_zone_charted_on_the_face_and_signed_off_is_stored_with_its_points(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str], ready: Ready
) -> None:
    session = ok(start_session(client, clinician, ready.course_id), 201)
    csrf = sign_in(client, db, settings, world.clinician)
    post_form(client, f"/sessions/{session['id']}/skin-cleansed", csrf)
    applied = (datetime.now(UTC) - timedelta(minutes=25)).astimezone(ZoneInfo("Europe/London"))
    response = post_form(
        client,
        f"/sessions/{session['id']}/numbing",
        csrf,
        product_name="EMLA",
        applied_at=applied.strftime("%H:%M"),
    )
    assert response.status_code == 303
    bad = post_form(client, f"/sessions/{session['id']}/zones", csrf, **zone_form(ready, points="3"))
    assert bad.status_code == 422  # three points but two chart points
    assert count(db, Injection) == 0
    assert post_form(client, f"/sessions/{session['id']}/zones", csrf, **zone_form(ready)).status_code == 303
    unsigned = post_form(client, f"/sessions/{session['id']}/sign", csrf, pain_score="")
    assert unsigned.status_code == 422
    assert post_form(client, f"/sessions/{session['id']}/sign", csrf, pain_score="2").status_code == 303
    stored = ok(client.get(f"/api/v1/sessions/{session['id']}", headers=clinician))
    assert stored["status"] == "signed"
    assert stored["pain_score"] == 2
    assert [(i["zone"], i["side"], i["points"], i["chart_points"]) for i in stored["injections"]] == [
        ("cheek", "L", 2, [[0.7, 0.5], [0.72, 0.55]])
    ]
    screen = client.get(f"/sessions/{session['id']}", headers=HTML)
    assert "Sign session" not in screen.text
    assert screen.text.count('class="recorded"') == 2


def test_a_receptionist_cannot_document_a_session(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str], ready: Ready
) -> None:
    session = ok(start_session(client, clinician, ready.course_id), 201)
    csrf = sign_in(client, db, settings, world.receptionist)
    assert post_form(client, f"/sessions/{session['id']}/skin-cleansed", csrf).status_code == 403
    db.rollback()
    assert not db.get_one(TreatmentSession, session["id"]).checklist.get("skin_cleansed")
