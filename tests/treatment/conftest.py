"""Shared arrangements for session tests: signed-in staff and a patient ready to be treated."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from mesoclinic.settings import Settings
from tests.support import World
from tests.treatment.helpers import Ready, ready_patient, token_headers


@pytest.fixture
def clinician(db: Session, settings: Settings, world: World) -> dict[str, str]:
    return token_headers(db, settings, world.clinician)


@pytest.fixture
def admin(db: Session, settings: Settings, world: World) -> dict[str, str]:
    return token_headers(db, settings, world.admin)


@pytest.fixture
def ready(client: TestClient, world: World, clinician: dict[str, str], admin: dict[str, str]) -> Ready:
    """Ada (clinic A): qualified clinician, clear intake, final formulation, a 3-session course,
    signed treatment consent and lot L1 of a booster in stock."""
    return ready_patient(client, world, clinician, admin)
