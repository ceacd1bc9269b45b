"""Shared arrangements for imaging tests: face photos made from scikit-image's bundled portrait
(public-domain NASA photo, shipped in the wheel) and a signed photo consent."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import SYSTEM_ACTOR
from mesoclinic.consent.service import publish_default_texts
from mesoclinic.models import User
from tests.support import World, bearer

GPS_IFD = 0x8825


def jpeg(image: Image.Image, *, gps: bool = False, quality: int = 92) -> bytes:
    """JPEG bytes; with ``gps`` a full EXIF block with GPS position, camera and a comment."""
    exif = Image.Exif()
    if gps:
        exif[0x010F] = "TestCam"  # Make
        exif[0x0131] = "secret-firmware"  # Software
        exif[0x0112] = 1  # Orientation
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)})
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, exif=exif.tobytes() if gps else b"")
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


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="session")
def face_jpeg(astronaut: Image.Image) -> bytes:
    return jpeg(astronaut, gps=True)


@pytest.fixture(scope="session")
def flat_jpeg() -> bytes:
    return jpeg(Image.fromarray(np.full((512, 512, 3), 180, dtype=np.uint8)))


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
