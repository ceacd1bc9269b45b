from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mesoclinic.app import create_app
from mesoclinic.settings import Settings
from tests.support import TEST_SECRET_KEY


def test_health_is_503_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1",
        var_dir=tmp_path,
        secret_key=TEST_SECRET_KEY,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
