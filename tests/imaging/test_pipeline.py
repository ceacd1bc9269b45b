"""The measuring pipeline without the database: storage, intake, landmarks → alignment → zones →
metrics, and comparison, on scikit-image's bundled portrait."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage.draw import line_aa

from mesoclinic.errors import InvalidInput
from mesoclinic.imaging import alignment as align
from mesoclinic.imaging import analysis, intake, rules
from mesoclinic.imaging.alignment import CANONICAL_IOD_PX
from mesoclinic.imaging.landmarks import default_detector
from mesoclinic.imaging.metrics import METRIC_CODES
from mesoclinic.imaging.storage import MediaStore, new_storage_key
from mesoclinic.imaging.zones import ZONE_CODES
from tests.imaging.conftest import jpeg, with_chart


@pytest.fixture(scope="module")
def baseline(astronaut: Image.Image) -> analysis.Analysis:
    return analysis.analyse(astronaut, default_detector(), "front")


def test_the_store_round_trips_and_detects_swapped_or_altered_files(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, b"k" * 32)
    first, second = new_storage_key(), new_storage_key()
    store.put(first, b"first photo")
    store.put(second, b"second photo")
    assert store.get(first) == b"first photo"
    assert store.path(first).stat().st_mode & 0o777 == 0o600
    # A file moved under another key fails: the storage key is the associated data.
    store.path(first).write_bytes(store.path(second).read_bytes())
    with pytest.raises(InvalidTag):
        store.get(first)
    with pytest.raises(InvalidTag):
        MediaStore(tmp_path, b"x" * 32).get(second)
    store.delete(second)
    store.delete(second)  # idempotent
    assert not store.path(second).exists()
    assert [p.name for p in tmp_path.rglob("*.tmp")] == []
    with pytest.raises(ValueError, match="malformed"):
        store.path("../../etc/passwd")


def test_intake_applies_orientation_and_keeps_no_metadata(astronaut: Image.Image) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise: the stored pixels must come out upright
    exif[0x010F] = "TestCam"
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 30.0, 26.0)})
    wide = astronaut.crop((0, 0, 512, 384))
    out = io.BytesIO()
    wide.save(out, format="JPEG", exif=exif.tobytes(), comment=b"patient name here")
    clean = intake.clean(out.getvalue())
    assert clean.image.size == (384, 512)
    stored = Image.open(io.BytesIO(clean.original))
    assert stored.size == (384, 512)
    assert len(stored.getexif()) == 0
    assert b"patient name" not in clean.original
    assert b"TestCam" not in clean.original
    assert Image.open(io.BytesIO(clean.display)).format == "JPEG"


def test_intake_keeps_png_as_png_and_shrinks_the_display_copy() -> None:
    big = Image.new("RGB", (2400, 1800), (200, 150, 130))
    out = io.BytesIO()
    big.save(out, format="PNG")
    clean = intake.clean(out.getvalue())
    assert clean.media_type == "image/png"
    assert Image.open(io.BytesIO(clean.original)).format == "PNG"
    assert Image.open(io.BytesIO(clean.display)).size == (1024, 768)


def test_it_measures_every_zone_with_every_metric(baseline: analysis.Analysis) -> None:
    assert tuple(baseline.zones) == ZONE_CODES
    for zone, values in baseline.zones.items():
        assert tuple(values) == METRIC_CODES, zone
        assert all(math.isfinite(v) for v in values.values()), zone
        assert baseline.frame.zone_masks[zone].sum() > 500, zone
    assert baseline.quality["alignment_residual_iod"] < 0.02
    assert "colour-uncalibrated" in baseline.quality["flags"]
    assert "low-resolution" in baseline.quality["flags"]  # the portrait's face is about 60 px wide


def test_zones_leave_out_eyes_brows_and_lips_and_sit_on_the_right_side(baseline: analysis.Analysis) -> None:
    landmarks = baseline.frame.alignment.landmarks
    masks = baseline.frame.zone_masks
    every_zone = np.logical_or.reduce(list(masks.values()))
    for feature in (159, 145, 386, 374, 105, 334, 13, 14, 0, 17):  # lids, brows, lips
        x, y = np.round(landmarks[feature]).astype(int)
        assert not every_zone[y, x], feature
    centre = CANONICAL_IOD_PX  # x of the face's midline in the canonical image
    for code, mask in masks.items():
        mean_x = np.nonzero(mask)[1].mean()
        if code.endswith("_R"):
            assert mean_x < centre, code  # subject's right = image left on a front view
        elif code.endswith("_L"):
            assert mean_x > centre, code


def test_a_recapture_with_another_pose_and_camera_lines_up_and_changes_little(
    astronaut: Image.Image, baseline: analysis.Analysis
) -> None:
    recaptured = Image.open(
        io.BytesIO(
            jpeg(astronaut.rotate(5, resample=Image.Resampling.BICUBIC).resize((900, 900)), quality=75)
        )
    )
    again = analysis.analyse(recaptured, default_detector(), "front")
    comparison = analysis.compare(baseline, again)
    assert comparison["reliable"], comparison["flags"]
    assert comparison["pair_residual_iod"] < 0.02
    for zone in ("cheek_L", "cheek_R", "chin"):
        assert comparison["zones"][zone]["a_star"]["verdict"] == "no-real-change", zone
        assert abs(comparison["zones"][zone]["L_star"]["delta"]) < 1.9, zone


def test_it_sees_injected_redness_on_one_cheek_only(
    astronaut: Image.Image, baseline: analysis.Analysis
) -> None:
    pixels = np.asarray(astronaut, dtype=np.float64).copy()
    # The subject's left cheek is image right; redden it by lowering green and blue.
    cheek = (slice(115, 140), slice(245, 268))
    pixels[cheek + (slice(1, 3),)] *= 0.85
    reddened = analysis.analyse(Image.fromarray(pixels.astype(np.uint8)), default_detector(), "front")
    comparison = analysis.compare(baseline, reddened)
    assert comparison["zones"]["cheek_L"]["a_star"]["verdict"] == "worsened"
    assert comparison["zones"]["cheek_L"]["a_star"]["delta"] > 3
    assert comparison["zones"]["cheek_R"]["a_star"]["verdict"] == "no-real-change"


def test_it_sees_an_injected_dark_line_as_more_wrinkling(
    astronaut: Image.Image, baseline: analysis.Analysis
) -> None:
    pixels = np.asarray(astronaut, dtype=np.float64).copy()
    # A thin crease below the subject's right eye, across the cheek.
    rows, cols, weight = line_aa(122, 190, 128, 212)
    pixels[rows, cols] *= 1 - 0.35 * weight[:, None]
    creased = analysis.analyse(Image.fromarray(pixels.astype(np.uint8)), default_detector(), "front")
    assert creased.zones["cheek_R"]["wrinkle_index"] > baseline.zones["cheek_R"]["wrinkle_index"] * 1.1
    assert creased.zones["cheek_R"]["line_length_iod"] > baseline.zones["cheek_R"]["line_length_iod"]


def test_an_image_without_a_face_is_refused() -> None:
    flat = Image.new("RGB", (512, 512), (180, 160, 150))
    with pytest.raises(InvalidInput) as refused:
        analysis.analyse(flat, default_detector())
    assert refused.value.code == "no-face"


def test_a_chart_in_frame_calibrates_the_colour_metrics_and_clears_the_flag(astronaut: Image.Image) -> None:
    detector = default_detector()
    daylight = analysis.analyse(Image.open(io.BytesIO(with_chart(astronaut))), detector, "front")
    warm = with_chart(astronaut, (1.12, 1.0, 0.82))
    corrected = analysis.analyse(Image.open(io.BytesIO(warm)), detector, "front")
    assumed = analysis.analyse(Image.open(io.BytesIO(warm)), detector, "front", colour_chart=False)
    assert corrected.quality["colour_chart"]["chart_found"]
    assert corrected.quality["colour_chart"]["delta_e2000_mean"] < 1.5
    assert "colour-uncalibrated" not in corrected.quality["flags"]
    assert "colour-uncalibrated" in assumed.quality["flags"]
    assert assumed.quality["colour_normalisation"].startswith("none")
    for zone in ("cheek_L", "cheek_R", "forehead"):
        # The warm light moves b* when sRGB is assumed; the chart takes it back out.
        assert abs(assumed.zones[zone]["b_star"] - daylight.zones[zone]["b_star"]) > 4, zone
        assert abs(corrected.zones[zone]["b_star"] - daylight.zones[zone]["b_star"]) < 1.0, zone
        assert abs(corrected.zones[zone]["a_star"] - daylight.zones[zone]["a_star"]) < 1.0, zone


def test_a_large_jpeg_is_decoded_at_reduced_scale_with_the_same_measurements(astronaut: Image.Image) -> None:
    # A close-up: the head enlarged 9x (about 540 px between the eyes), so the canonical frame needs
    # only half the pixels and the photo can be decoded at 1/2 (and at 1/4 for the landmarks).
    head = astronaut.crop((120, 0, 400, 300)).resize((2520, 2700), Image.Resampling.BICUBIC)
    data = jpeg(head, quality=90)
    lazy = Image.open(io.BytesIO(data))
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    drafted = analysis.analyse(lazy, default_detector())
    full = analysis.analyse(decoded, default_detector())
    assert lazy.size == (2520, 2700)  # the caller's image is not swapped for a reduced one
    assert drafted.frame.alignment.iod_px > 512
    moved = np.linalg.norm(drafted.frame.alignment.landmarks - full.frame.alignment.landmarks, axis=1)
    assert np.median(moved) < 0.01 * CANONICAL_IOD_PX
    for zone in ("cheek_L", "cheek_R", "forehead", "chin"):
        for metric in ("L_star", "a_star", "b_star"):
            assert drafted.zones[zone][metric] == pytest.approx(full.zones[zone][metric], abs=0.6), (
                zone,
                metric,
            )


def test_a_photo_the_frame_needs_in_full_is_decoded_once_and_measures_as_if_decoded_before(
    astronaut: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    # About 3 MP: the landmarks are found on a half-size overview, and the face (about 180 px between
    # the eyes) needs the full photo for the canonical frame; the overview is reduced from that decode.
    photo = astronaut.resize((1536, 1536), Image.Resampling.BICUBIC)
    data = jpeg(photo, quality=90)
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    before = analysis.analyse(decoded, default_detector())

    def no_draft(*args: object) -> None:
        raise AssertionError("a reduced-scale decode beside the full one")

    monkeypatch.setattr(align, "decoded_at", no_draft)
    lazy = Image.open(io.BytesIO(data))
    once = analysis.analyse(lazy, default_detector())
    assert lazy.size == (1536, 1536)
    assert once.frame.alignment.iod_px < 2 * CANONICAL_IOD_PX
    assert np.array_equal(once.frame.alignment.landmarks, before.frame.alignment.landmarks)
    assert np.array_equal(once.frame.rgb, before.frame.rgb)
    assert once.zones == before.zones
    assert once.quality == before.quality


def test_clear_painted_spots_count_one_each_in_the_zone_they_lie_in(
    astronaut: Image.Image, baseline: analysis.Analysis
) -> None:
    # Three places on the subject's left cheek where its skin is most even (no freckle, fold or
    # shadow near), at least 40 px apart.
    lightness = baseline.maps.lab[..., 0].astype(np.float64)
    mean = ndimage.uniform_filter(lightness, 25)
    spread = np.sqrt(np.maximum(ndimage.uniform_filter(lightness**2, 25) - mean**2, 0))
    cheek = ndimage.binary_erosion(baseline.frame.zone_masks["cheek_L"], iterations=12)
    cheek &= ndimage.distance_transform_edt(baseline.maps.spots == 0) > 14
    rows, cols = np.nonzero(cheek)
    places: list[tuple[int, int]] = []
    for i in np.argsort(spread[rows, cols]):
        if all(math.dist((rows[i], cols[i]), p) > 40 for p in places):
            places.append((int(rows[i]), int(cols[i])))
    assert len(places) >= 3
    to_photo = baseline.frame.alignment.transform.inverse
    pixels = np.asarray(astronaut, dtype=np.float64) / 255.0
    yy, xx = np.mgrid[0:512, 0:512]
    for x, y in to_photo(np.array([(x, y) for y, x in places[:3]], dtype=np.float64)):
        blob = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 0.8**2))
        pixels = pixels - blob[..., None] * np.array([0.15, 0.21, 0.27])  # about 35 % darker at the core
    photo = Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8))
    spotted = analysis.analyse(photo, default_detector())
    # A spot's count is its clarity (0-1); these are clear, so each counts one, all in cheek_L.
    assert spotted.zones["cheek_L"]["spot_count"] == pytest.approx(
        baseline.zones["cheek_L"]["spot_count"] + 3, abs=0.05
    )
    assert spotted.zones["cheek_R"]["spot_count"] == pytest.approx(
        baseline.zones["cheek_R"]["spot_count"], abs=0.05
    )


def test_exposure_clipping_is_judged_on_the_skin_not_on_pupils_nostrils_or_mouth(
    astronaut: Image.Image, baseline: analysis.Analysis
) -> None:
    assert baseline.quality["clipped_pct"] < 1.0  # the portrait's dark pupils and mouth do not count
    assert rules.EXPOSURE_CLIPPED not in baseline.quality["flags"]
    overexposed = np.clip(np.asarray(astronaut, dtype=np.float64) * 1.8, 0, 255).astype(np.uint8)
    blown = analysis.analyse(Image.fromarray(overexposed), default_detector(), "front")
    assert blown.quality["clipped_pct"] > 50
    assert rules.EXPOSURE_CLIPPED in blown.quality["flags"]


def test_black_hair_across_the_forehead_is_named_for_a_retake_not_blamed_on_exposure(
    astronaut: Image.Image, baseline: analysis.Analysis
) -> None:
    assert baseline.quality["obscured_zones"] == []
    forehead = baseline.frame.zone_masks["forehead"]
    rows, cols = np.nonzero(forehead)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    edge = top + 0.6 * (bottom - top)  # a heavy fringe over most of the forehead
    fringe = np.array([(left, top), (right, top), (right, edge), (left, edge)], dtype=np.float64)
    corners = baseline.frame.alignment.transform.inverse(fringe)  # canonical → photo pixels
    fringed = astronaut.copy()
    ImageDraw.Draw(fringed).polygon([(float(x), float(y)) for x, y in corners], fill=(0, 0, 0))
    result = analysis.analyse(fringed, default_detector(), "front")
    assert result.quality["obscured_zones"][0] == "forehead"  # named first: the most obscured
    assert rules.SKIN_OBSCURED in result.quality["flags"]
    assert rules.EXPOSURE_CLIPPED not in result.quality["flags"]
    # Compared with the visit without the fringe, the forehead is shown but not judged.
    comparison = analysis.compare(baseline, result)
    assert "forehead" in comparison["obscured_zones"]
    assert {c["verdict"] for c in comparison["zones"]["forehead"].values()} == {"obscured"}
    assert comparison["zones"]["cheek_L"]["a_star"]["verdict"] == "no-real-change"
