"""Photo intake, reading, analysis and comparison over the API: refusals, encryption at rest,
EXIF stripping, access rules and audit."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import date, timedelta

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.models import AuditEvent, Photo, PhotoAnalysis
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.imaging.conftest import VISIT, jpeg, png_header_only, refused, stored_files, upload, with_chart
from tests.support import World, bearer


def test_it_stores_an_upload_encrypted_at_rest_with_its_consent_and_quality(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
) -> None:
    response = upload(client, world.patient_a, clinician, face_jpeg)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["view"], body["visit_on"], body["media_type"]) == ("front", VISIT, "image/jpeg")
    assert (body["width"], body["height"]) == (512, 512)
    assert body["consent_record_id"] == photo_consent
    assert body["capture_conditions"] == {"lighting": "flash"}
    assert "colour-uncalibrated" in body["quality"]["flags"]
    assert body["quality"]["alignment_residual_iod"] < 0.02
    # The 512 px portrait is soft and small: the capture page is told to retake it, and why.
    advice = {a["flag"]: a for a in body["capture_advice"]}
    assert [a["flag"] for a in body["capture_advice"]] == body["quality"]["flags"]
    assert advice["blurred"]["retake"] is True
    assert advice["blurred"]["advice"].startswith("Retake: the photo is blurred.")
    assert advice["colour-uncalibrated"]["retake"] is False
    assert body["retake_advised"] is True
    photo = db.get(Photo, body["id"])
    assert photo is not None
    assert photo.clinic_id == world.clinic_a

    files = stored_files(settings)
    assert [f.name for f in files] == sorted([photo.storage_key, photo.storage_key + ".display"])
    for stored in files:
        blob = stored.read_bytes()
        assert stored.stat().st_mode & 0o777 == 0o600
        assert b"\xff\xd8\xff" not in blob
        assert b"JFIF" not in blob
        assert b"Exif" not in blob
        # No plaintext chunk of the upload survives in the stored bytes.
        assert not any(face_jpeg[i : i + 32] in blob for i in range(0, len(face_jpeg) - 32, 997))

    created = db.scalars(select(AuditEvent).where(AuditEvent.action == "photo.created")).one()
    assert (created.patient_id, created.target_id) == (world.patient_a, str(body["id"]))
    assert set(created.details) == {"view", "consent_record_id", "session_id"}


def test_a_chart_in_frame_is_found_at_upload_so_the_capture_is_not_called_uncalibrated(
    client: TestClient, world: World, clinician: dict[str, str], photo_consent: int, astronaut: Image.Image
) -> None:
    response = upload(client, world.patient_a, clinician, with_chart(astronaut, (1.12, 1.0, 0.82)))
    assert response.status_code == 201, response.text
    quality = response.json()["quality"]
    assert quality["colour_chart"]["chart_found"] is True
    assert "colour-uncalibrated" not in quality["flags"]


def test_it_strips_exif_and_gps_and_serves_images_uncached_and_audited(
    client: TestClient,
    world: World,
    db: Session,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
) -> None:
    assert Image.open(io.BytesIO(face_jpeg)).getexif().get_ifd(0x8825)  # the upload does carry GPS
    photo_id = upload(client, world.patient_a, clinician, face_jpeg).json()["id"]

    original = client.get(f"/api/v1/photos/{photo_id}/image?size=original", headers=clinician)
    assert original.status_code == 200
    assert original.headers["content-type"] == "image/jpeg"
    assert original.headers["cache-control"] == "no-store"
    image = Image.open(io.BytesIO(original.content))
    assert len(image.getexif()) == 0
    assert b"Exif" not in original.content
    assert b"TestCam" not in original.content
    assert image.size == (512, 512)

    display = client.get(f"/api/v1/photos/{photo_id}/image", headers=clinician)
    assert display.status_code == 200
    assert max(Image.open(io.BytesIO(display.content)).size) <= 1024
    reads = db.scalars(select(AuditEvent).where(AuditEvent.action == "photo.image_read")).all()
    assert [r.details["size"] for r in reads] == ["original", "display"]


def test_it_refuses_a_photo_without_a_valid_photo_consent(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    clinician: dict[str, str],
    face_jpeg: bytes,
) -> None:
    response = upload(client, world.patient_a, clinician, face_jpeg)
    refused(response, 409, "photo-consent-missing")
    assert count(db, "photo") == 0
    assert stored_files(settings) == []


BAD_FILES = {
    "gif": (b"GIF89a" + b"\0" * 400, 415, "unsupported-media-type"),
    "pdf": (b"%PDF-1.7 not a photo" * 30, 415, "unsupported-media-type"),
    "bomb": (png_header_only(10_000, 9_000), 422, "decompression-bomb"),
    "panorama": (png_header_only(6_000, 400), 422, "image-dimensions"),
    "thumbnail": (png_header_only(100, 100), 422, "image-dimensions"),
    "truncated-jpeg": (b"\xff\xd8\xff\xe0" + b"\0" * 500, 422, "unreadable-image"),
}


def test_it_refuses_bad_files_whatever_they_claim_to_be_and_stores_nothing(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    clinician: dict[str, str],
    photo_consent: int,
) -> None:
    for name, (content, status, code) in BAD_FILES.items():
        response = upload(
            client, world.patient_a, clinician, content, filename="face.jpg", content_type="image/jpeg"
        )
        assert (name, response.status_code, response.json()["code"]) == (name, status, code)
        assert response.json()["field"] == "file"
    assert count(db, "photo") == 0
    assert stored_files(settings) == []


def test_it_refuses_photos_without_exactly_one_face(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    clinician: dict[str, str],
    photo_consent: int,
    flat_jpeg: bytes,
    astronaut: Image.Image,
) -> None:
    refused(upload(client, world.patient_a, clinician, flat_jpeg), 422, "no-face")
    face = astronaut.crop((80, 0, 400, 320))  # two close-ups side by side (short-range detector)
    pair = Image.new("RGB", (640, 320))
    pair.paste(face, (0, 0))
    pair.paste(face, (320, 0))
    refused(upload(client, world.patient_a, clinician, jpeg(pair)), 422, "several-faces")
    assert count(db, "photo") == 0
    assert stored_files(settings) == []


def _chunked_multipart(image: bytes, boundary: str = "mesoclinic-test-boundary") -> Iterator[bytes]:
    """A multipart body sent with Transfer-Encoding: chunked (no Content-Length for the guard)."""
    for name, value in (("view", "front"), ("visit_on", VISIT)):
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="face.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    for start in range(0, len(image), 4096):
        yield image[start : start + 4096]
    yield f"\r\n--{boundary}--\r\n".encode()


def test_it_refuses_a_chunked_upload_beyond_the_limit_while_reading(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
) -> None:
    limit = len(face_jpeg) - 1
    client.app.state.settings = settings.model_copy(update={"photo_max_bytes": limit})  # type: ignore[attr-defined]
    response = client.post(
        f"/api/v1/patients/{world.patient_a}/photos",
        content=_chunked_multipart(face_jpeg),
        headers={**clinician, "Content-Type": "multipart/form-data; boundary=mesoclinic-test-boundary"},
    )
    refused(response, 413, "photo-too-large")
    assert count(db, "photo") == 0
    assert stored_files(settings) == []


def test_it_refuses_a_future_visit_and_undeclared_capture_conditions(
    client: TestClient,
    world: World,
    db: Session,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
) -> None:
    future = (date.today() + timedelta(days=3)).isoformat()
    response = upload(client, world.patient_a, clinician, face_jpeg, visit_on=future)
    refused(response, 422, "visit-in-future")
    assert response.json()["field"] == "visit_on"
    response = upload(
        client, world.patient_a, clinician, face_jpeg, capture_conditions='{"filter": "beauty"}'
    )
    refused(response, 422, "invalid-capture-conditions")
    assert response.json()["field"] == "capture_conditions"
    assert count(db, "photo") == 0


def test_only_clinical_staff_in_reach_upload_and_only_the_patient_themself_reads(
    client: TestClient,
    world: World,
    db: Session,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
) -> None:
    refused(
        upload(client, world.patient_a, bearer(client, world.colleague), face_jpeg), 404, "patient-not-found"
    )
    refused(
        upload(client, world.patient_a, bearer(client, world.receptionist), face_jpeg),
        403,
        "permission-denied",
    )
    patient = bearer(client, world.patient_user)
    refused(upload(client, world.patient_a, patient, face_jpeg), 403, "permission-denied")
    assert count(db, "photo") == 0

    photo_id = upload(client, world.patient_a, clinician, face_jpeg).json()["id"]
    own = client.get(f"/api/v1/patients/{world.patient_a}/photos", headers=patient)
    assert own.status_code == 200
    assert [p["id"] for p in own.json()] == [photo_id]
    assert client.get(f"/api/v1/photos/{photo_id}", headers=patient).status_code == 200
    refused(
        client.get(f"/api/v1/patients/{world.other_patient_a}/photos", headers=patient),
        404,
        "patient-not-found",
    )
    colleague = bearer(client, world.colleague)
    for path in (f"/api/v1/photos/{photo_id}", f"/api/v1/photos/{photo_id}/image"):
        refused(client.get(path, headers=colleague), 404, "photo-not-found")
    refused(client.post(f"/api/v1/photos/{photo_id}/analysis", headers=colleague), 404, "photo-not-found")
    listed = db.scalars(select(AuditEvent).where(AuditEvent.action == "photo.listed")).one()
    assert listed.details == {"photo_ids": [photo_id]}


def test_it_analyses_two_visits_and_compares_them_zone_by_zone(
    client: TestClient,
    world: World,
    db: Session,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
    astronaut: Image.Image,
) -> None:
    before = upload(client, world.patient_a, clinician, face_jpeg, visit_on="2026-09-01").json()["id"]
    later = jpeg(astronaut.rotate(3, resample=Image.Resampling.BICUBIC), quality=88)
    after = upload(client, world.patient_a, clinician, later).json()["id"]
    url = f"/api/v1/patients/{world.patient_a}/photo-comparison?before={before}&after={after}"
    refused(client.get(url, headers=clinician), 409, "photo-not-analysed")

    analysis = client.post(f"/api/v1/photos/{before}/analysis", headers=clinician)
    assert analysis.status_code == 201, analysis.text
    assert "wrinkle_index" in analysis.json()["zones"]["forehead"]
    assert client.post(f"/api/v1/photos/{after}/analysis", headers=clinician).status_code == 201
    assert count(db, "photo_analysis") == 2
    stored = db.scalars(select(PhotoAnalysis).where(PhotoAnalysis.photo_id == before)).one()
    assert len(stored.zones) == 12

    comparison = client.get(url, headers=clinician)
    assert comparison.status_code == 200, comparison.text
    body = comparison.json()
    assert body["reliable"] is True, body["flags"]
    assert set(body["zones"]) == set(stored.zones)
    tone = body["zones"]["cheek_L"]["L_star"]
    assert tone["verdict"] == "descriptive"
    assert abs(tone["delta"]) < 1.9
    redness = body["zones"]["cheek_L"]["a_star"]
    assert redness["verdict"] == "no-real-change"  # same face, re-captured: no real change in redness
    compared = db.scalars(select(AuditEvent).where(AuditEvent.action == "photo.compared")).one()
    assert compared.details == {"before_photo_id": before, "after_photo_id": after}

    assert body["advice"] == []

    # Photos of another patient of the clinic, named under this patient: refused, naming the rule.
    other = f"/api/v1/patients/{world.other_patient_a}/photo-comparison?before={before}&after={after}"
    refused(client.get(other, headers=clinician), 422, "photo-of-another-patient")
    assert client.get(other, headers=clinician).json()["field"] == "before"
    # Out of the caller's reach, the same 404 whether the photo exists or not.
    colleague = bearer(client, world.colleague)
    refused(client.get(url, headers=colleague), 404, "patient-not-found")
    missing = f"/api/v1/patients/{world.patient_a}/photo-comparison?before={before}&after=999999"
    refused(client.get(missing, headers=clinician), 404, "photo-not-found")


def test_it_takes_a_heic_from_a_phone_strips_its_metadata_and_analyses_it(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    clinician: dict[str, str],
    photo_consent: int,
    face_heic: bytes,
) -> None:
    response = upload(
        client, world.patient_a, clinician, face_heic, filename="IMG_0001.HEIC", content_type="image/heic"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["media_type"], body["width"], body["height"]) == ("image/jpeg", 512, 512)
    assert body["quality"]["converted_from"] == "image/heic"
    photo = db.get(Photo, body["id"])
    assert photo is not None
    for stored in stored_files(settings):
        assert b"ftypheic" not in stored.read_bytes()  # encrypted at rest like any photo

    original = client.get(f"/api/v1/photos/{body['id']}/image?size=original", headers=clinician)
    assert original.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(original.content).hexdigest() == photo.sha256
    image = Image.open(io.BytesIO(original.content))
    assert len(image.getexif()) == 0
    for secret in (b"Exif", b"TestCam", b"secret-firmware", b"xmpmeta", b"GPSLatitude"):
        assert secret not in original.content

    analysis = client.post(f"/api/v1/photos/{body['id']}/analysis", headers=clinician)
    assert analysis.status_code == 201, analysis.text
    assert len(analysis.json()["zones"]) == 12

    renamed = upload(
        client,
        world.patient_a,
        clinician,
        b"%PDF-1.7 minutes" * 40,
        filename="scan.heic",
        content_type="image/heic",
    )
    refused(renamed, 415, "unsupported-media-type")
    assert count(db, "photo") == 1
