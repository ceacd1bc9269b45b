"""Killing the server mid-request loses no acknowledged write."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.e2e.server import ServerProcess
from tests.support import PASSWORD, World


@pytest.mark.slow
def test_every_acknowledged_write_survives_a_kill_9(database_url: str, world: World, tmp_path: Path) -> None:
    server = ServerProcess(database_url, tmp_path / "var").start()
    acknowledged: dict[int, str] = {}
    stop = threading.Event()
    try:
        with httpx.Client(base_url=server.url, timeout=5) as http:
            token = http.post(
                "/api/v1/auth/tokens", json={"email": world.clinician, "password": PASSWORD}
            ).json()
        headers = {"Authorization": f"Bearer {token['token']}"}

        def write_patients(worker: int) -> None:
            with httpx.Client(base_url=server.url, timeout=5, headers=headers) as http:
                for n in range(10_000):
                    if stop.is_set():
                        return
                    family = f"Crash{worker}x{n}"
                    try:
                        response = http.post(
                            "/api/v1/patients",
                            json={"given_name": "Test", "family_name": family, "date_of_birth": "1990-01-01"},
                        )
                    except httpx.TransportError:
                        return  # the server died mid-request: this write was never acknowledged
                    if response.status_code == 201:
                        acknowledged[response.json()["id"]] = family

        writers = [threading.Thread(target=write_patients, args=(w,)) for w in range(3)]
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 30:
            log_tail = server.log.read_text()[-2000:]
            assert time.monotonic() < deadline, f"writes are not being acknowledged:\n{log_tail}"
            time.sleep(0.02)
        server.kill()  # while the writers are still sending
        stop.set()
        for writer in writers:
            writer.join(timeout=10)

        server.start()
        with httpx.Client(base_url=server.url, timeout=10, headers=headers) as http:
            for patient_id, family in acknowledged.items():
                response = http.get(f"/api/v1/patients/{patient_id}")
                assert response.status_code == 200, f"acknowledged patient {patient_id} was lost"
                assert response.json()["family_name"] == family
            verdict = http.get("/health")
        assert verdict.status_code == 200
    finally:
        stop.set()
        server.stop()
