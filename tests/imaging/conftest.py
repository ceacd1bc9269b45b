"""Shared arrangements for imaging tests: face photos made from scikit-image's bundled portrait
(public-domain NASA photo, shipped in the wheel), as JPEG or HEIC, a signed photo consent, and
uploading over the API."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import SYSTEM_ACTOR
from mesoclinic.bench.imaging import paint_chart
from mesoclinic.consent.service import publish_default_texts
from mesoclinic.imaging import colour
from mesoclinic.models import User
from mesoclinic.settings import Settings
from tests.support import World, bearer

VISIT = "2026-11-02"
GPS_IFD = 0x8825
XMP_WITH_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.43N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def jpeg(image: Image.Image, *, gps: bool = False, quality: int = 92) -> bytes:
    """JPEG bytes; with ``gps`` a full EXIF block with GPS position, camera and a comment."""
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, exif=gps_exif().tobytes() if gps else b"")
    return out.getvalue()


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0131] = "secret-firmware"  # Software
    exif[0x0112] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)})
    return exif


def heic(image: Image.Image, *, gps: bool = False, orientation: int = 1, **options: Any) -> bytes:
    """HEIC bytes made by pillow-heif itself (x265 at its fastest preset); with ``gps`` an EXIF block
    with GPS position and camera, and an XMP packet with the position again."""
    import pillow_heif  # the encoder only: Pillow's HEIF opener is the application's to register

    if gps or orientation != 1:
        options["exif"] = gps_exif(orientation).tobytes()
    if gps:
        options["xmp"] = XMP_WITH_GPS
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=90, enc_params={"preset": "ultrafast"}, **options)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width``×``height`` but carries almost no data (a decompression bomb's
    header): refused from the header, before any pixel is inflated."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def upload(
    client: TestClient,
    patient_id: int,
    headers: dict[str, str],
    content: bytes,
    *,
    filename: str = "face.jpg",
    content_type: str = "image/jpeg",
    **fields: Any,
) -> Any:
    form = {"view": "front", "visit_on": VISIT, "capture_conditions": json.dumps({"lighting": "flash"})}
    form.update({k: str(v) for k, v in fields.items()})
    return client.post(
        f"/api/v1/patients/{patient_id}/photos",
        data=form,
        files={"file": (filename, content, content_type)},
        headers=headers,
    )


def stored_files(settings: Settings) -> list[Path]:
    root = settings.media_path
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def with_chart(astronaut: Image.Image, gains: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> bytes:
    """The portrait with a ColorChecker 24 on the suit, photographed under other light (linear gains)."""
    rgb = paint_chart(np.asarray(astronaut, dtype=np.float64) / 255.0, (110, 430), 16, 4.0)
    rgb = colour.linear_to_srgb(colour.srgb_to_linear(rgb) * np.asarray(gains))
    return jpeg(Image.fromarray((rgb * 255).round().astype(np.uint8)), quality=92)


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="session")
def face_jpeg(astronaut: Image.Image) -> bytes:
    return jpeg(astronaut, gps=True)


@pytest.fixture(scope="session")
def flat_jpeg() -> bytes:
    return jpeg(Image.fromarray(np.full((512, 512, 3), 180, dtype=np.uint8)))


@pytest.fixture(scope="session")
def face_heic(astronaut: Image.Image) -> bytes:
    """The portrait as a phone would send it: HEIC with EXIF GPS and XMP."""
    return heic(astronaut, gps=True)


@pytest.fixture
def face_file(tmp_path: Path, face_jpeg: bytes) -> Path:
    path = tmp_path / "face.jpg"
    path.write_bytes(face_jpeg)
    return path


@pytest.fixture
def clinician(client: TestClient, world: World) -> dict[str, str]:
    return bearer(client, world.clinician)


@pytest.fixture
def photo_consent(client: TestClient, db: Session, world: World, clinician: dict[str, str]) -> int:
    """Patient A's signed photo consent (witnessed by the clinician); its record id."""
    owner = db.scalars(select(User.id).where(User.email == world.admin)).one()
    texts = publish_default_texts(db, SYSTEM_ACTOR, world.clinic_a, owner)
    db.commit()
    photo_text = next(t for t in texts if t.kind == "photo")
    signature = {
        "consent_text_id": photo_text.id,
        "typed_name": "Ada Lovelace",
        "signature_svg_path": "M 12 40 C 20 10 35 10 40 40 L 55 25 Q 70 5 90 38 L 120 30",
    }
    response = client.post(f"/api/v1/patients/{world.patient_a}/consents", json=signature, headers=clinician)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])
