"""Zone masks: the exclusion margin around eyes, brows and lips."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mesoclinic.imaging import analysis, zones
from mesoclinic.imaging.alignment import CANONICAL_IOD_PX, CANONICAL_SHAPE
from mesoclinic.imaging.landmarks import default_detector


@pytest.fixture(scope="module")
def landmarks(astronaut: Image.Image) -> np.ndarray:
    return analysis.frame(astronaut, default_detector()).alignment.landmarks


@pytest.mark.parametrize(
    ("scale", "shift"),
    [(1.0, (0.0, 0.0)), (1.3, (-40.0, 25.0)), (0.8, (200.0, -150.0)), (1.0, (-330.0, 0.0))],
)
def test_the_exclusion_margin_is_the_exact_distance_from_eyes_brows_and_lips(
    landmarks: np.ndarray, scale: float, shift: tuple[float, float]
) -> None:
    points = (landmarks - landmarks.mean(axis=0)) * scale + landmarks.mean(axis=0) + np.array(shift)
    features = np.zeros(CANONICAL_SHAPE, dtype=bool)
    for feature in (zones.RIGHT_EYE, zones.LEFT_EYE, zones.RIGHT_BROW, zones.LEFT_BROW, zones.LIPS):
        features |= zones._landmark_polygon(points, feature).astype(bool)
    # Over the whole frame: every pixel's exact Euclidean distance to the nearest feature pixel.
    distance = ndimage.distance_transform_edt(~features) if features.any() else np.inf
    expected = distance <= zones.EXCLUSION_MARGIN * CANONICAL_IOD_PX
    excluded = zones.exclusion_mask(points)
    assert excluded.dtype == bool
    assert np.array_equal(excluded, expected)
    assert excluded.sum() > features.sum() > 0


def test_a_face_outside_the_frame_excludes_nothing(landmarks: np.ndarray) -> None:
    assert not zones.exclusion_mask(landmarks + 5000.0).any()
