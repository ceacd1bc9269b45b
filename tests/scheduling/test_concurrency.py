"""No double booking, ever: many concurrent conflicting bookings against a real server find one winner."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy.orm import Session

from tests.conftest import count
from tests.e2e.server import ServerProcess
from tests.scheduling.conftest import Cal, at
from tests.support import PASSWORD, World

ATTEMPTS = 30


@pytest.mark.slow
def test_concurrent_conflicting_bookings_have_exactly_one_winner(
    database_url: str, world: World, cal: Cal, db: Session, tmp_path: Path
) -> None:
    server = ServerProcess(database_url, tmp_path / "var", workers=2).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            token = http.post(
                "/api/v1/auth/tokens", json={"email": world.clinician, "password": PASSWORD}
            ).json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        patients = [world.patient_a, world.other_patient_a]
        start = threading.Barrier(ATTEMPTS)
        results: list[tuple[int, str]] = []
        lock = threading.Lock()

        def book(n: int) -> None:
            payload = {
                "patient_id": patients[n % 2],
                "practitioner_user_id": cal.clinician_id,
                "room_id": cal.room_id,
                "appointment_type_id": cal.consultation_id,
                # Overlapping, not identical: 10:00, 10:05, 10:10 … all collide with each other's slots.
                "starts_at": at(cal.day, 10, 5 * (n % 3)).isoformat(),
            }
            with httpx.Client(base_url=server.url, timeout=60, headers=headers) as client:
                start.wait()
                response = client.post("/api/v1/appointments", json=payload)
            with lock:
                results.append((response.status_code, response.json().get("code", "")))

        threads = [threading.Thread(target=book, args=(n,)) for n in range(ATTEMPTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        server.stop()
    statuses = sorted(status for status, _ in results)
    assert len(results) == ATTEMPTS
    assert statuses.count(201) == 1, results
    assert all((status, code) == (409, "slot-taken") for status, code in results if status != 201), results
    assert count(db, "appointment") == 1
    assert count(db, "booked_slot") == 12
