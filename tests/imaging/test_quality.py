"""Capture quality measures on a synthetic canonical frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesoclinic.imaging import alignment as align
from mesoclinic.imaging import quality
from mesoclinic.imaging.alignment import CANONICAL_SHAPE


def _alignment() -> align.Alignment:
    points = np.zeros((478, 2))
    points[list(align.RIGID)] = align.TEMPLATE
    points[[234, 454]] = [(-0.7, 0.3), (0.7, 0.3)]
    return align.fit(points * 300 + 500)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_skin_pixel_is_clipped_when_any_channel_is_at_or_beyond_a_limit(dtype: type[np.floating]) -> None:
    rgb = np.full((*CANONICAL_SHAPE, 3), 128 / 255, dtype=dtype)
    face = np.zeros(CANONICAL_SHAPE, dtype=bool)
    face[100:400, 100:400] = True
    skin = np.zeros(CANONICAL_SHAPE, dtype=bool)
    skin[200:300, 150:350] = True  # 20 000 pixels
    # Values at, just inside and just beyond each limit, one channel at a time.
    near = []
    for limit in (quality.CLIP_LOW, quality.CLIP_HIGH):
        value = dtype(limit)
        near += [value, np.nextafter(value, dtype(0)), np.nextafter(value, dtype(1))]
    for row, value in enumerate(near):
        rgb[200 + row, 150 : 150 + 5 * (row + 1), row % 3] = value
    rgb[50, 50] = 1.0  # outside the skin: not counted
    rgb[250, 200] = (0.0, 1.0, 0.5)  # one pixel, two channels at the limits
    # The definition, compared in float64 pixel by pixel.
    pixels = rgb[skin].astype(np.float64)
    expected = np.any((pixels >= quality.CLIP_HIGH) | (pixels <= quality.CLIP_LOW), axis=1).sum()
    assert 1 + 5 < expected < 1 + 5 * 21
    measures = quality.measure(rgb, face, skin, _alignment(), "front")
    assert measures.clipped_pct == pytest.approx(100.0 * expected / 20000, rel=1e-12)
    assert math.isfinite(measures.sharpness)


def test_an_empty_skin_counts_as_fully_clipped() -> None:
    rgb = np.full((*CANONICAL_SHAPE, 3), 0.5, dtype=np.float32)
    face = np.zeros(CANONICAL_SHAPE, dtype=bool)
    face[100:400, 100:400] = True
    empty = np.zeros(CANONICAL_SHAPE, dtype=bool)
    measures = quality.measure(rgb, face, empty, _alignment(), None)
    assert measures.clipped_pct == 100.0
    assert measures.sharpness == 0.0
