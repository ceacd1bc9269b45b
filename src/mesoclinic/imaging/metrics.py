"""Objective skin metrics per zone, on the canonical (aligned, fixed-scale) image.

Each metric's unit, method, direction and source is in ``data/imaging.yaml``; the code here is the
method. Colour: CIELAB from sRGB (D65). No colour chart is detected yet, so the documented fallback
is "none": the device's sRGB is trusted and the photo carries the ``colour-uncalibrated`` quality
flag; colour metrics then compare only between photos taken under the same lighting and camera.
Shading (low-frequency illumination) is removed before evenness, wrinkles, spots and texture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from skimage.color import rgb2lab
from skimage.filters import sato
from skimage.measure import label, regionprops
from skimage.morphology import remove_small_objects, skeletonize

from mesoclinic.imaging.alignment import CANONICAL_IOD_PX
from mesoclinic.imaging.zones import Mask

Image = NDArray[np.float64]

COLOUR_NORMALISATION = "none: device sRGB (D65) assumed; no colour chart detected"
SHADING_SIGMA = 0.08 * CANONICAL_IOD_PX
RIDGE_SIGMAS = (1.0, 1.5, 2.5)
LINE_THRESHOLD = 1.0  # L*
LINE_MIN_PIXELS = 20
SPOT_THRESHOLD = 3.0  # L* below the surround
SPOT_MIN_PIXELS = 8
SPOT_MAX_PIXELS = int(0.05 * CANONICAL_IOD_PX**2)
SPOT_MAX_ECCENTRICITY = 0.95
TEXTURE_SIGMA = 2.0

METRIC_CODES = (
    "L_star",
    "a_star",
    "b_star",
    "ita_deg",
    "hue_deg",
    "evenness_sd",
    "wrinkle_index",
    "line_density_pct",
    "line_length_iod",
    "spot_count",
    "spot_area_pct",
    "spot_contrast",
    "roughness",
    "radiance_proxy",
)


def _masked_blur(values: Image, mask: Mask, sigma: float) -> Image:
    """Gaussian of ``values`` inside ``mask`` only (normalised convolution): no bleeding from hair
    or background into the shading estimate at the face's edge. Shading is low-frequency, so it is
    estimated on a 4× reduced grid and interpolated back (a 20 px Gaussian costs 16× less)."""
    step = 4
    height, width = values.shape
    weights = np.where(mask, 1.0, 0.0)
    small_weight = ndimage.gaussian_filter(weights[::step, ::step], sigma / step)
    small_values = ndimage.gaussian_filter(np.where(mask, values, 0.0)[::step, ::step], sigma / step)
    ratio = np.divide(small_values, small_weight, out=np.zeros_like(small_values), where=small_weight > 1e-6)
    zoom = (height / ratio.shape[0], width / ratio.shape[1])
    result: Image = ndimage.zoom(ratio, zoom, order=1, grid_mode=True, mode="nearest")[:height, :width]
    return result


@dataclass(frozen=True)
class Maps:
    """Whole-face maps computed once and shared by every zone."""

    lab: Image
    shading_free: Image
    fine: Image
    ridges: Image
    lines: Mask
    skeleton: Mask
    spots: NDArray[np.int32]
    spot_contrast: Image


def face_maps(rgb: Image, face: Mask) -> Maps:
    lab = rgb2lab(rgb)
    lightness = lab[..., 0]
    shading_free = np.where(face, lightness - _masked_blur(lightness, face, SHADING_SIGMA), 0.0)
    fine = lightness - ndimage.gaussian_filter(lightness, TEXTURE_SIGMA)
    ridges = np.where(face, sato(shading_free, sigmas=RIDGE_SIGMAS, black_ridges=True), 0.0)
    lines = remove_small_objects((ridges > LINE_THRESHOLD) & face, max_size=LINE_MIN_PIXELS - 1)
    smooth = ndimage.gaussian_filter(shading_free, 1.0)
    dark = (smooth < -SPOT_THRESHOLD) & face
    labelled = label(dark)
    spots = np.zeros(labelled.shape, dtype=np.int32)
    for region in regionprops(labelled):
        if SPOT_MIN_PIXELS <= region.area <= SPOT_MAX_PIXELS and region.eccentricity < SPOT_MAX_ECCENTRICITY:
            spots[labelled == region.label] = region.label
    return Maps(lab, shading_free, fine, ridges, lines, skeletonize(lines), spots, -smooth)


def _finite(value: float) -> float:
    return round(value, 4) if math.isfinite(value) else 0.0


def zone_metrics(maps: Maps, zone: Mask) -> dict[str, float]:
    """Every metric for one zone (empty dict for an empty zone)."""
    n = int(zone.sum())
    if n == 0:
        return {}
    lightness = float(np.median(maps.lab[..., 0][zone]))
    a = float(np.median(maps.lab[..., 1][zone]))
    b = float(np.median(maps.lab[..., 2][zone]))
    shading_free = maps.shading_free[zone]
    spot_labels = maps.spots[zone]
    spot_pixels = spot_labels > 0
    highlights = np.clip(shading_free, 0, None)
    values = {
        "L_star": lightness,
        "a_star": a,
        "b_star": b,
        "ita_deg": math.degrees(math.atan2(lightness - 50.0, b)),
        "hue_deg": math.degrees(math.atan2(b, a)),
        "evenness_sd": float(np.std(shading_free)),
        "wrinkle_index": float(np.mean(maps.ridges[zone])),
        "line_density_pct": 100.0 * float(maps.lines[zone].sum()) / n,
        "line_length_iod": float(maps.skeleton[zone].sum()) / CANONICAL_IOD_PX,
        "spot_count": float(len(np.unique(spot_labels[spot_pixels]))),
        "spot_area_pct": 100.0 * float(spot_pixels.sum()) / n,
        "spot_contrast": float(np.mean(maps.spot_contrast[zone][spot_pixels])) if spot_pixels.any() else 0.0,
        "roughness": float(np.std(maps.fine[zone])),
        "radiance_proxy": float(np.mean(maps.lab[..., 0][zone])) + float(np.std(highlights)),
    }
    return {code: _finite(values[code]) for code in METRIC_CODES}
