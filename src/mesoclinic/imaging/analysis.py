"""The measuring pipeline: landmarks → alignment → zones → metrics, and before/after comparison.

Pure computation on images (no database, no files), shared by the API and ``mesoclinic analyze``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mesoclinic.errors import InvalidInput
from mesoclinic.imaging import alignment as align
from mesoclinic.imaging import metrics, quality, rules, zones
from mesoclinic.imaging.landmarks import DETECTION_MAX_SIDE, LandmarkDetector, one_face
from mesoclinic.imaging.reference import metric_specs, reference

#: Stored with every analysis: change it whenever a method or threshold changes the numbers.
METHOD_VERSION = "mesoclinic-imaging-0.1"


@dataclass(frozen=True)
class Frame:
    """One photo in the canonical frame."""

    alignment: align.Alignment
    rgb: NDArray[np.float64]
    face: zones.Mask
    zone_masks: dict[str, zones.Mask]


def frame(image: Image.Image, detector: LandmarkDetector) -> Frame:
    """Find the one face (422 ``no-face``/``several-faces`` otherwise) and resample it canonically."""
    # Detect on a box-reduced copy: a 12 MP array is never materialised just to find the face.
    step = max(1, math.ceil(max(image.size) / DETECTION_MAX_SIDE))
    small = image.reduce(step) if step > 1 else image
    points = one_face(detector, np.asarray(small.convert("RGB"), dtype=np.uint8)) * step
    try:
        alignment = align.fit(points)
    except ValueError as error:
        raise InvalidInput(
            "No usable face was found in the photo.", code=rules.NO_FACE, field="file"
        ) from error
    canonical = align.canonical_image(image, alignment)
    return Frame(
        alignment,
        canonical,
        zones.face_mask(alignment.landmarks),
        zones.zone_masks(alignment.landmarks),
    )


def capture_quality(face_frame: Frame, view: rules.View | None) -> dict[str, Any]:
    return quality.report(quality.measure(face_frame.rgb, face_frame.face, face_frame.alignment, view))


@dataclass(frozen=True)
class Analysis:
    zones: dict[str, dict[str, float]]
    quality: dict[str, Any]
    alignment: dict[str, Any]
    frame: Frame
    maps: metrics.Maps


def analyse(image: Image.Image, detector: LandmarkDetector, view: rules.View | None = None) -> Analysis:
    face_frame = frame(image, detector)
    maps = metrics.face_maps(face_frame.rgb, face_frame.face)
    zone_values = {code: metrics.zone_metrics(maps, mask) for code, mask in face_frame.zone_masks.items()}
    alignment = face_frame.alignment.as_dict()
    alignment["rigid_canonical"] = [
        [round(float(v), 3) for v in point] for point in face_frame.alignment.landmarks[list(align.RIGID)]
    ]
    alignment["view"] = view
    return Analysis(
        {code: values for code, values in zone_values.items() if values},
        capture_quality(face_frame, view),
        alignment,
        face_frame,
        maps,
    )


def _pair_residual(before: dict[str, Any], after: dict[str, Any]) -> float:
    return align.pair_residual(
        np.asarray(before["rigid_canonical"], dtype=np.float64),
        np.asarray(after["rigid_canonical"], dtype=np.float64),
    )


def compare(
    before_zones: dict[str, dict[str, float]],
    before_alignment: dict[str, Any],
    after_zones: dict[str, dict[str, float]],
    after_alignment: dict[str, Any],
) -> dict[str, Any]:
    """Per-zone deltas with the smallest real change, and whether the pair is comparable at all."""
    residual = _pair_residual(before_alignment, after_alignment)
    flags = rules.pair_flags(
        residual_iod=residual,
        yaw_before=float(before_alignment["yaw"]),
        yaw_after=float(after_alignment["yaw"]),
        view_before=before_alignment.get("view"),
        view_after=after_alignment.get("view"),
        t=reference().quality,
    )
    changes = rules.compare_zones(before_zones, after_zones, metric_specs())
    return {
        "reliable": not flags,
        "flags": flags,
        "pair_residual_iod": round(residual, 4),
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
