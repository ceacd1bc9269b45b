"""Facial zones as pixel masks in the canonical frame, built from MediaPipe landmarks.

Geometry (in IOD units, see ``data/imaging.yaml`` for each zone's definition and source): every
zone is clipped to the face oval, and eyes, brows and lips, dilated by ``EXCLUSION_MARGIN``, are
removed. Side R/L is the subject's own side; on a front view the subject's right is image left.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from mesoclinic.imaging.alignment import CANONICAL_IOD_PX, CANONICAL_SHAPE, X_RANGE, Y_RANGE, to_canonical_px
from mesoclinic.imaging.landmarks import Points

Mask = NDArray[np.bool_]

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
EXCLUSION_MARGIN = 0.04  # IOD

ZONE_CODES = (
    "forehead",
    "glabella",
    "crows_feet_R",
    "crows_feet_L",
    "under_eye_R",
    "under_eye_L",
    "cheek_R",
    "cheek_L",
    "nasolabial_R",
    "nasolabial_L",
    "perioral",
    "chin",
)

Polygon = list[tuple[float, float]]


def _box(x0: float, x1: float, y0: float, y1: float) -> Polygon:
    return [(min(x0, x1), y0), (max(x0, x1), y0), (max(x0, x1), y1), (min(x0, x1), y1)]


def zone_polygons(units: Points) -> dict[str, Polygon]:
    """Zone polygons in IOD units from landmarks in IOD units."""

    def p(i: int) -> tuple[float, float]:
        return float(units[i, 0]), float(units[i, 1])

    def x(i: int) -> float:
        return float(units[i, 0])

    def y(i: int) -> float:
        return float(units[i, 1])

    brow_top = min(y(105), y(334), y(107), y(336))
    polygons: dict[str, Polygon] = {
        "forehead": _box(x(70), x(300), y(10) + 0.05, brow_top - 0.05),
        "glabella": _box(x(107) + 0.02, x(336) - 0.02, brow_top - 0.05, y(168)),
        "perioral": _box(x(61) - 0.06, x(291) + 0.06, y(0) - 0.12, y(17) + 0.06),
        "chin": _box(x(61) + 0.02, x(291) - 0.02, y(17) + 0.10, y(152) - 0.06),
    }
    # Per side: s = -1 for the subject's right (image left on a front view), +1 for the left.
    for side, s, outer, inner, lid, mouth, edge in (
        ("R", -1, 33, 133, 145, 61, 234),
        ("L", 1, 263, 362, 374, 291, 454),
    ):
        ox, oy = p(outer)
        polygons[f"crows_feet_{side}"] = _box(ox + s * 0.04, ox + s * 0.30, oy - 0.12, oy + 0.15)
        polygons[f"under_eye_{side}"] = _box(ox - s * 0.02, x(inner), y(lid) + 0.04, y(lid) + 0.20)
        nose_x, nose_y = p(1)
        mouth_x, mouth_y = p(mouth)
        polygons[f"nasolabial_{side}"] = [
            (nose_x + s * 0.16, nose_y - 0.05),
            (nose_x + s * 0.30, nose_y - 0.05),
            (mouth_x + s * 0.14, mouth_y + 0.05),
            (mouth_x + s * 0.02, mouth_y + 0.05),
        ]
        top = y(lid) + 0.22
        polygons[f"cheek_{side}"] = [
            (x(edge) - s * 0.10, top),
            (nose_x + s * 0.16, top),
            (nose_x + s * 0.16, nose_y - 0.05),
            (nose_x + s * 0.30, nose_y - 0.05),
            (mouth_x + s * 0.14, mouth_y - 0.05),
            (x(edge) - s * 0.12, mouth_y - 0.05),
        ]
    return {code: polygons[code] for code in ZONE_CODES}


#: cv2.fillPoly's fixed-point precision: vertices in 1/16 pixel.
_SHIFT = 4


def _polygon_raster(pixels: NDArray[np.float64]) -> NDArray[np.uint8]:
    """1 where a pixel's centre lies inside the polygon (x, y vertices in canonical pixels), else 0."""
    canvas = np.zeros(CANONICAL_SHAPE, dtype=np.uint8)
    vertices = np.round(pixels * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(canvas, [vertices], (1,), lineType=cv2.LINE_8, shift=_SHIFT)
    return canvas


def _polygon_mask(pixels: NDArray[np.float64]) -> Mask:
    """Pixels whose centre lies inside the polygon (x, y vertices in canonical pixels)."""
    return _polygon_raster(pixels).view(bool)


def _rasterise(polygon: Sequence[tuple[float, float]]) -> Mask:
    return _polygon_mask(to_canonical_px(np.asarray(polygon, dtype=np.float64)))


def _landmark_polygon(canonical_px: Points, indices: Sequence[int]) -> NDArray[np.uint8]:
    return _polygon_raster(canonical_px[list(indices)])


def face_mask(canonical_px: Points) -> Mask:
    return _landmark_polygon(canonical_px, FACE_OVAL).view(bool)


def exclusion_mask(canonical_px: Points) -> Mask:
    """Eyes, brows and lips, dilated by the margin."""
    excluded = np.zeros(CANONICAL_SHAPE, dtype=np.uint8)
    for feature in (RIGHT_EYE, LEFT_EYE, RIGHT_BROW, LEFT_BROW, LIPS):
        excluded |= _landmark_polygon(canonical_px, feature)
    dilated = np.zeros(CANONICAL_SHAPE, dtype=bool)
    x, y, w, h = cv2.boundingRect(excluded)
    if w == 0 or h == 0:
        return dilated
    # The distance transform only over the features' box and the margin around it: no pixel beyond
    # can be within the margin of a feature, and inside it the (exact) distances are the same.
    reach = math.ceil(EXCLUSION_MARGIN * CANONICAL_IOD_PX) + 1
    box = (slice(max(y - reach, 0), y + h + reach), slice(max(x - reach, 0), x + w + reach))
    distance = cv2.distanceTransform(1 - excluded[box], cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    dilated[box] = distance <= EXCLUSION_MARGIN * CANONICAL_IOD_PX
    return dilated


def zone_masks(canonical_px: Points) -> dict[str, Mask]:
    """Each zone's pixels in the canonical image (may be empty if the face leaves the frame)."""
    units = canonical_px / CANONICAL_IOD_PX + np.array([X_RANGE[0], Y_RANGE[0]])
    allowed = face_mask(canonical_px) & ~exclusion_mask(canonical_px)
    return {code: _rasterise(polygon) & allowed for code, polygon in zone_polygons(units).items()}
