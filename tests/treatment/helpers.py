"""Building a patient who is ready for a session, through the API only, and treating them.

Every step goes through the same HTTP routes the clinic uses (credential, intake, assessment,
formulation, course, consent, stock), so a session test exercises the real preconditions rather
than rows inserted behind the services' backs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import Actor
from mesoclinic.auth import service as auth
from mesoclinic.models import User
from mesoclinic.settings import Settings
from tests.assessment.helpers import final_formulation
from tests.support import World

API = "/api/v1"
NUMBING_LEAD = timedelta(minutes=25)  # longer than the protocol's 20-minute minimum wait
SIGNATURE = "M 12 40 C 20 10 35 10 40 40 L 55 25 Q 70 5 90 38 L 120 30"  # a drawn signature, as SVG path data


def clinic_today(now: datetime | None = None) -> date:
    """Today at the test clinics (their time zone is the default, Europe/London)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo("Europe/London")).date()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def created(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = ok(response, 201)
    return body


def token_headers(db: Session, settings: Settings, email: str) -> dict[str, str]:
    """An API token issued straight by the auth service: a sign-in without the ~150 ms password
    hash, for tests about sessions rather than about signing in (``tests.support.bearer`` is the
    real thing)."""
    db.rollback()
    user = db.scalars(select(User).where(User.email == email)).one()
    issued = auth.issue_api_token(db, settings, user, "tests", Actor(user.id, user.email))
    db.commit()
    return {"Authorization": f"Bearer {issued.token}"}


def user_id(client: TestClient, headers: dict[str, str]) -> int:
    return int(ok(client.get(f"{API}/me", headers=headers))["id"])


def add_credential(
    client: TestClient,
    admin: dict[str, str],
    practitioner_id: int,
    *,
    valid_from: date,
    expires_on: date,
) -> dict[str, Any]:
    body = {
        "title": "Registered nurse prescriber",
        "licence_number": "NMC-12A3456E",
        "issuer": "Nursing and Midwifery Council",
        "valid_from": valid_from.isoformat(),
        "expires_on": expires_on.isoformat(),
    }
    return created(
        client.post(f"{API}/practitioners/{practitioner_id}/qualifications", json=body, headers=admin)
    )


def submit_intake(
    client: TestClient, headers: dict[str, str], patient_id: int, **answers: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"pregnant": False, "breastfeeding": False, "fitzpatrick": 3, **answers}
    return created(client.post(f"{API}/patients/{patient_id}/intakes", json=body, headers=headers))


def publish_treatment_consent(client: TestClient, admin: dict[str, str], clinic_id: int) -> dict[str, Any]:
    body = {
        "kind": "treatment",
        "title": "Consent to facial mesotherapy",
        "body": "I understand the procedure, its expected reactions and its rare complications.",
    }
    return created(client.post(f"{API}/clinics/{clinic_id}/consent-texts", json=body, headers=admin))


def sign_consent(
    client: TestClient, headers: dict[str, str], patient_id: int, text_id: int, typed_name: str
) -> dict[str, Any]:
    body = {"consent_text_id": text_id, "typed_name": typed_name, "signature_svg_path": SIGNATURE}
    return created(client.post(f"{API}/patients/{patient_id}/consents", json=body, headers=headers))


def create_product(
    client: TestClient, headers: dict[str, str], clinic_id: int, name: str = "NCHA booster 2 mL"
) -> dict[str, Any]:
    body = {"name": name, "manufacturer": "Fillmed", "ingredient_codes": ["ncha"]}
    return created(client.post(f"{API}/clinics/{clinic_id}/products", json=body, headers=headers))


def receive_lot(
    client: TestClient,
    headers: dict[str, str],
    product_id: int,
    number: str,
    *,
    expires_on: date,
    received_on: date | None = None,
    quantity: int = 20,
) -> dict[str, Any]:
    body: dict[str, Any] = {"lot_number": number, "expires_on": expires_on.isoformat(), "quantity": quantity}
    if received_on is not None:
        body["received_on"] = received_on.isoformat()
    return created(client.post(f"{API}/products/{product_id}/lots", json=body, headers=headers))


@dataclass(frozen=True)
class Ready:
    """A patient with everything a session needs, and the stock to treat them with."""

    patient_id: int
    course_id: int
    formulation_id: int
    product_id: int
    lot_id: int
    consent_text_id: int


def ready_patient(
    client: TestClient,
    world: World,
    clinician: dict[str, str],
    admin: dict[str, str],
    *,
    patient_id: int | None = None,
    typed_name: str = "Ada Lovelace",
    qualify: bool = True,
    consent: bool = True,
    intake: dict[str, Any] | None = None,
    sessions: int = 3,
) -> Ready:
    """Credential (for the clinician), intake, assessment, final formulation, a course, signed
    treatment consent (witnessed by the clinician) and a product with a usable lot at clinic A."""
    patient_id = patient_id or world.patient_a
    today = clinic_today()
    if qualify:
        add_credential(
            client,
            admin,
            user_id(client, clinician),
            valid_from=today - timedelta(days=30),
            expires_on=today + timedelta(days=700),
        )
    submit_intake(client, clinician, patient_id, **(intake or {}))
    formulation = final_formulation(client, clinician, patient_id)
    course = ok(
        client.post(
            f"{API}/patients/{patient_id}/courses",
            json={"formulation_id": formulation["id"], "sessions_planned": sessions, "starts_on": str(today)},
            headers=clinician,
        ),
        201,
    )
    text = publish_treatment_consent(client, admin, world.clinic_a)
    if consent:
        sign_consent(client, clinician, patient_id, text["id"], typed_name)
    product = create_product(client, clinician, world.clinic_a)
    lot = receive_lot(client, clinician, product["id"], "L1", expires_on=today + timedelta(days=365))
    return Ready(patient_id, course["id"], formulation["id"], product["id"], lot["id"], text["id"])


def injection(product_id: int, lot_id: int, **overrides: Any) -> dict[str, Any]:
    """One zone of micropapules, with a face-chart point per injection."""
    body: dict[str, Any] = {
        "zone": "forehead",
        "side": "M",
        "technique": "papule",
        "depth_mm": 1.5,
        "volume_per_point_ml": 0.02,
        "points": 4,
        "total_volume_ml": 0.08,
        "needle_gauge": 32,
        "needle_length_mm": 4.0,
        "product_id": product_id,
        "lot_id": lot_id,
        "chart_points": [[0.40, 0.20], [0.45, 0.18], [0.55, 0.18], [0.60, 0.20]],
    }
    body.update(overrides)
    return body


def cheek_injection(product_id: int, lot_id: int, side: str = "L") -> dict[str, Any]:
    x = 0.3 if side == "L" else 0.7
    return injection(
        product_id,
        lot_id,
        zone="cheek",
        side=side,
        technique="nappage",
        depth_mm=2.0,
        volume_per_point_ml=0.01,
        points=3,
        total_volume_ml=0.03,
        chart_points=[[x, 0.50], [x, 0.55], [x + 0.03, 0.52]],
    )


def start_session(client: TestClient, headers: dict[str, str], course_id: int, **body: Any) -> Any:
    return client.post(f"{API}/courses/{course_id}/sessions", json=body, headers=headers)


def prepare(client: TestClient, headers: dict[str, str], session_id: int, *, numbing_lead: timedelta) -> None:
    """The checklist after screening and consent: skin cleansed, numbing cream applied earlier."""
    ok(client.post(f"{API}/sessions/{session_id}/steps/skin-cleansed", headers=headers))
    applied_at = datetime.now(UTC) - numbing_lead
    ok(
        client.post(
            f"{API}/sessions/{session_id}/steps/numbing",
            json={"product_name": "EMLA 5% cream", "applied_at": applied_at.isoformat()},
            headers=headers,
        )
    )


def treat(
    client: TestClient, headers: dict[str, str], ready: Ready, *, pain_score: int = 3, **start: Any
) -> dict[str, Any]:
    """A whole session: start, checklist, two zones from the ready lot, sign."""
    session = ok(start_session(client, headers, ready.course_id, **start), 201)
    prepare(client, headers, session["id"], numbing_lead=NUMBING_LEAD)
    for body in (injection(ready.product_id, ready.lot_id), cheek_injection(ready.product_id, ready.lot_id)):
        ok(client.post(f"{API}/sessions/{session['id']}/injections", json=body, headers=headers), 201)
    signed: dict[str, Any] = ok(
        client.post(f"{API}/sessions/{session['id']}/sign", json={"pain_score": pain_score}, headers=headers)
    )
    return signed
