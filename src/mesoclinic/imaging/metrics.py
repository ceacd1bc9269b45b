"""Objective skin metrics per zone, on the canonical (aligned, fixed-scale) image.

Each metric's unit, method, direction and source is in ``data/imaging.yaml``; the code here is the
method. Colour: CIELAB (D65) from linear sRGB, after the colour chart's 3×3 correction when the photo
has one (``colour.py``); otherwise the device's sRGB is trusted and the photo carries the
``colour-uncalibrated`` flag.

Shading (low-frequency illumination) is removed before evenness. Fine lines are found at the scale
of 1-3 px creases (at 256 px per IOD, about 0.35 mm per pixel):

1. L* minus its Gaussian of sigma 1 px keeps only structure at the fine-line scale (shading, the
   face's relief and broad folds are gone).
2. Line response, a valley detector that ignores edges: for 4 orientations the derivative of
   Gaussian (sigma 1 px) across the orientation is read one pixel (1.4 on the diagonals) either side
   of each point; a dark line has the intensity falling into it on one side and rising out of it on
   the other, so the response is ``min(falling, rising)``, in L* per pixel. A step edge (hairline,
   jaw, shadow border, a JPEG block boundary) rises on one side only and scores zero, which a Hessian
   or Frangi filter does not do.
3. In units of the skin's own texture: the response is divided by a local noise level taken from the
   median absolute fine detail (8 px blocks, smoothed over 12 px). A median hardly moves for the few
   pixels a line covers, so a line barely raises its own noise level: an RMS would, and any isolated
   line, however dark, would then score the same few units and sit on the detection threshold. The
   detail is first smoothed at 0.7 px: JPEG ringing at the pixel scale, which the sigma-1 derivative
   hardly responds to, otherwise raised the noise level by about 14 % from quality 95 to 70 and
   moved every line's score (and so its length) with the photo's compression.
4. Non-maximum suppression across the line leaves a 1-px centreline (pieces above 2 units). Each
   connected piece is weighted by how clearly it is a line: from 0 at a peak of 2 units to 1 at 5,
   times from 0 at 2 px long to 1 at 10 px (about 3.5 mm). Line length and density add these weights,
   so a faint piece that comes and goes between two captures of the same face moves them by a little,
   not by its whole length; the lines drawn on the annotated photo are the pieces weighted 0.5 or more.

The wrinkle index is the mean response in excess of twice its local RMS (Gaussian of 12 px), so JPEG
and sensor noise (which raise the plain mean response) hardly move it. The canonical image is
resampled bicubically (``alignment.canonical_image``): bilinear upsampling leaves creases on the
source pixel grid that this detector would rightly report as lines.

Spots are dark blobs in optical density (-ln of linear luminance, so a spot's darkness does not
change with exposure), found in scale space (Lindeberg's scale-normalised Laplacian of Gaussian over
sigma 1-8 px): each local maximum gives a centre, a size (the scale where it peaks, interpolated;
radius sqrt(2) sigma) and a core darkness (calibrated so a Gaussian spot reads its own depth). Blobs
peaking at the smallest or largest scale are outside the range (grain, shading), and elongated ones
(principal curvatures more than 1.5:1) fade out by 3:1, so a line or a fold is not a spot. Each spot is
weighted from 0 at 0.20 to 1 at 0.35 optical density (18 % to 30 % darker at its core) and shared
between zones by the part of its disc inside each, so counts and areas change smoothly when a spot
is faint or on a border.
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
LINE_NOISE_BLOCK = 8  # px: blocks for the local median of |fine detail|
LINE_NOISE_DETAIL_SIGMA = 0.7  # px: the fine detail is smoothed this much before its median is taken
#: One noise unit = this times the local median |smoothed fine detail|: on the bench's 12 MP
#: re-captures the same unit as 0.35 times the unsmoothed median, which kept skin texture from
#: seeding lines (bench F1, 2 % lines).
LINE_NOISE_PER_MEDIAN = 0.51
LINE_NOISE_FLOOR = (
    0.03  # L*/px: 3x the response to 8-bit quantisation noise (0.01), for flat synthetic images
)
LINE_EXTEND = 2.0  # noise units: centreline pieces start above this
LINE_CLEAR_PEAK = (2.0, 5.0)  # noise units: a piece's weight ramps from 0 to 1 with its peak
#: px: ... and with its length (10 px is about 3.5 mm). JPEG compression breaks a faint line into
#: pieces of 5-15 px that differ from one capture to the next; a longer ramp discounts them unevenly.
LINE_CLEAR_LENGTH = (2.0, 10.0)
DRAWN_WEIGHT = 0.5  # lines and spots at least this clear are drawn and listed as detections
SPOT_SIGMAS = (1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0)  # px: the scale space (sqrt 2 apart)
SPOT_PEAK_WINDOW = 7  # px: blob centres closer than this are one spot
SPOT_CLEAR_DARKNESS = (0.20, 0.35)  # optical density at the core: weight ramps from 0 to 1
SPOT_CLEAR_ROUNDNESS = (1.5, 3.0)  # principal curvature ratio: weight 1 up to 1.5:1, 0 from 3:1
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


def _shifted(padded: Image, ox: int, oy: int, pad: int) -> Image:
    """``padded`` read at (x + ox, y + oy): a view, no resampling."""
    height, width = padded.shape[0] - 2 * pad, padded.shape[1] - 2 * pad
    view: Image = padded[pad + oy : pad + oy + height, pad + ox : pad + ox + width]
    return view


def _ramp(values: NDArray[Any], bounds: tuple[float, float]) -> NDArray[np.float64]:
    """0 at or below ``bounds[0]``, 1 at or above ``bounds[1]``, linear between."""
    low, high = bounds
    ramped: NDArray[np.float64] = np.clip((np.asarray(values, dtype=np.float64) - low) / (high - low), 0, 1)
    return ramped


def _local_median_abs(detail: Image, face: Mask) -> Image:
    """The median of |detail| over the face in blocks of ``LINE_NOISE_BLOCK`` px, smoothed over
    ``LINE_NOISE_SIGMA`` and interpolated back: the texture level around each pixel, which the few
    pixels of a line do not move."""
    block = LINE_NOISE_BLOCK
    height, width = detail.shape
    rows, cols = -(-height // block), -(-width // block)
    padded = np.full((rows * block, cols * block), np.inf, dtype=np.float32)
    padded[:height, :width] = np.where(face, np.abs(detail), np.inf)
    blocks = np.sort(padded.reshape(rows, block, cols, block).transpose(0, 2, 1, 3).reshape(rows, cols, -1))
    valid = np.isfinite(blocks).sum(axis=2)
    middle = np.take_along_axis(blocks, np.maximum(valid - 1, 0)[..., None] // 2, axis=2)[..., 0]
    has_skin = (valid > block * block // 4).astype(np.float32)
    medians = np.where(has_skin > 0, middle, 0).astype(np.float32)
    weights = cv2.GaussianBlur(has_skin, (0, 0), LINE_NOISE_SIGMA / block)
    smoothed = cv2.GaussianBlur(medians, (0, 0), LINE_NOISE_SIGMA / block)
    level = np.divide(smoothed, weights, out=np.zeros_like(smoothed), where=weights > 1e-3)
    resized = cv2.resize(level, (cols * block, rows * block), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(resized[:height, :width], dtype=np.float32)


@dataclass(frozen=True)
class Lines:
    response: Image  # L*/px, >= 0
    noise: Image  # the local noise unit lines are judged in, L*/px
    rms: Image  # local RMS of the response, L*/px (the wrinkle index's noise)
    weight: Image  # 0-1 on centreline pixels: how clearly their piece is a line
    centreline: Mask  # the pieces weighted DRAWN_WEIGHT or more


def line_map(lightness: Image, face: Mask) -> Lines:
    """Fine dark lines: the valley response, its local RMS and the weighted 1-px centreline (see the
    module docstring for the method)."""
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
    response = np.zeros(lightness.shape, dtype=np.float32)
    orientation = np.zeros(lightness.shape, dtype=np.intp)
    for k, (dx, dy) in enumerate(_STEPS):
        norm = math.hypot(dx, dy)
        across = (dx / norm) * gxp + (dy / norm) * gyp  # the derivative along the normal
        valley = np.minimum(-_shifted(across, -dx, -dy, pad), _shifted(across, dx, dy, pad))
        np.putmask(orientation, valley > response, k)
        np.maximum(response, valley, out=response)
    rms = np.maximum(
        np.sqrt(np.maximum(_masked_blur(response * response, face, LINE_NOISE_SIGMA), 0)), LINE_NOISE_FLOOR
    )
    smoothed_detail: Image = np.asarray(
        cv2.GaussianBlur(detail, (0, 0), LINE_NOISE_DETAIL_SIGMA), dtype=np.float32
    )
    noise = np.maximum(LINE_NOISE_PER_MEDIAN * _local_median_abs(smoothed_detail, face), LINE_NOISE_FLOOR)
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
    piece_peak = np.zeros(count)
    np.maximum.at(piece_peak, labels[candidate], z[candidate])
    clear = _ramp(piece_peak, LINE_CLEAR_PEAK) * _ramp(stats[:, cv2.CC_STAT_AREA], LINE_CLEAR_LENGTH)
    clear[0] = 0.0
    weight = np.where(candidate, clear[labels], 0).astype(np.float32)
    return Lines(response, noise, rms, weight, weight >= DRAWN_WEIGHT)


@functools.cache
def _blob_calibration(index: int) -> float:
    """The scale-normalised response at scale ``SPOT_SIGMAS[index]`` to a Gaussian spot of depth 1 and
    that width (analytically 1/2; measured on the pixel grid, where small scales fall short of it)."""
    sigma = SPOT_SIGMAS[index]
    half = math.ceil(6 * sigma)
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    spot = np.exp(-(xx**2 + yy**2) / (2 * sigma**2)).astype(np.float32)
    return float(_scale_space(spot)[index][1][half, half])


def _scale_space(density: Image) -> list[tuple[Image, Image]]:
    """Per ``SPOT_SIGMAS``: (the density smoothed at sigma, minus sigma² times its Laplacian: dark
    spots peak). Each scale is smoothed from the one before (Gaussians compose), so the wide scales
    cost a fraction of a direct blur."""
    levels: list[tuple[Image, Image]] = []
    smooth, reached = density, 0.0
    for sigma in SPOT_SIGMAS:
        smooth = np.asarray(
            cv2.GaussianBlur(smooth, (0, 0), math.sqrt(sigma**2 - reached**2)), dtype=np.float32
        )
        reached = sigma
        response = -(sigma**2) * cv2.Laplacian(smooth, cv2.CV_32F, ksize=1)
        levels.append((smooth, np.asarray(response, dtype=np.float32)))
    return levels


@dataclass(frozen=True)
class Spots:
    rows: NDArray[np.intp]
    cols: NDArray[np.intp]
    radius: NDArray[np.float64]  # px: sqrt(2) x the scale the blob peaks at
    darkness: NDArray[np.float64]  # optical density above the surround at the core
    weight: NDArray[np.float64]  # 0-1: how clearly it is a spot


def find_spots(density: Image, face: Mask) -> Spots:
    """Scale-space blobs on optical density (see the module docstring). Outside the face the density
    is replaced by its smooth masked average, so hair and background neither make nor hide spots at
    the edge."""
    filled = np.where(face, density, _masked_blur(density, face, SHADING_SIGMA)).astype(np.float32)
    smoothed, depths = [], []
    best = np.full(density.shape, -np.inf, dtype=np.float32)
    for index, (smooth, response) in enumerate(_scale_space(filled)):
        smoothed.append(smooth)
        depths.append(response / np.float32(_blob_calibration(index)))
        np.maximum(best, depths[-1], out=best)
    window = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (SPOT_PEAK_WINDOW, SPOT_PEAK_WINDOW))
    centres = (best >= cv2.dilate(best, window)) & (best > SPOT_CLEAR_DARKNESS[0]) & face
    centres[[0, -1], :] = False  # the curvature below needs a neighbour on every side
    centres[:, [0, -1]] = False
    rows, cols = np.nonzero(centres)
    at = np.stack([depth[rows, cols] for depth in depths])  # (scales, blobs)
    scale = at.argmax(axis=0)
    inside = (scale > 0) & (scale < len(SPOT_SIGMAS) - 1)  # peaks at an end: grain or shading
    rows, cols, scale, at = rows[inside], cols[inside], scale[inside], at[:, inside]
    # The peak scale, refined by a parabola through the neighbouring scales (in log sigma).
    blob = np.arange(len(scale))
    here, below, above = at[scale, blob], at[scale - 1, blob], at[scale + 1, blob]
    bend = below - 2 * here + above
    shift = np.divide(0.5 * (below - above), bend, out=np.zeros_like(bend), where=bend < 0)
    log_sigmas = np.log(SPOT_SIGMAS)
    sigma = np.exp(log_sigmas[scale] + np.clip(shift, -0.5, 0.5) * (log_sigmas[1] - log_sigmas[0]))
    # Roundness: principal curvatures of the density, smoothed at each blob's own scale and read
    # sigma/2 either side of the centre, so they describe the blob as a whole: read 1 px apart they
    # described its core, and an elongated blob's weight came and went between captures of one face.
    patch = np.zeros((len(scale), 3, 3))
    height, width = density.shape
    for k, smooth in enumerate(smoothed):
        which = scale == k
        step = max(1, round(SPOT_SIGMAS[k] / 2))
        for dr in (-1, 0, 1):
            near_rows = np.clip(rows[which] + dr * step, 0, height - 1)
            for dc in (-1, 0, 1):
                patch[which, dr + 1, dc + 1] = smooth[
                    near_rows, np.clip(cols[which] + dc * step, 0, width - 1)
                ]
        patch[which] /= step * step
    dxx = patch[:, 1, 2] - 2 * patch[:, 1, 1] + patch[:, 1, 0]
    dyy = patch[:, 2, 1] - 2 * patch[:, 1, 1] + patch[:, 0, 1]
    dxy = (patch[:, 2, 2] - patch[:, 2, 0] - patch[:, 0, 2] + patch[:, 0, 0]) / 4
    spread = np.sqrt(((dxx - dyy) / 2) ** 2 + dxy**2)
    strong, weak = -(dxx + dyy) / 2 + spread, -(dxx + dyy) / 2 - spread  # of -Hessian: a peak is > 0
    ratio = np.divide(strong, weak, out=np.full_like(strong, np.inf), where=weak > 1e-12)
    darkness = here.astype(np.float64)
    weight = _ramp(darkness, SPOT_CLEAR_DARKNESS) * (1 - _ramp(ratio, SPOT_CLEAR_ROUNDNESS))
    kept = weight > 0
    return Spots(rows[kept], cols[kept], math.sqrt(2) * sigma[kept], darkness[kept], weight[kept])


@dataclass(frozen=True)
class SpotMaps:
    labels: NDArray[np.int32]  # the clear spots' discs (1..n), for drawing and detection tests
    count: Image  # each spot's weight spread evenly over its disc: a zone's sum is its spot count
    area: Image  # each spot's weight x its area (pi r²), spread the same way
    depth: Image  # each spot's weight x its L* depth, spread the same way


def spot_maps(spots: Spots, luminance: Image, shape: tuple[int, int]) -> SpotMaps:
    """Spread every spot over its disc, so each zone receives the part of it that lies inside."""
    labels = np.zeros(shape, dtype=np.int32)
    count, area, depth = (np.zeros(shape, dtype=np.float32) for _ in range(3))
    height, width = shape
    for index, (row, col, radius, darkness, weight) in enumerate(
        zip(spots.rows, spots.cols, spots.radius, spots.darkness, spots.weight, strict=True), start=1
    ):
        reach = max(1, round(float(radius)))
        r0, r1 = max(row - reach, 0), min(row + reach + 1, height)
        c0, c1 = max(col - reach, 0), min(col + reach + 1, width)
        yy, xx = np.ogrid[r0:r1, c0:c1]
        disc = (yy - row) ** 2 + (xx - col) ** 2 <= reach * reach
        share = float(weight) / int(disc.sum())
        # Its L* depth: the surround is e^darkness as bright as the core, so it lies
        # 116·cbrt(Y)·(e^(darkness/3) - 1) L* above it (CIE L* = 116·cbrt(Y) - 16 above Y = 0.009).
        lstar_depth = 116 * float(np.cbrt(luminance[row, col])) * math.expm1(float(darkness) / 3)
        count[r0:r1, c0:c1][disc] += share
        area[r0:r1, c0:c1][disc] += share * math.pi * float(radius) ** 2
        depth[r0:r1, c0:c1][disc] += share * lstar_depth
        if weight >= DRAWN_WEIGHT:
            labels[r0:r1, c0:c1][disc] = index
    return SpotMaps(labels, count, area, depth)


@dataclass(frozen=True)
class Maps:
    """Whole-face maps computed once and shared by every zone (canonical image size)."""

    lab: Image
    shading_free: Image
    fine: Image
    ridges: Image  # line response in excess of twice its local RMS (L*/px): the wrinkle index map
    line_weight: Image  # centreline pixels weighted by how clearly they are a line
    line_band: Image  # the same weights spread 1 px either side: line density
    skeleton: Mask  # the drawn centrelines (weight >= DRAWN_WEIGHT)
    spots: NDArray[np.int32]  # the drawn spots' discs
    spot_count: Image
    spot_area: Image
    spot_depth: Image


def linear_rgb(rgb: NDArray[np.floating[Any]], colour_matrix: NDArray[np.float64] | None = None) -> Image:
    """sRGB (0-1) → linear sRGB, corrected by the chart's 3×3 matrix when there is one."""
    linear = srgb_to_linear(rgb.astype(np.float32, copy=False))
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
    luminance = np.asarray(cv2.transform(linear, _LUMINANCE[None, :]), dtype=np.float32)
    density = -np.log(np.maximum(luminance, 1e-3))
    spots = spot_maps(find_spots(density, inside), luminance, (inside.shape[0], inside.shape[1]))
    band = cv2.dilate(lines.weight, np.ones((3, 3), np.uint8)) * inside

    def placed(part: NDArray[Any]) -> NDArray[Any]:
        out = np.zeros(full_shape + part.shape[2:], dtype=part.dtype)
        out[box] = part
        return out

    return Maps(
        lab=placed(lab),
        shading_free=placed(shading_free),
        fine=placed(fine),
        ridges=placed(np.maximum(lines.response - LINE_EXTEND * lines.rms, 0)),
        line_weight=placed(lines.weight),
        line_band=placed(band.astype(np.float32)),
        skeleton=placed(lines.centreline),
        spots=placed(spots.labels),
        spot_count=placed(spots.count),
        spot_area=placed(spots.area),
        spot_depth=placed(spots.depth),
    )


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
    lightness, a, b = (float(v) for v in np.median(lab, axis=0))
    shading_free = maps.shading_free[box][mask]
    spot_count = float(maps.spot_count[box][mask].sum())
    highlights = np.clip(shading_free, 0, None)
    values = {
        "L_star": lightness,
        "a_star": a,
        "b_star": b,
        "ita_deg": math.degrees(math.atan2(lightness - 50.0, b)),
        "hue_deg": math.degrees(math.atan2(b, a)),
        "evenness_sd": float(np.std(shading_free)),
        "wrinkle_index": float(np.mean(maps.ridges[box][mask])),
        "line_density_pct": 100.0 * float(maps.line_band[box][mask].sum()) / n,
        "line_length_iod": float(maps.line_weight[box][mask].sum()) / CANONICAL_IOD_PX,
        "spot_count": spot_count,
        "spot_area_pct": 100.0 * float(maps.spot_area[box][mask].sum()) / n,
        "spot_contrast": float(maps.spot_depth[box][mask].sum()) / spot_count if spot_count > 1e-6 else 0.0,
        "roughness": float(np.std(maps.fine[box][mask])),
        "radiance_proxy": float(np.mean(lab[:, 0])) + float(np.std(highlights)),
    }
    return {code: _finite(values[code]) for code in METRIC_CODES}
