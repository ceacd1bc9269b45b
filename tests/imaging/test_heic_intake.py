"""HEIC photos at intake: decoded once, oriented once, refused from the header, stripped, and in sRGB."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from mesoclinic.errors import MesoClinicError
from mesoclinic.imaging import intake, rules
from tests.imaging.conftest import XMP_WITH_GPS, heic


def with_declared_size(data: bytes, width: int, height: int) -> bytes:
    """The same HEIC with its ``ispe`` property (the image size libheif reports) rewritten."""
    at = data.index(b"ispe") + 8  # after the box type, version and flags
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]


def refusal(data: bytes) -> MesoClinicError:
    with pytest.raises(MesoClinicError) as caught:
        intake.clean(data)
    return caught.value


def test_a_heic_is_stored_as_a_metadata_free_jpeg_of_the_same_pixels(
    face_heic: bytes, astronaut: Image.Image
) -> None:
    assert b"TestCam" in face_heic
    assert XMP_WITH_GPS in face_heic
    clean = intake.clean(face_heic)
    assert (clean.source_media_type, clean.media_type) == ("image/heic", "image/jpeg")
    stored = Image.open(io.BytesIO(clean.original))
    assert (stored.format, stored.size) == ("JPEG", astronaut.size)
    assert len(stored.getexif()) == 0
    assert "xmp" not in stored.info
    for secret in (b"Exif", b"TestCam", b"secret-firmware", b"xmpmeta", b"GPSLatitude"):
        assert secret not in clean.original
        assert secret not in clean.display
    difference = np.abs(np.asarray(stored, dtype=np.int16) - np.asarray(astronaut, dtype=np.int16))
    assert difference.mean() < 4  # two lossy encodings of the same photo, not another picture


def test_a_rotated_heic_is_turned_upright_exactly_once(astronaut: Image.Image) -> None:
    upright = astronaut.crop((0, 0, 512, 400))
    # EXIF orientation 6: the camera held sideways; pillow-heif writes it as an irot transform.
    sideways = heic(upright.rotate(90, expand=True), orientation=6)
    image, media_type, _ = intake.load(sideways)
    assert media_type == "image/heic"
    assert image.size == upright.size
    difference = np.abs(np.asarray(image, dtype=np.int16) - np.asarray(upright, dtype=np.int16))
    assert difference.mean() < 4


@pytest.mark.parametrize(
    ("size", "code"),
    [((10_000, 9_000), rules.DECOMPRESSION_BOMB), ((6_000, 400), rules.IMAGE_DIMENSIONS)],
)
def test_a_heic_declaring_absurd_dimensions_is_refused_before_decoding(
    face_heic: bytes, size: tuple[int, int], code: str
) -> None:
    # The coded image is 512 px: decoding it would fail against the declared size, so a refusal
    # with the dimension codes shows the check ran on the header alone.
    error = refusal(with_declared_size(face_heic, *size))
    assert (error.status, error.code, error.field) == (422, code, "file")


def test_a_truncated_heic_is_unreadable_and_a_renamed_text_file_is_not_an_image(face_heic: bytes) -> None:
    truncated = refusal(face_heic[: len(face_heic) // 3])
    assert (truncated.status, truncated.code) == (422, rules.UNREADABLE_IMAGE)
    renamed = refusal(b"\x00\x00\x00\x18ftypisom" + b"not a photo at all" * 20)
    assert (renamed.status, renamed.code) == (415, rules.UNSUPPORTED_MEDIA_TYPE)


P3_SWATCHES = [(200, 100, 50), (60, 160, 90), (90, 80, 190), (128, 128, 128)]


def test_a_display_p3_heic_is_converted_to_srgb_as_colour_science_does() -> None:
    import colour

    swatches = np.zeros((512, 512, 3), dtype=np.uint8)  # four 256 px squares
    centres = [(128, 128), (128, 384), (384, 128), (384, 384)]
    for (row, col), rgb in zip(centres, P3_SWATCHES, strict=True):
        swatches[row - 128 : row + 128, col - 128 : col + 128] = rgb
    tagged_p3 = heic(Image.fromarray(swatches), color_primaries=12, transfer_characteristics=13)
    converted, _, was_converted = intake.load(tagged_p3)
    untouched, _, not_converted = intake.load(heic(Image.fromarray(swatches)))
    assert (was_converted, not_converted) == (True, False)

    expected = colour.RGB_to_RGB(
        np.asarray(P3_SWATCHES) / 255.0,
        colour.RGB_COLOURSPACES["Display P3"],
        colour.RGB_COLOURSPACES["sRGB"],
        apply_cctf_decoding=True,
        apply_cctf_encoding=True,
    )
    got = np.array([np.asarray(converted, dtype=np.float64)[c] for c in centres])
    kept = np.array([np.asarray(untouched, dtype=np.float64)[c] for c in centres])
    assert np.abs(got - np.clip(expected, 0, 1) * 255).max() <= 3  # HEVC coding noise only
    assert np.abs(kept - np.asarray(P3_SWATCHES)).max() <= 3  # an sRGB HEIC is left as it is
    assert np.abs(got[:3] - kept[:3]).max() >= 10  # the colours did move…
    assert np.abs(got[3] - kept[3]).max() <= 2  # …but grey stays grey


def test_the_p3_to_srgb_matrix_keeps_white_and_is_the_identity_for_srgb_primaries() -> None:
    srgb = {"red": (0.64, 0.33), "green": (0.30, 0.60), "blue": (0.15, 0.06), "white": (0.3127, 0.329)}
    p3 = {**srgb, "red": (0.68, 0.32), "green": (0.265, 0.69)}

    def nclx(points: dict[str, tuple[float, float]]) -> dict[str, float]:
        return {
            f"color_primary_{name}_{axis}": xy[i]
            for name, xy in points.items()
            for i, axis in enumerate("xy")
        }

    assert np.allclose(intake.primaries_to_srgb_matrix(nclx(srgb)), np.eye(3), atol=1e-9)
    matrix = intake.primaries_to_srgb_matrix(nclx(p3))
    assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-4)  # white stays white
    assert matrix[0, 0] == pytest.approx(1.2249, abs=1e-3)  # the published P3 → sRGB coefficient
