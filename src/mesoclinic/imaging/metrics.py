"""Objective skin metrics per zone, on the canonical (aligned, fixed-scale) image.

Each metric's unit, method, direction and source is in ``data/imaging.yaml``; the code here is the
method. Colour: CIELAB (D65) from linear sRGB, after the colour chart's 3×3 correction when the photo
has one (``colour.py``); otherwise the device's sRGB is trusted and the photo carries the
``colour-uncalibrated`` flag.

Shading (low-frequency illumination) is removed before evenness and spots. Fine lines are found at
the scale of 1-3 px creases (at 256 px per IOD, about 0.35 mm per pixel):

1. L* minus its Gaussian of sigma 1 px keeps only structure at the fine-line scale (shading, the
   face's relief and broad folds are gone).
2. Line response, a valley detector that ignores edges: for 4 orientations the derivative of
   Gaussian (sigma 1 px) across the orientation is read one pixel (1.4 on the diagonals) either side
   of each point; a dark line has the intensity falling into it on one side and rising out of it on
   the other, so the response is ``min(falling, rising)``, in L* per pixel. A step edge (hairline,
   jaw, shadow border, a JPEG block boundary) rises on one side only and scores zero, which a Hessian
   or Frangi filter does not do.
3. Relative to local noise: the response is divided by its local RMS (Gaussian of 12 px, inside the
   face), so a threshold means "this many times the skin's own texture here", whatever the camera,
   exposure or JPEG quality.
4. Non-maximum suppression across the line leaves a 1-px centreline; hysteresis keeps centreline
   pieces above 2 noise units that touch a point above 4; pieces shorter than 15 px (about 5 mm) are
   dropped as texture.

The wrinkle index is the mean response in excess of twice the local noise, so JPEG and sensor noise
(which raise the plain mean response) hardly move it. The canonical image is resampled bicubically
(``alignment.canonical_image``): bilinear upsampling leaves creases on the source pixel grid that
this detector would rightly report as lines.

Spots are compact dark blobs in optical density (-ln of linear luminance, so a spot's contrast does
not change with exposure): at least 10 % darker than the surround at their core (5 % at their edge),
and each is counted in the zone its centre lies in.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from mesoclinic.imaging.alignment import CANONICAL_IOD_PX
from mesoclinic.imaging.colour import srgb_to_linear
from mesoclinic.imaging.zones import Mask

Image = NDArray[np.float32]

SHADING_SIGMA = 0.08 * CANONICAL_IOD_PX
TEXTURE_SIGMA = 2.0
LINE_HIGHPASS_SIGMA = 1.0  # px
LINE_SIGMA = 1.0  # px, derivative-of-Gaussian scale across the line
_STEPS = ((1, 0), (1, 1), (0, 1), (-1, 1))  # normals at 0°, 45°, 90°, 135° (x, y; y down)
LINE_NOISE_SIGMA = 12.0  # px
LINE_NOISE_FLOOR = (
    0.03  # L*/px: 3x the response to 8-bit quantisation noise (0.01), for flat synthetic images
)
LINE_SEED, LINE_EXTEND = 4.0, 2.0  # in units of the local noise
LINE_MIN_PIXELS = 15  # centreline pixels: about 0.06 IOD, 5 mm
SPOT_SMOOTH_SIGMA = 1.5  # px: JPEG and sensor noise would split and flicker freckles at 1 px
SPOT_PEAK_WINDOW = 11  # px: spots about 4 mm apart are told apart
SPOT_DISC = round(0.12 * CANONICAL_IOD_PX)  # px: spots up to about 10 mm across stand out of the surround
SPOT_SEED, SPOT_EDGE = 0.10, 0.05  # optical density (ln) above the surround: 10 % / 5 % darker
SPOT_MIN_PIXELS = 8
SPOT_MAX_PIXELS = int(0.05 * CANONICAL_IOD_PX**2)
SPOT_MAX_ECCENTRICITY = 0.95
#: Maps are computed on the face's bounding box plus this margin (filters need context at the edge).
MARGIN = 16

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

_LUMINANCE = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # linear sRGB → Y (D65)


def _masked_blur(values: Image, mask: Mask, sigma: float) -> Image:
    """Gaussian of ``values`` inside ``mask`` only (normalised convolution): no bleeding from hair
    or background into the estimate at the face's edge. The result is low-frequency, so it is
    computed on a 4× reduced grid and interpolated back (a 20 px Gaussian costs 16× less)."""
    step = 4
    height, width = values.shape
    small_size = ((width + step - 1) // step, (height + step - 1) // step)
    weights = cv2.resize(mask.astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
    sums = cv2.resize(np.where(mask, values, 0).astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
    weights = cv2.GaussianBlur(weights, (0, 0), sigma / step)
    sums = cv2.GaussianBlur(sums, (0, 0), sigma / step)
    ratio = np.divide(sums, weights, out=np.zeros_like(sums), where=weights > 1e-4)
    return np.asarray(cv2.resize(ratio, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.float32)


@functools.cache
def _derivative_kernels() -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """1-D Gaussian and its derivative (sigma ``LINE_SIGMA``), scaled so that a ramp of slope 1
    gives 1: responses are in L* per pixel."""
    radius = math.ceil(3 * LINE_SIGMA)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    gaussian = np.exp(-(x**2) / (2 * LINE_SIGMA**2))
    gaussian /= gaussian.sum()
    derivative = x * gaussian
    derivative /= float(np.sum(x * derivative))  # cv2 filters correlate: Σ k(x)·f(p + x) = slope
    return gaussian.astype(np.float32), derivative.astype(np.float32)


def _shifted(gxp: Image, gyp: Image, cos: float, sin: float, ox: int, oy: int, pad: int) -> Image:
    """The derivative along the normal (cos, sin), read at (x + ox, y + oy): a view into the padded
    gradient images, no resampling."""
    height, width = gxp.shape[0] - 2 * pad, gxp.shape[1] - 2 * pad
    rows, cols = slice(pad + oy, pad + oy + height), slice(pad + ox, pad + ox + width)
    at: Image = cos * gxp[rows, cols] + sin * gyp[rows, cols]
    return at


@dataclass(frozen=True)
class Lines:
    response: Image  # L*/px, >= 0
    noise: Image  # local RMS of the response, L*/px
    centreline: Mask


def line_map(lightness: Image, face: Mask) -> Lines:
    """Fine dark lines: the valley response, its local noise and the 1-px centreline (see the module
    docstring for the method)."""
    detail = lightness - cv2.GaussianBlur(lightness, (0, 0), LINE_HIGHPASS_SIGMA)
    gaussian, derivative = _derivative_kernels()
    gx = np.asarray(
        cv2.sepFilter2D(detail, cv2.CV_32F, derivative, gaussian, borderType=cv2.BORDER_REPLICATE)
    )
    gy = np.asarray(
        cv2.sepFilter2D(detail, cv2.CV_32F, gaussian, derivative, borderType=cv2.BORDER_REPLICATE)
    )
    # Four orientations (0°, 45°, 90°, 135°) with whole-pixel steps: the walls are read 1 px (axes)
    # or 1.4 px (diagonals) either side, close to where a 1-3 px crease's walls are steepest after
    # the sigma-1 derivative; slicing a padded array costs no resampling.
    pad = 1
    gxp = np.pad(gx, pad, mode="edge").astype(np.float32, copy=False)
    gyp = np.pad(gy, pad, mode="edge").astype(np.float32, copy=False)
    height, width = lightness.shape
    response = np.zeros(lightness.shape, dtype=np.float32)
    orientation = np.zeros(lightness.shape, dtype=np.intp)
    for k, (dx, dy) in enumerate(_STEPS):
        cos, sin = dx / math.hypot(dx, dy), dy / math.hypot(dx, dy)
        valley = np.minimum(
            -_shifted(gxp, gyp, cos, sin, -dx, -dy, pad), _shifted(gxp, gyp, cos, sin, dx, dy, pad)
        )
        np.putmask(orientation, valley > response, k)
        np.maximum(response, valley, out=response)
    noise = np.maximum(
        np.sqrt(np.maximum(_masked_blur(response * response, face, LINE_NOISE_SIGMA), 0)), LINE_NOISE_FLOOR
    )
    z = response / noise
    # Non-maximum suppression across the line, only where the response could make a line at all.
    rows, cols = np.nonzero((z > LINE_EXTEND) & face)
    steps = np.array(_STEPS)[orientation[rows, cols]]
    zp = np.pad(z, pad)
    here = z[rows, cols]
    peak = (here >= zp[rows + pad - steps[:, 1], cols + pad - steps[:, 0]]) & (
        here >= zp[rows + pad + steps[:, 1], cols + pad + steps[:, 0]]
    )
    candidate = np.zeros(lightness.shape, dtype=bool)
    candidate[rows[peak], cols[peak]] = True
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate.astype(np.uint8), connectivity=8)
    seeded = np.bincount(labels[candidate & (z > LINE_SEED)], minlength=count) > 0
    keep = seeded & (stats[:, cv2.CC_STAT_AREA] >= LINE_MIN_PIXELS)
    keep[0] = False
    return Lines(response, noise, candidate & keep[labels])


def spot_labels(density: Image, face: Mask) -> tuple[NDArray[np.int32], Mask, Image]:
    """Compact dark blobs on optical density: (labels, one pixel per spot at its centre, the
    darkness above the surround in optical density).

    The surround is a grey-level opening (a disc of ``SPOT_DISC`` px, on a 2× reduced grid): it
    follows shading, slopes and the chin's shadow but cannot fit inside a spot, so ``density`` minus
    the opening (a top-hat) is each spot's own darkness. Outside the face the density is replaced by
    its smooth masked average, so hair and background neither create nor hide spots at the edge."""
    smooth = np.asarray(cv2.GaussianBlur(density, (0, 0), SPOT_SMOOTH_SIGMA), dtype=np.float32)
    filled = np.where(face, smooth, _masked_blur(smooth, face, SHADING_SIGMA)).astype(np.float32)
    height, width = density.shape
    half = ((width + 1) // 2, (height + 1) // 2)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (SPOT_DISC // 2 | 1, SPOT_DISC // 2 | 1))
    opened = cv2.morphologyEx(cv2.resize(filled, half, interpolation=cv2.INTER_AREA), cv2.MORPH_OPEN, disc)
    contrast = filled - cv2.resize(opened, (width, height), interpolation=cv2.INTER_LINEAR)
    # A spot's extent is where it is at least half as dark as the darkest point near it: touching
    # spots (and a spot in a freckled patch) come apart instead of merging into one irregular blob.
    nearby_peak = cv2.dilate(
        contrast, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (SPOT_PEAK_WINDOW, SPOT_PEAK_WINDOW))
    )
    candidate = ((contrast > SPOT_EDGE) & (contrast >= 0.5 * nearby_peak) & face).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    if count <= 1:
        return np.zeros(density.shape, dtype=np.int32), np.zeros(density.shape, dtype=bool), contrast
    seeded = np.zeros(count, dtype=bool)
    seeded[np.unique(labels[(contrast > SPOT_SEED) & (candidate > 0)])] = True
    area = stats[:, cv2.CC_STAT_AREA]
    # Shape from second moments (bincount over labels: one pass for every blob).
    rows, cols = np.nonzero(labels)
    which = labels[rows, cols]
    n = np.maximum(np.bincount(which, minlength=count), 1).astype(np.float64)
    mean_r = np.bincount(which, rows, count) / n
    mean_c = np.bincount(which, cols, count) / n
    var_r = np.bincount(which, rows.astype(np.float64) ** 2, count) / n - mean_r**2 + 1 / 12
    var_c = np.bincount(which, cols.astype(np.float64) ** 2, count) / n - mean_c**2 + 1 / 12
    cov = np.bincount(which, rows.astype(np.float64) * cols, count) / n - mean_r * mean_c
    spread = np.sqrt(((var_r - var_c) / 2) ** 2 + cov**2)
    major, minor = (var_r + var_c) / 2 + spread, np.maximum((var_r + var_c) / 2 - spread, 1e-9)
    eccentricity = np.sqrt(np.clip(1 - minor / major, 0, 1))
    keep = (
        seeded
        & (area >= SPOT_MIN_PIXELS)
        & (area <= SPOT_MAX_PIXELS)
        & (eccentricity < SPOT_MAX_ECCENTRICITY)
    )
    keep[0] = False
    kept: NDArray[np.int32] = np.where(keep[labels], labels, 0).astype(np.int32)
    centres = np.zeros(density.shape, dtype=bool)
    ids = np.nonzero(keep)[0]
    centres[np.round(mean_r[ids]).astype(int), np.round(mean_c[ids]).astype(int)] = True
    return kept, centres, contrast


@dataclass(frozen=True)
class Maps:
    """Whole-face maps computed once and shared by every zone (canonical image size)."""

    lab: Image
    shading_free: Image
    fine: Image
    ridges: Image  # line response in excess of twice the local noise (L*/px): the wrinkle index map
    lines: Mask
    skeleton: Mask
    spots: NDArray[np.int32]
    spot_contrast: Image
    #: One pixel per spot, at its centre: a spot is counted in the zone its centre lies in (a spot on
    #: a zone's border is not counted twice, nor lost or found as the border moves by a pixel).
    spot_centres: Mask


def linear_rgb(rgb: NDArray[np.floating[Any]], colour_matrix: NDArray[np.float64] | None = None) -> Image:
    """sRGB (0-1) → linear sRGB, corrected by the chart's 3×3 matrix when there is one."""
    linear = srgb_to_linear(rgb.astype(np.float32))
    if colour_matrix is not None:
        linear = np.maximum(cv2.transform(linear, colour_matrix.astype(np.float32)), 0)
    result: Image = linear
    return result


def face_maps(
    rgb: NDArray[np.floating[Any]], face: Mask, colour_matrix: NDArray[np.float64] | None = None
) -> Maps:
    """All maps, computed on the face's bounding box (plus a margin) and placed in full-size arrays."""
    full_shape = face.shape
    x, y, w, h = cv2.boundingRect(face.astype(np.uint8))
    x0, y0 = max(x - MARGIN, 0), max(y - MARGIN, 0)
    x1, y1 = min(x + w + MARGIN, full_shape[1]), min(y + h + MARGIN, full_shape[0])
    box = (slice(y0, y1), slice(x0, x1))
    inside = face[box]
    linear = linear_rgb(rgb[box], colour_matrix)
    # cv2's Lab conversion is exact to 0.03 for linear input up to 1; brighter is clipped (L* 100).
    lab = cv2.cvtColor(np.minimum(linear, 1.0), cv2.COLOR_LRGB2Lab)
    lightness = np.ascontiguousarray(lab[..., 0])
    shading_free = np.where(inside, lightness - _masked_blur(lightness, inside, SHADING_SIGMA), 0).astype(
        np.float32
    )
    fine = lightness - cv2.GaussianBlur(lightness, (0, 0), TEXTURE_SIGMA)
    lines = line_map(lightness, inside)
    luminance = cv2.transform(linear, _LUMINANCE[None, :])
    density = -np.log(np.maximum(luminance, 1e-3))
    spots, spot_centres, darker = spot_labels(density, inside)
    # The same darkness in L*: the surround is e^darker times as bright, so it lies
    # 116·cbrt(Y)·(e^(darker/3) - 1) L* above the spot (CIE L* = 116·cbrt(Y) - 16 above Y = 0.009).
    depth = 116 * np.cbrt(luminance) * (np.exp(np.maximum(darker, 0) / 3) - 1)
    skeleton = lines.centreline
    band = cv2.dilate(skeleton.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & inside

    return Maps(
        lab=_placed(lab, box, full_shape),
        shading_free=_placed(shading_free, box, full_shape),
        fine=_placed(fine, box, full_shape),
        ridges=_placed(np.maximum(lines.response - LINE_EXTEND * lines.noise, 0), box, full_shape),
        lines=_placed(band, box, full_shape),
        skeleton=_placed(skeleton, box, full_shape),
        spots=_placed(spots, box, full_shape),
        spot_centres=_placed(spot_centres & inside, box, full_shape),
        spot_contrast=_placed(depth, box, full_shape),
    )


def _placed(part: NDArray[Any], box: tuple[slice, slice], shape: tuple[int, ...]) -> NDArray[Any]:
    """A map computed on the face's box, in a full-size canonical array (zero outside)."""
    out = np.zeros(shape + part.shape[2:], dtype=part.dtype)
    out[box] = part
    return out


def _finite(value: float) -> float:
    return round(value, 4) if math.isfinite(value) else 0.0


def zone_metrics(maps: Maps, zone: Mask) -> dict[str, float]:
    """Every metric for one zone (empty dict for an empty zone)."""
    x, y, w, h = cv2.boundingRect(zone.astype(np.uint8))
    if w == 0 or h == 0:
        return {}
    box = (slice(y, y + h), slice(x, x + w))
    mask = zone[box]
    n = int(mask.sum())
    lab = maps.lab[box][mask]
    lightness = float(np.median(lab[:, 0]))
    a = float(np.median(lab[:, 1]))
    b = float(np.median(lab[:, 2]))
    shading_free = maps.shading_free[box][mask]
    spot_labels_in_zone = maps.spots[box][mask]
    spot_pixels = spot_labels_in_zone > 0
    highlights = np.clip(shading_free, 0, None)
    values = {
        "L_star": lightness,
        "a_star": a,
        "b_star": b,
        "ita_deg": math.degrees(math.atan2(lightness - 50.0, b)),
        "hue_deg": math.degrees(math.atan2(b, a)),
        "evenness_sd": float(np.std(shading_free)),
        "wrinkle_index": float(np.mean(maps.ridges[box][mask])),
        "line_density_pct": 100.0 * float(maps.lines[box][mask].sum()) / n,
        "line_length_iod": float(maps.skeleton[box][mask].sum()) / CANONICAL_IOD_PX,
        "spot_count": float(maps.spot_centres[box][mask].sum()),
        "spot_area_pct": 100.0 * float(spot_pixels.sum()) / n,
        "spot_contrast": float(np.mean(maps.spot_contrast[box][mask][spot_pixels]))
        if spot_pixels.any()
        else 0.0,
        "roughness": float(np.std(maps.fine[box][mask])),
        "radiance_proxy": float(np.mean(lab[:, 0])) + float(np.std(highlights)),
    }
    return {code: _finite(values[code]) for code in METRIC_CODES}
