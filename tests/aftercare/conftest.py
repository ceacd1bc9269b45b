"""Shared arrangements for aftercare tests: signed-in people and one signed session of Ada's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from mesoclinic.settings import Settings
from tests.support import World
from tests.treatment.helpers import Ready, ready_patient, token_headers, treat


@pytest.fixture
def clinician(db: Session, settings: Settings, world: World) -> dict[str, str]:
    return token_headers(db, settings, world.clinician)


@pytest.fixture
def patient(db: Session, settings: Settings, world: World) -> dict[str, str]:
    """Ada, signed in to the portal."""
    return token_headers(db, settings, world.patient_user)


@dataclass(frozen=True)
class Treated:
    ready: Ready
    session: dict[str, Any]  # the signed session, as the API returned it
    checkins: dict[str, dict[str, Any]]  # its scheduled check-ins by label (day1 … week12)


@pytest.fixture
def treated(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str]
) -> Treated:
    """Ada (clinic A) had her first session today; its six check-ins are scheduled."""
    admin = token_headers(db, settings, world.admin)
    ready = ready_patient(client, world, clinician, admin)
    session = treat(client, clinician, ready)
    plan = client.get(f"/api/v1/sessions/{session['id']}/aftercare", headers=clinician)
    assert plan.status_code == 200, plan.text
    return Treated(ready, session, {c["label"]: c for c in plan.json()["checkins"]})
