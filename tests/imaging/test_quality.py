"""Capture quality measures on a synthetic canonical frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesoclinic.imaging import alignment as align
from mesoclinic.imaging import quality, rules
from mesoclinic.imaging.alignment import CANONICAL_SHAPE


def _alignment() -> align.Alignment:
    points = np.zeros((478, 2))
    points[list(align.RIGID)] = align.TEMPLATE
    points[[234, 454]] = [(-0.7, 0.3), (0.7, 0.3)]
    return align.fit(points * 300 + 500)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_burnt_out_skin_is_counted_over_the_zones_and_black_skin_per_zone(dtype: type[np.floating]) -> None:
    rgb = np.full((*CANONICAL_SHAPE, 3), 128 / 255, dtype=dtype)
    face = np.zeros(CANONICAL_SHAPE, dtype=bool)
    face[100:400, 100:400] = True
    upper, lower = (np.zeros(CANONICAL_SHAPE, dtype=bool) for _ in range(2))
    upper[200:250, 150:350] = True  # 10 000 pixels each
    lower[250:300, 150:350] = True
    # Values at, just inside and just beyond each limit, one channel at a time, in the upper zone.
    near = []
    for limit in (quality.CLIP_LOW, quality.CLIP_HIGH):
        value = dtype(limit)
        near += [value, np.nextafter(value, dtype(0)), np.nextafter(value, dtype(1))]
    for row, value in enumerate(near):
        rgb[200 + row, 150 : 150 + 5 * (row + 1), row % 3] = value
    rgb[50, 50] = 1.0  # outside the zones: not counted
    rgb[270, 200] = (0.0, 1.0, 0.5)  # one pixel of the lower zone, burnt out and black
    # The definitions, compared in float64 pixel by pixel.
    skin = rgb[upper | lower].astype(np.float64)
    burnt = np.any(skin >= quality.CLIP_HIGH, axis=1).sum()
    black_upper = np.any(rgb[upper].astype(np.float64) <= quality.CLIP_LOW, axis=1).sum()
    assert 1 < burnt < 1 + 5 * 21
    assert 0 < black_upper < 5 * 21
    measures = quality.measure(rgb, face, {"upper": upper, "lower": lower}, _alignment(), "front")
    assert measures.clipped_pct == pytest.approx(100.0 * burnt / 20000, rel=1e-12)
    assert measures.black_pct_by_zone == pytest.approx({"upper": 100.0 * black_upper / 10000, "lower": 0.01})
    assert math.isfinite(measures.sharpness)


def test_a_fringe_over_one_zone_names_that_zone_and_is_not_an_exposure_fault() -> None:
    rgb = np.full((*CANONICAL_SHAPE, 3), 150 / 255, dtype=np.float32)
    face = np.zeros(CANONICAL_SHAPE, dtype=bool)
    face[100:400, 100:400] = True
    forehead, cheek = (np.zeros(CANONICAL_SHAPE, dtype=bool) for _ in range(2))
    forehead[120:170, 150:350] = True
    cheek[250:300, 150:250] = True
    rgb[120:130, 150:350] = 0.0  # black hair across the top fifth of the forehead
    rgb[250, 150:152] = 0.0  # a pore-sized black speck on the cheek: under the limit
    zones = {"forehead": forehead, "cheek": cheek}
    record = quality.report(quality.measure(rgb, face, zones, _alignment(), None))
    assert record["obscured_zones"] == ["forehead"]
    assert rules.SKIN_OBSCURED in record["flags"]
    assert rules.EXPOSURE_CLIPPED not in record["flags"]
    assert record["clipped_pct"] == 0.0


def test_no_skin_counts_as_fully_clipped() -> None:
    rgb = np.full((*CANONICAL_SHAPE, 3), 0.5, dtype=np.float32)
    face = np.zeros(CANONICAL_SHAPE, dtype=bool)
    face[100:400, 100:400] = True
    for zones in ({}, {"forehead": np.zeros(CANONICAL_SHAPE, dtype=bool)}):
        measures = quality.measure(rgb, face, zones, _alignment(), None)
        assert measures.clipped_pct == 100.0
        assert measures.sharpness == 0.0
