"""Colour-chart detection and correction: a ColorChecker 24 (reference values from colour-science)
painted into scikit-image's portrait, under a known cast and exposure change, rotated, partly
covered; a photo without a chart; grids of tiles that look like a chart but are not one."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from mesoclinic.bench.imaging import chart_image, paint_chart
from mesoclinic.imaging import colour

CAST = np.array([1.15, 1.0, 0.8])  # a warm light on a camera balanced for daylight


def _photo(
    portrait: NDArray[np.float64],
    *,
    angle: float = 4.0,
    gains: NDArray[np.float64] | None = None,
    chart: NDArray[np.float64] | None = None,
    swatch: int = 16,
) -> NDArray[np.uint8]:
    """The portrait with a chart on the suit, light changed by ``gains`` (linear), through JPEG q90."""
    painted = paint_chart(portrait, (110, 430), swatch, angle, chart)
    if gains is not None:
        painted = colour.linear_to_srgb(colour.srgb_to_linear(painted) * gains)
    out = io.BytesIO()
    Image.fromarray((np.clip(painted, 0, 1) * 255).round().astype(np.uint8)).save(out, "JPEG", quality=90)
    return np.asarray(Image.open(out).convert("RGB"))


@pytest.fixture(scope="module")
def portrait(astronaut: Image.Image) -> NDArray[np.float64]:
    return np.asarray(astronaut, dtype=np.float64) / 255.0


def test_the_reference_is_colour_sciences_chart_adapted_to_d65() -> None:
    lab = colour.reference_lab()
    assert lab.shape == (24, 3)
    white, black = lab[18], lab[23]
    assert white[0] > 94
    assert black[0] < 22
    assert np.all(np.hypot(lab[18:24, 1], lab[18:24, 2]) < 3.5)  # the neutral row is near-neutral (D65)
    assert 35 < lab[0, 0] < 40  # dark skin: L* about 37 ...
    assert lab[0, 1] > 10  # ... and reddish


def test_it_finds_the_chart_and_undoes_a_cast_and_an_exposure_change(portrait: NDArray[np.float64]) -> None:
    gains = CAST * 2**-0.3
    correction = colour.correction_from_chart(_photo(portrait, gains=gains))
    assert correction.chart_found
    record = correction.record
    assert record["delta_e2000_before_mean"] > 4  # the cast is plainly visible
    assert record["delta_e2000_mean"] < 1.0
    assert record["delta_e2000_leave_one_out_mean"] < 1.5
    assert record["swatches_used"] >= 20
    assert correction.matrix is not None
    # The matrix undoes the gains: nearly diagonal, each diagonal term about 1 / gain.
    np.testing.assert_allclose(np.diag(correction.matrix), 1 / gains, rtol=0.06)
    assert np.abs(correction.matrix - np.diag(np.diag(correction.matrix))).max() < 0.05


@pytest.mark.parametrize("angle", [-33.0, 97.0, 180.0])
def test_it_finds_a_rotated_chart_and_reads_it_the_right_way_round(
    portrait: NDArray[np.float64], angle: float
) -> None:
    correction = colour.correction_from_chart(_photo(portrait, angle=angle, gains=CAST))
    assert correction.chart_found, correction.record
    # Read the wrong way round the swatches would not fit a 3×3 matrix this well.
    assert correction.record["delta_e2000_mean"] < 1.0


def test_a_partly_covered_chart_still_corrects_and_leaves_the_covered_swatches_out(
    portrait: NDArray[np.float64],
) -> None:
    photo = _photo(portrait, gains=CAST).copy()
    photo[400:438, 44:80] = 128  # a grey thumb over about four swatches
    correction = colour.correction_from_chart(photo)
    assert correction.chart_found
    assert correction.record["swatches_used"] <= 21
    assert correction.record["delta_e2000_mean"] < 1.0


def test_a_photo_without_a_chart_keeps_the_documented_fallback(astronaut: Image.Image) -> None:
    correction = colour.correction_from_chart(np.asarray(astronaut))
    assert not correction.chart_found
    assert correction.matrix is None
    assert correction.method == colour.FALLBACK
    assert "not corrected" in correction.record["method"]


def _recoloured(colours: NDArray[np.float64]) -> NDArray[np.float64]:
    """A chart image with the same geometry and other swatch colours (in chart order)."""
    chart = chart_image(16)
    reference = colour.linear_to_srgb(colour.reference_linear())
    recoloured = chart.copy()
    for index, value in enumerate(reference):
        recoloured[np.all(np.abs(chart - value) < 1e-9, axis=2)] = colours[index]
    return recoloured


def test_a_grid_of_tiles_that_is_not_the_chart_is_refused(portrait: NDArray[np.float64]) -> None:
    reference = colour.linear_to_srgb(colour.reference_linear())
    shuffled = reference[np.random.default_rng(3).permutation(24)]
    tiles = np.tile(np.linspace(0.3, 0.8, 24)[:, None], (1, 3))  # a grey tiled wall
    for colours in (shuffled, tiles):
        photo = _photo(portrait, chart=_recoloured(colours))
        assert colour.find_grids(photo), "the geometry alone looks like a chart"
        correction = colour.correction_from_chart(photo)
        assert not correction.chart_found
        assert correction.record["grid_rejected"]


def test_chart_swatches_smaller_than_the_detector_needs_are_not_found(portrait: NDArray[np.float64]) -> None:
    assert not colour.correction_from_chart(_photo(portrait, swatch=6)).chart_found
