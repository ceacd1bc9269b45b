"""The measuring pipeline: landmarks → alignment → zones → metrics, and before/after comparison.

Pure computation on images (no database, no files), shared by the API and ``mesoclinic analyze``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mesoclinic.errors import InvalidInput
from mesoclinic.imaging import alignment as align
from mesoclinic.imaging import colour, metrics, quality, rules, zones
from mesoclinic.imaging.landmarks import DETECTION_MAX_SIDE, LandmarkDetector, one_face
from mesoclinic.imaging.reference import metric_specs, reference

#: Stored with every analysis: change it whenever a method or threshold changes the numbers.
METHOD_VERSION = "mesoclinic-imaging-0.4"


@dataclass(frozen=True)
class Frame:
    """One photo in the canonical frame."""

    alignment: align.Alignment
    #: sRGB in [0, 1], float32 (as resampled; the metrics compute in float32).
    rgb: NDArray[np.floating[Any]]
    face: zones.Mask
    zone_masks: dict[str, zones.Mask]


@dataclass(frozen=True)
class _Framed:
    frame: Frame
    #: The reduced copy the landmarks (and the colour chart) are looked for on.
    overview: NDArray[np.uint8]


class _Laps:
    """Seconds per step of one analysis, added to ``into`` under each step's name (nothing without it)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self._into = into
        self._last = time.perf_counter()

    def __call__(self, step: str) -> None:
        if self._into is not None:
            now = time.perf_counter()
            self._into[step] = self._into.get(step, 0.0) + now - self._last
            self._last = now


def _framed(image: Image.Image, detector: LandmarkDetector, laps: _Laps | None = None) -> _Framed:
    lap = laps if laps is not None else _Laps(None)
    # Detect on a reduced copy: a 12 MP array is never materialised just to find the face, and a JPEG
    # not yet decoded is decoded straight at 1/2-1/8 scale (see alignment.decoded_at), hence a power
    # of two. A photo whose copy is at most halved (about 3 MP and under) is decoded in full once
    # instead: its face is then almost always under twice the canonical scale, so the canonical frame
    # needs the full decode anyway, and the overview is box-reduced from it.
    step = 2 ** max(0, math.ceil(math.log2(max(image.size) / DETECTION_MAX_SIDE)))
    copies = align.Copies(image)
    if step <= 2:
        copies.decode_in_full()
    small, scale = copies.at(step)
    overview = np.asarray(small if small.mode == "RGB" else small.convert("RGB"), dtype=np.uint8)
    lap("overview")
    points = one_face(detector, overview) * scale
    try:
        alignment = align.fit(points)
    except ValueError as error:
        raise InvalidInput(
            "No usable face was found in the photo.", code=rules.NO_FACE, field="file"
        ) from error
    lap("landmarks")
    canonical = align.canonical_image(image, alignment, copies)
    lap("canonical_frame")
    face_frame = Frame(
        alignment,
        canonical,
        zones.face_mask(alignment.landmarks),
        zones.zone_masks(alignment.landmarks),
    )
    lap("zones")
    return _Framed(face_frame, overview)


def frame(image: Image.Image, detector: LandmarkDetector) -> Frame:
    """Find the one face (422 ``no-face``/``several-faces`` otherwise) and resample it canonically."""
    return _framed(image, detector).frame


def intake_quality(image: Image.Image, detector: LandmarkDetector, view: rules.View | None) -> dict[str, Any]:
    """Capture quality at upload (422 ``no-face``/``several-faces`` otherwise), with the colour chart
    looked for as the analysis will look for it, so a calibrated capture is not told otherwise."""
    framed = _framed(image, detector)
    return capture_quality(framed.frame, view, colour.correction_from_chart(framed.overview))


def capture_quality(
    face_frame: Frame, view: rules.View | None, correction: colour.Correction | None = None
) -> dict[str, Any]:
    """Capture quality; without ``correction`` the photo is reported as colour-uncalibrated."""
    chosen = correction or colour.NO_CHART
    measures = quality.measure(
        face_frame.rgb,
        face_frame.face,
        face_frame.zone_masks,
        face_frame.alignment,
        view,
        colour_calibrated=chosen.chart_found,
    )
    return quality.report(measures, chosen)


@dataclass(frozen=True)
class Analysis:
    zones: dict[str, dict[str, float]]
    quality: dict[str, Any]
    alignment: dict[str, Any]
    frame: Frame
    maps: metrics.Maps


def analyse(
    image: Image.Image,
    detector: LandmarkDetector,
    view: rules.View | None = None,
    *,
    colour_chart: bool = True,
    timings: dict[str, float] | None = None,
) -> Analysis:
    """Landmarks → alignment → colour chart → zones → metrics. ``Analysis.frame.rgb`` is the aligned
    photo as taken; the metrics are computed on its chart-corrected colours when a chart is found
    (``colour_chart=False`` skips the search: the fallback, for the validation bench). ``timings``
    receives the seconds spent per step (for the speed bench)."""
    lap = _Laps(timings)
    framed = _framed(image, detector, lap)
    face_frame = framed.frame
    correction = colour.correction_from_chart(framed.overview) if colour_chart else colour.NO_CHART
    lap("colour_chart")
    maps = metrics.face_maps(face_frame.rgb, face_frame.face, correction.matrix)
    zone_values = {code: metrics.zone_metrics(maps, mask) for code, mask in face_frame.zone_masks.items()}
    lap("metrics")
    alignment = face_frame.alignment.as_dict()
    alignment["rigid_canonical"] = [
        [round(float(v), 3) for v in point] for point in face_frame.alignment.landmarks[list(align.RIGID)]
    ]
    alignment["view"] = view
    quality = capture_quality(face_frame, view, correction)
    lap("quality")
    return Analysis(
        {code: values for code, values in zone_values.items() if values},
        quality,
        alignment,
        face_frame,
        maps,
    )


class Measured(Protocol):
    """An analysis as compared: a fresh ``Analysis`` or a stored ``PhotoAnalysis`` row."""

    @property
    def zones(self) -> dict[str, Any]: ...
    @property
    def alignment(self) -> dict[str, Any]: ...
    @property
    def quality(self) -> dict[str, Any]: ...


def _pair_residual(before: dict[str, Any], after: dict[str, Any]) -> float:
    return align.pair_residual(
        np.asarray(before["rigid_canonical"], dtype=np.float64),
        np.asarray(after["rigid_canonical"], dtype=np.float64),
    )


def _chart_calibrated(quality: dict[str, Any]) -> bool:
    return bool(quality.get("colour_chart", {}).get("chart_found"))


def compare(before: Measured, after: Measured) -> dict[str, Any]:
    """Per-zone deltas with the smallest real change, and whether the pair is comparable at all.
    Unless both photos' colours were corrected on a chart, the wider smallest real changes of
    uncalibrated captures apply."""
    colour_calibrated = _chart_calibrated(before.quality) and _chart_calibrated(after.quality)
    residual = _pair_residual(before.alignment, after.alignment)
    flags = rules.pair_flags(
        residual_iod=residual,
        yaw_before=float(before.alignment["yaw"]),
        yaw_after=float(after.alignment["yaw"]),
        view_before=before.alignment.get("view"),
        view_after=after.alignment.get("view"),
        t=reference().quality,
    )
    # Analyses stored before the skin-obscured check have no "obscured_zones": none were named.
    obscured = sorted({*before.quality.get("obscured_zones", []), *after.quality.get("obscured_zones", [])})
    changes = rules.compare_zones(
        before.zones, after.zones, metric_specs(), calibrated=colour_calibrated, obscured=obscured
    )
    return {
        "reliable": not flags,
        "flags": flags,
        "colour_calibrated": colour_calibrated,
        "pair_residual_iod": round(residual, 4),
        "obscured_zones": obscured,
        "zones": {
            zone: {
                metric: {
                    "before": c.before,
                    "after": c.after,
                    "delta": round(c.delta, 4),
                    "smallest_real_change": round(c.smallest_real_change, 4),
                    "verdict": c.verdict,
                }
                for metric, c in values.items()
            }
            for zone, values in changes.items()
        },
    }
