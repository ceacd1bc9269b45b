"""Colour normalisation: find a ColorChecker 24 in the photo and correct the photo's colours with it.

Detector (classical, written here; OpenCV is used for image operations only, not its ``mcc`` module):

1. On the overview image (the same reduced copy the landmarks are found on, at most 1024 px), the
   regions enclosed by Canny edges of the grey image are swatch candidates when they are nearly
   square and fill their rotated bounding box. Swatches need about ``MIN_SWATCH_PX`` (10) pixels on
   that copy: a ColorChecker Classic beside a face always has them; a Mini may not on a wide shot.
2. Candidates of similar size and orientation are put on a lattice (pitch = median nearest-neighbour
   distance); a 6×4 (or 4×6) window holding at least ``MIN_SWATCHES`` of them is a chart candidate,
   and an affine fit of lattice → image predicts all 24 centres (occluded or low-contrast swatches
   such as black on the black frame are filled in by the grid).
3. Each swatch's colour is the median of a square well inside it. Of the chart's two non-mirrored
   orientations that fit the lattice, the one whose colours a 3×3 matrix maps best onto the reference
   values is kept (swatches far off after the fit, under a finger or a reflection, are left out and
   the matrix refitted). It is a chart only if the neutral row darkens from white to black and the
   corrected swatches land within ``MAX_MEAN_DELTA_E`` (CIE 2000) of the reference: a grid of tiles,
   a window or a chart with other colours is refused here. A mirrored photo's chart is not accepted.

Correction: a 3×3 matrix in linear sRGB (Cheung 2004 least squares, ``colour-science``), fitted from
the observed swatches (clipped ones left out) to the reference ``ColorChecker24 - After November 2014``
values adapted from D50 to D65 (Bradford). A 3×3 matrix undoes exposure and white-balance changes of
a linear camera exactly; it cannot undo clipping, a non-sRGB tone curve or uneven light on the face.
The quality record gives the CIE 2000 ΔE of the swatches after correction, on the fitted swatches and
leave-one-out (each swatch predicted by a matrix fitted without it: closer to the error on skin).

Without a chart the documented fallback is the device's sRGB (D65), unchanged, with the
``colour-uncalibrated`` flag. What that does not correct: exposure, white balance, the camera's
colour rendering and the light's spectrum, so L*, a*, b*, ITA° and hue then compare only between photos
taken with the same camera, settings and lighting. No chart-free normalisation is offered: a grey
or white reference in frame (or the sclera) could fix exposure and a neutral balance, but it does not
tell how the camera renders skin colours, and the sclera is neither neutral nor stable.

``colour-science`` costs about 1.3 s to import, so it is imported only once a grid candidate exists.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

CHART_NAME = "ColorChecker24 - After November 2014"
ROWS, COLUMNS = 4, 6
#: Swatches that must be found as separate regions before a grid is believed (the rest are predicted).
MIN_SWATCHES = 12
#: Swatches, of 24, that must be usable (uniform and unclipped) for a correction.
MIN_USABLE = 16
#: Mean CIE 2000 ΔE of the swatches after the 3×3 fit above which the grid is not taken as the chart:
#: a real chart under one light fits to about 1-3; shuffled or foreign colours fit to 10 and more.
MAX_MEAN_DELTA_E = 6.0
#: Smallest swatch side, in pixels of the searched image (the overview copy, at most 1024 px).
MIN_SWATCH_PX = 10
#: Colour-edge threshold: largest channel gradient (fraction of full scale per pixel, after a
#: Gaussian of sigma 1 px) that separates swatches from the frame and from each other.
EDGE_SLOPE = 0.02
#: A swatch sample (median of a square well inside) with a larger channel SD is not a uniform patch.
MAX_SWATCH_SD = 0.06
CLIP_LOW, CLIP_HIGH = 0.01, 0.98
#: A swatch this far (CIE 1976, numpy) from the reference after the fit, and 3× the median, is left out.
OUTLIER_DELTA_E = 5.0

METHOD = "colour chart: 3x3 matrix in linear sRGB (Cheung 2004 least squares, colour-science), fitted to the "
METHOD += f"{CHART_NAME} reference adapted to D65 (Bradford)"
FALLBACK = "none: device sRGB (D65) assumed, no colour chart found; exposure, white balance and camera "
FALLBACK += "rendering are not corrected (compare only photos from the same camera, settings and light)"


def _decode(x: NDArray[Any]) -> NDArray[Any]:
    decoded: NDArray[Any] = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    return decoded


#: Decoding table for float32 images: 16384 steps, error under 1e-4 (0.01 L*), twice as fast.
_DECODING = _decode(np.linspace(0.0, 1.0, 16385)).astype(np.float32)


def srgb_to_linear(encoded: NDArray[Any]) -> NDArray[Any]:
    """IEC 61966-2-1 decoding (float32 stays float32, through a table; float64 is exact)."""
    x = np.clip(encoded, 0.0, 1.0)
    if encoded.dtype == np.float32:
        table: NDArray[Any] = _DECODING[(x * np.float32(16384) + np.float32(0.5)).astype(np.int32)]
        return table
    return _decode(x).astype(encoded.dtype, copy=False)


def linear_to_srgb(linear: NDArray[Any]) -> NDArray[Any]:
    x = np.clip(linear, 0.0, 1.0)
    encoded: NDArray[Any] = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return encoded.astype(linear.dtype, copy=False)


@dataclass(frozen=True)
class Correction:
    """What the chart (or its absence) says about the photo's colour."""

    chart_found: bool
    #: Linear sRGB 3×3 matrix, applied as ``rgb_linear @ matrix.T``; None for the fallback.
    matrix: FloatArray | None
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return METHOD if self.chart_found else FALLBACK


NO_CHART = Correction(False, None, {"chart_found": False, "method": FALLBACK})


@functools.cache
def reference_linear() -> FloatArray:
    """The 24 reference swatches in linear sRGB (D65), chart order (row by row, dark skin first).
    Out-of-gamut values (the cyan swatch) are kept: they are what a perfect linear camera would see."""
    import colour

    chart = colour.CCS_COLOURCHECKERS[CHART_NAME]
    xyy = np.array(list(chart.data.values()), dtype=np.float64)
    xyz = colour.xyY_to_XYZ(xyy)
    rgb = colour.XYZ_to_RGB(
        xyz, "sRGB", illuminant=chart.illuminant, chromatic_adaptation_transform="Bradford"
    )
    return np.asarray(rgb, dtype=np.float64)


@functools.cache
def reference_lab() -> FloatArray:
    return _linear_to_lab(reference_linear())


@functools.cache
def _srgb_to_xyz() -> FloatArray:
    """colour-science's linear sRGB → XYZ (D65), as a matrix: it is linear, and looking the
    colourspace up and building its adaptation on every call costs more than the conversion."""
    import colour

    return np.asarray(colour.RGB_to_XYZ(np.eye(3), "sRGB"), dtype=np.float64).T


def _linear_to_lab(linear: FloatArray) -> FloatArray:
    import colour

    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    return np.asarray(colour.XYZ_to_Lab(np.asarray(linear) @ _srgb_to_xyz().T, d65), dtype=np.float64)


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Swatch:
    x: float
    y: float
    side: float
    angle: float  # degrees, modulo 90


@dataclass(frozen=True)
class Grid:
    """A 6×4 lattice of swatch positions found in the image (not yet matched to the chart's colours)."""

    #: Affine map from lattice (column, row) to image (x, y): ``[c, r, 1] @ affine``.
    affine: FloatArray
    columns: int
    rows: int
    side: float
    seen: int

    def centre(self, column: float, row: float) -> FloatArray:
        point: FloatArray = np.array([column, row, 1.0]) @ self.affine
        return point


def _swatch_candidates(rgb: NDArray[np.uint8]) -> list[_Swatch]:
    # Canny on the grey image (about 5 ms on a 1024 px overview): thin edges cost the swatches only
    # about a pixel per side, so swatches of 6-8 px still leave a region. Every swatch differs from
    # the black frame in lightness; a swatch missed (black on the frame) is filled in by the grid.
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (0, 0), 0.8)
    high = EDGE_SLOPE * 255 * 8  # Sobel 3×3 (|gx| + |gy|) is 8 × the slope along an axis
    edges = (cv2.Canny(grey, high / 2, high) > 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - edges, connectivity=4)
    height, width = edges.shape
    x, y, w, h, area = (stats[:, i].astype(np.int64) for i in range(5))
    plausible = (
        (area >= (MIN_SWATCH_PX - 2) ** 2)
        & (area <= height * width / 40)
        & (area >= 0.45 * w * h)
        & (np.maximum(w, h) <= 2.2 * np.minimum(w, h))
    )
    plausible[0] = False
    swatches = []
    for index in np.nonzero(plausible)[0]:
        x0, y0 = int(x[index]), int(y[index])
        rows, cols = np.nonzero(labels[y0 : y0 + h[index], x0 : x0 + w[index]] == index)
        points = np.column_stack([cols + x0, rows + y0]).astype(np.float32)
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(points)
        rw, rh = rw + 1.0, rh + 1.0  # pixel extents, not centre-to-centre
        if max(rw, rh) > 1.4 * min(rw, rh) or area[index] < 0.75 * rw * rh:
            continue
        # The region lost about a pixel per side to the edges.
        swatches.append(_Swatch(float(cx), float(cy), math.sqrt(rw * rh) + 1.0, float(angle) % 90.0))
    return swatches


def _angle_gap(a: float, b: float) -> float:
    gap = abs(a - b) % 90.0
    return min(gap, 90.0 - gap)


def _grid_from(group: list[_Swatch]) -> list[Grid]:
    """Fit a lattice to swatches of one size and orientation: the 6×4 windows where enough line up."""
    quarter = np.deg2rad(np.array([4 * s.angle for s in group]))
    theta = math.atan2(float(np.sin(quarter).mean()), float(np.cos(quarter).mean())) / 4
    centres = np.array([(s.x, s.y) for s in group])
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    pitch = float(np.median(distances.min(axis=1)))
    side = float(np.median([s.side for s in group]))
    if not 1.02 * side <= pitch <= 2.0 * side:
        return []
    cos, sin = math.cos(theta), math.sin(theta)
    relative = centres - centres[0]
    u = (relative[:, 0] * cos + relative[:, 1] * sin) / pitch
    v = (-relative[:, 0] * sin + relative[:, 1] * cos) / pitch
    iu, iv = np.round(u).astype(int), np.round(v).astype(int)
    on_lattice = (np.abs(u - iu) < 0.25) & (np.abs(v - iv) < 0.25)
    cells: dict[tuple[int, int], int] = {}
    for i in np.nonzero(on_lattice)[0]:
        cells.setdefault((int(iu[i]), int(iv[i])), int(i))
    if len(cells) < MIN_SWATCHES:
        return []
    keys = np.array(list(cells))
    windows: list[tuple[int, int, int, int, int]] = []  # (count, u0, v0, columns, rows)
    for columns, rows in ((COLUMNS, ROWS), (ROWS, COLUMNS)):
        # Swatches in every columns × rows window of the lattice, from a summed-area table: the window
        # whose corner is (u0, v0) counts the cells u0 … u0 + columns - 1, v0 … v0 + rows - 1.
        u_first, v_first = int(keys[:, 0].min()) - columns + 1, int(keys[:, 1].min()) - rows + 1
        u_count = int(keys[:, 0].max()) + 1 - u_first
        v_count = int(keys[:, 1].max()) + 1 - v_first
        occupied = np.zeros((u_count + columns, v_count + rows), dtype=np.int64)
        occupied[keys[:, 0] - u_first + 1, keys[:, 1] - v_first + 1] = 1
        table = occupied.cumsum(axis=0).cumsum(axis=1)
        counts = (
            table[columns:, rows:]
            - table[:-columns, rows:]
            - table[columns:, :-rows]
            + table[:-columns, :-rows]
        )
        windows.extend(
            (int(counts[i, j]), u_first + i, v_first + j, columns, rows)
            for i, j in zip(*np.nonzero(counts >= MIN_SWATCHES), strict=True)
        )
    if not windows:
        return []
    most = max(w[0] for w in windows)
    if most < MIN_SWATCHES:
        return []
    grids = []
    # With swatches missing, several windows can hold the same swatches: the colours decide.
    for _, u0, v0, columns, rows in (w for w in windows if w[0] == most):
        members = [
            (cu - u0, cv - v0, index)
            for (cu, cv), index in cells.items()
            if 0 <= cu - u0 < columns and 0 <= cv - v0 < rows
        ]
        lattice = np.array([(c, r, 1.0) for c, r, _ in members])
        image_points = centres[[i for _, _, i in members]]
        affine, *_ = np.linalg.lstsq(lattice, image_points, rcond=None)
        residual = float(np.sqrt(np.mean(np.sum((lattice @ affine - image_points) ** 2, axis=1))))
        if residual <= 0.15 * pitch:
            grids.append(Grid(affine, columns, rows, side, len(members)))
    return grids


def find_grids(rgb: NDArray[np.uint8]) -> list[Grid]:
    """Every 6×4 swatch lattice in the image, most complete first (usually none or one)."""
    swatches = _swatch_candidates(rgb)
    swatches.sort(key=lambda s: -s.side)
    grids: list[Grid] = []
    used: set[int] = set()
    for i, seed in enumerate(swatches):
        if i in used:
            continue
        members = [
            j
            for j, s in enumerate(swatches)
            if j not in used
            and abs(s.side / seed.side - 1) < 0.3
            and _angle_gap(s.angle, seed.angle) < 12.0
            and math.dist((s.x, s.y), (seed.x, seed.y)) < 12 * seed.side
        ]
        if len(members) < MIN_SWATCHES:
            continue
        members.remove(i)
        members.insert(0, i)
        found = _grid_from([swatches[j] for j in members])
        if found:
            grids.extend(found)
            used.update(members)
    grids.sort(key=lambda g: -g.seen)
    return grids


# --------------------------------------------------------------------------- colours


def _orientations(grid: Grid) -> list[FloatArray]:
    """Image centres of the chart's 24 swatches (chart order) for each non-mirrored way the chart can
    lie on the lattice (two: the lattice fixes the long side, the colours tell which end is which)."""
    maps = []
    for flip_columns in (False, True):
        for flip_rows in (False, True):
            centres = []
            for row in range(ROWS):
                for column in range(COLUMNS):
                    c, r = (column, row) if grid.columns == COLUMNS else (row, column)
                    c = grid.columns - 1 - c if flip_columns else c
                    r = grid.rows - 1 - r if flip_rows else r
                    centres.append(grid.centre(c, r))
            points = np.array(centres)
            # Handedness: chart column and row axes against the image's x and y (y down in both).
            column_axis = points[1] - points[0]
            row_axis = points[COLUMNS] - points[0]
            if column_axis[0] * row_axis[1] - column_axis[1] * row_axis[0] > 0:
                maps.append(points)
    return maps


def _sample(rgb: NDArray[np.uint8], centres: FloatArray, side: float) -> tuple[FloatArray, FloatArray]:
    """Median sRGB (0-1) and channel SD of a square of half-side ``0.25 × side`` around each centre
    (NaN and infinite SD for a swatch whose square leaves the image)."""
    half = max(1, int(0.25 * side))
    height, width = rgb.shape[:2]
    medians = np.full((len(centres), 3), np.nan)
    spreads = np.full((len(centres), 3), np.inf)
    corners = np.round(centres).astype(int) - half
    inside = np.nonzero(
        (corners[:, 0] >= 0)
        & (corners[:, 1] >= 0)
        & (corners[:, 0] + 2 * half + 1 <= width)
        & (corners[:, 1] + 2 * half + 1 <= height)
    )[0]
    if len(inside):
        patches = (
            np.stack(
                [rgb[y : y + 2 * half + 1, x : x + 2 * half + 1].reshape(-1, 3) for x, y in corners[inside]]
            ).astype(np.float64)
            / 255.0
        )
        medians[inside] = np.median(patches, axis=1)
        spreads[inside] = patches.std(axis=1)
    return medians, spreads


def _fit(observed: FloatArray, reference: FloatArray) -> FloatArray:
    """Least-squares 3×3 matrix with ``observed @ M.T ≈ reference`` (Cheung 2004 with 3 terms)."""
    solution, *_ = np.linalg.lstsq(observed, reference, rcond=None)
    matrix: FloatArray = solution.T
    return matrix


def _delta_e(corrected_linear: FloatArray, indices: NDArray[np.intp]) -> FloatArray:
    from colour.difference import delta_E_CIE2000

    delta = delta_E_CIE2000(_linear_to_lab(np.clip(corrected_linear, 0.0, None)), reference_lab()[indices])
    return np.asarray(delta, dtype=np.float64)


def _lab(linear: FloatArray) -> FloatArray:
    """CIELAB (D65) of linear sRGB rows, in numpy: used to choose and clean the fit (many calls);
    the reported ΔE2000 comes from colour-science."""
    xyz = np.clip(linear, 0.0, None) @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.column_stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])])


_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def _robust_fit(
    observed: FloatArray, reference: FloatArray, usable: NDArray[np.intp]
) -> tuple[FloatArray, NDArray[np.intp], FloatArray]:
    """Fit, then drop swatches far off the others (covered by a finger, a reflection) and refit:
    (matrix, swatches kept, their ΔE76 after the fit)."""
    target = _lab(reference)
    kept = usable
    for _ in range(3):
        matrix = _fit(observed[kept], reference[kept])
        delta = np.linalg.norm(_lab(observed[kept] @ matrix.T) - target[kept], axis=1)
        outliers = delta > max(OUTLIER_DELTA_E, 3 * float(np.median(delta)))
        if not outliers.any() or len(kept) - int(outliers.sum()) < MIN_USABLE:
            break
        kept = kept[~outliers]
    return matrix, kept, delta


def correction_from_chart(rgb: NDArray[np.uint8]) -> Correction:
    """Find the chart in an RGB (uint8) image and the correction it gives; ``NO_CHART`` otherwise
    (its record then says why a grid that was found was not taken as the chart)."""
    grids = find_grids(rgb)
    if not grids:
        return NO_CHART
    reference = reference_linear()  # imports colour-science: only once a grid is there
    best: tuple[float, Grid, FloatArray, FloatArray, NDArray[np.intp]] | None = None
    rejected = "too few uniform, unclipped swatches"
    for grid in grids:
        for centres in _orientations(grid):
            encoded, spread = _sample(rgb, centres, grid.side)
            usable = np.nonzero(
                np.all(np.isfinite(encoded), axis=1)
                & np.all(spread <= MAX_SWATCH_SD, axis=1)
                & np.all((encoded > CLIP_LOW) & (encoded < CLIP_HIGH), axis=1)
            )[0]
            if len(usable) < MIN_USABLE:
                continue
            observed = srgb_to_linear(encoded)
            if not np.all(np.diff(observed[18:24].mean(axis=1)) < 0):
                rejected = "the neutral row does not darken from white to black"
                continue
            _, kept, delta = _robust_fit(observed, reference, usable)
            score = float(delta.mean())
            if best is None or score < best[0]:
                best = (score, grid, centres, observed, kept)
    if best is None:
        return Correction(False, None, {**NO_CHART.record, "grid_rejected": rejected})
    import colour

    _, grid, centres, observed, kept = best
    matrix = np.asarray(
        colour.characterisation.matrix_colour_correction(
            observed[kept], reference[kept], method="Cheung 2004", terms=3
        ),
        dtype=np.float64,
    )
    fitted = _delta_e(observed[kept] @ matrix.T, kept)
    if float(fitted.mean()) > MAX_MEAN_DELTA_E:
        rejected = f"the colours do not fit the chart (mean dE2000 {fitted.mean():.1f} after a 3x3 fit)"
        return Correction(False, None, {**NO_CHART.record, "grid_rejected": rejected})
    held_out = []
    for k in range(len(kept)):
        rest = np.delete(kept, k)
        held_out.append(observed[kept[k]] @ _fit(observed[rest], reference[rest]).T)
    # Uncorrected and leave-one-out in one conversion (colour-science's per-call overhead dominates).
    before, loo_delta = np.split(_delta_e(np.vstack([observed[kept], held_out]), np.tile(kept, 2)), 2)
    record: dict[str, Any] = {
        "chart_found": True,
        "method": METHOD,
        "swatches_found": grid.seen,
        "swatches_used": len(kept),
        "swatch_px": round(grid.side, 1),
        "chart_centre_px": [round(float(v), 1) for v in centres.mean(axis=0)],
        "delta_e2000_before_mean": round(float(before.mean()), 2),
        "delta_e2000_mean": round(float(fitted.mean()), 2),
        "delta_e2000_max": round(float(fitted.max()), 2),
        "delta_e2000_leave_one_out_mean": round(float(loo_delta.mean()), 2),
        "matrix": [[round(float(v), 4) for v in row] for row in matrix],
    }
    return Correction(True, matrix, record)
