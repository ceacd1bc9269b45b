"""Capture quality of one photo: sharpness, burnt-out skin, skin clipped to black in a zone (hair or
a shadow over it), pose, resolution, alignment residual, colour calibration.

Measured on the canonical image's face (so sharpness is comparable across cameras); the flags come
from ``rules.quality_flags`` with the thresholds and sources in ``data/imaging.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from mesoclinic.imaging import rules
from mesoclinic.imaging.alignment import Alignment
from mesoclinic.imaging.colour import NO_CHART, Correction, srgb_to_linear
from mesoclinic.imaging.reference import reference
from mesoclinic.imaging.zones import Mask

CLIP_LOW, CLIP_HIGH = 1 / 255, 254 / 255


def lightness(rgb: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """CIE L* (D65) of sRGB pixels, from luminance only (cheaper than a full Lab conversion)."""
    luminance = cv2.transform(
        srgb_to_linear(rgb.astype(np.float32, copy=False)),
        np.array([[0.2126, 0.7152, 0.0722]], dtype=np.float32),
    )
    cube_root = np.where(luminance > 0.008856, np.cbrt(luminance), 7.787 * luminance + 16 / 116)
    result: NDArray[np.float32] = (116 * cube_root - 16).astype(np.float32)
    return result


def _unclipped_bounds(dtype: np.dtype[Any]) -> tuple[float, float]:
    """The inclusive bounds, in ``dtype``, of the values strictly between CLIP_LOW and CLIP_HIGH (as
    compared in float64): what ``cv2.inRange`` needs to tell unclipped pixels exactly."""
    low, high = dtype.type(CLIP_LOW), dtype.type(CLIP_HIGH)
    if float(low) <= CLIP_LOW:
        low = np.nextafter(low, dtype.type(np.inf))
    if float(high) >= CLIP_HIGH:
        high = np.nextafter(high, dtype.type(-np.inf))
    return float(low), float(high)


def measure(
    rgb: NDArray[np.floating[Any]],
    face: Mask,
    zone_masks: Mapping[str, Mask],
    alignment: Alignment,
    view: rules.View | None,
    colour_calibrated: bool = False,
) -> rules.CaptureMeasures:
    """Sharpness over the face; clipping over the measured skin only (the zones), since pupils,
    nostrils and the mouth are black in every good photo. Burnt-out skin (a channel at 254-255) is an
    exposure fault; skin clipped to black (a channel at 0-1) is hair or a deep shadow over a zone, or a
    face far too dark there, and is reported per zone."""
    skin = np.logical_or.reduce(list(zone_masks.values())) if zone_masks else np.zeros_like(face)
    x, y, w, h = cv2.boundingRect(face.view(np.uint8))
    sx, sy, sw, sh = cv2.boundingRect(skin.view(np.uint8))
    black_by_zone: dict[str, float] = {}
    if w == 0 or h == 0 or sw == 0 or sh == 0:
        clipped = 100.0
        sharpness = 0.0
    else:
        # Only the face's box (and a pixel around it) is converted: the rest of the frame is unused.
        box = (slice(max(y - 1, 0), y + h + 1), slice(max(x - 1, 0), x + w + 1))
        inside = face[box]
        # A pixel is clipped when any channel is at or beyond a limit (inRange: all channels within).
        skin_box = (slice(sy, sy + sh), slice(sx, sx + sw))
        pixels = np.ascontiguousarray(rgb[skin_box])
        low, high = _unclipped_bounds(pixels.dtype)
        burnt = cv2.inRange(pixels, np.full(3, -np.inf), np.full(3, high)) == 0
        black = cv2.inRange(pixels, np.full(3, low), np.full(3, np.inf)) == 0
        skin_here = skin[skin_box]
        clipped = 100.0 * float(np.count_nonzero(skin_here & burnt)) / float(np.count_nonzero(skin_here))
        for code, zone in zone_masks.items():
            in_zone = zone[skin_box]
            if (size := np.count_nonzero(in_zone)) > 0:
                black_by_zone[code] = 100.0 * float(np.count_nonzero(in_zone & black)) / size
        laplacian = cv2.Laplacian(lightness(rgb[box]), cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)
        cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
        inner = cv2.erode(inside.view(np.uint8), cross, iterations=3)
        sharpness = float(np.var(laplacian[inner > 0]))
    return rules.CaptureMeasures(
        view=view,
        face_iod_px=alignment.iod_px,
        sharpness=sharpness,
        clipped_pct=clipped,
        black_pct_by_zone=black_by_zone,
        yaw=alignment.yaw,
        alignment_residual_iod=alignment.residual_iod,
        colour_calibrated=colour_calibrated,
    )


def report(measures: rules.CaptureMeasures, correction: Correction = NO_CHART) -> dict[str, Any]:
    """The JSON stored with the photo and printed by ``mesoclinic analyze``."""
    return {
        "face_iod_px": round(measures.face_iod_px, 1),
        "sharpness": round(measures.sharpness, 3),
        "clipped_pct": round(measures.clipped_pct, 3),
        "obscured_zones": rules.obscured_zones(measures, reference().quality),
        "yaw": round(measures.yaw, 4),
        "alignment_residual_iod": round(measures.alignment_residual_iod, 4),
        "colour_normalisation": correction.method,
        "colour_chart": correction.record,
        "flags": rules.quality_flags(measures, reference().quality),
    }
