"""Request bodies and API shortcuts shared by the assessment, formulation and planning tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import Actor
from mesoclinic.auth import service as auth
from mesoclinic.auth.rules import Principal
from mesoclinic.models import User


def masi_components(area: int = 2, darkness: int = 2, homogeneity: int = 1) -> dict[str, Any]:
    region = {"area": area, "darkness": darkness, "homogeneity": homogeneity}
    return {code: dict(region) for code in ("forehead", "malar_right", "malar_left", "chin")}


def assessment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "glogau": 2,
        "fitzpatrick": 3,
        "goals": ["hydration"],
        "notes": "Dry cheeks, fine lines around the eyes.",
        "findings": [
            {
                "concern": "fine_lines",
                "zone": "crows_feet",
                "side": "L",
                "scale": "merz_crows_feet",
                "value": 2,
                "components": {"state": "rest"},
            },
            {
                "concern": "dehydration",
                "zone": "full_face",
                "scale": "vas_hydration",
                "value": 30,
                "method": "blinded photo panel",
            },
        ],
    }
    body.update(overrides)
    return body


def create_assessment(
    client: TestClient, headers: dict[str, str], patient_id: int, **overrides: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/patients/{patient_id}/assessments", json=assessment_body(**overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def create_formulation(
    client: TestClient, headers: dict[str, str], patient_id: int, assessment_id: int
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/patients/{patient_id}/formulations", json={"assessment_id": assessment_id}, headers=headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def final_formulation(
    client: TestClient,
    headers: dict[str, str],
    patient_id: int,
    codes: list[str] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """An assessment, a proposal and a decision (the proposed codes unless ``codes`` is given)."""
    assessment = create_assessment(client, headers, patient_id, **overrides)
    formulation = create_formulation(client, headers, patient_id, assessment["id"])
    final = [{"code": c} for c in (codes or [i["code"] for i in formulation["proposed"]])]
    response = client.post(
        f"/api/v1/formulations/{formulation['id']}/decide", json={"final": final}, headers=headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def principal(db: Session, email: str) -> Principal:
    """The principal a request by ``email`` would have, for calling services directly."""
    user = db.scalars(select(User).where(User.email == email)).one()
    return auth.principal_for(db, user, via="token", actor=Actor(user.id, user.email))
