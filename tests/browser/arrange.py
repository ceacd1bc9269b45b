"""Arrangements for the browser tests, made through the HTTP API the clinic itself uses."""

from __future__ import annotations

import io
from typing import Any

import httpx2 as httpx
import numpy as np
from PIL import Image
from skimage import data

from tests.support import PASSWORD, World
from tests.treatment.helpers import Ready, created, ok, ready_patient, sign_consent

API = "/api/v1"


def token(api: httpx.Client, email: str) -> dict[str, str]:
    body = created(api.post(f"{API}/auth/tokens", json={"email": email, "password": PASSWORD}))
    return {"Authorization": f"Bearer {body['token']}"}


def open_for_sessions(api: httpx.Client, world: World) -> tuple[Ready, dict[str, Any]]:
    """Ada ready for her course at clinic A (credential, intake, formulation, a 3-session course,
    treatment consent), and clinic A bookable for it: a treatment room, a mesotherapy session type
    patients may book themselves, opening 08:00-18:00 and the clinician working 09:00-17:00 every
    day. Returns the readiness and the session type."""
    admin, clinician = token(api, world.admin), token(api, world.clinician)
    ready = ready_patient(api, world, clinician, admin)  # type: ignore[arg-type]
    me = ok(api.get(f"{API}/me", headers=clinician))
    created(
        api.post(
            f"{API}/clinics/{world.clinic_a}/rooms",
            json={"name": "Treatment 1", "equipment": ["treatment_couch"]},
            headers=admin,
        )
    )
    session_type = created(
        api.post(
            f"{API}/clinics/{world.clinic_a}/appointment-types",
            json={
                "code": "mesotherapy_session",
                "name": "Mesotherapy session",
                "duration_minutes": 30,
                "buffer_minutes": 10,
                "required_equipment": ["treatment_couch"],
                "patient_bookable": True,
            },
            headers=admin,
        )
    )
    for weekday in range(7):
        created(
            api.post(
                f"{API}/clinics/{world.clinic_a}/opening-hours",
                json={"weekday": weekday, "opens": "08:00", "closes": "18:00"},
                headers=admin,
            )
        )
        created(
            api.post(
                f"{API}/practitioners/{me['id']}/working-hours",
                json={"clinic_id": world.clinic_a, "weekday": weekday, "starts": "09:00", "ends": "17:00"},
                headers=admin,
            )
        )
    return ready, session_type


# --- photos --------------------------------------------------------------------------------------


def face_jpeg(*, red_cast: bool = False) -> bytes:
    """scikit-image's bundled portrait (public domain) as a JPEG; with ``red_cast`` its colours are
    shifted towards red, so a later plain photo measures as less red beyond the smallest real change."""
    pixels = data.astronaut().astype(np.int16)
    if red_cast:
        pixels += np.array([18, -6, -2], dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, format="JPEG", quality=92)
    return out.getvalue()


def photo_consent(api: httpx.Client, world: World) -> None:
    """Clinic A's photo consent text, signed by Ada on the clinic's tablet."""
    admin, clinician = token(api, world.admin), token(api, world.clinician)
    text = created(
        api.post(
            f"{API}/clinics/{world.clinic_a}/consent-texts",
            json={"kind": "photo", "title": "Consent to photographs", "body": "We photograph your face " * 3},
            headers=admin,
        )
    )
    sign_consent(api, clinician, world.patient_a, text["id"], "Ada Lovelace")  # type: ignore[arg-type]


def analysed_photo(
    api: httpx.Client, headers: dict[str, str], patient_id: int, content: bytes, visit_on: str
) -> int:
    """A front photo of the visit, uploaded and analysed through the API; its id."""
    photo = created(
        api.post(
            f"{API}/patients/{patient_id}/photos",
            data={"view": "front", "visit_on": visit_on, "capture_conditions": '{"lighting": "flash"}'},
            files={"file": ("face.jpg", content, "image/jpeg")},
            headers=headers,
        )
    )
    created(api.post(f"{API}/photos/{photo['id']}/analysis", headers=headers))
    return int(photo["id"])
