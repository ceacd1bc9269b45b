"""``mesoclinic analyze``: measure one photo (and compare it with an earlier one) from files.

The JSON printed is a stable contract used by checks:
``{"zones": {"<zone>": {"<metric>": number, ...}, ...}, "quality": {...}, "comparison": {...}}``
(``comparison`` only with ``--before``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from skimage.segmentation import find_boundaries

from mesoclinic.imaging import analysis, intake
from mesoclinic.imaging.landmarks import LandmarkDetector, default_detector


def analyse_file(path: Path, detector: LandmarkDetector) -> analysis.Analysis:
    image, _, icc_converted = intake.load(path.read_bytes())
    result = analysis.analyse(image, detector)
    if icc_converted:
        result.quality["icc_converted_to_srgb"] = True
    return result


def analyse_files(
    photo: Path,
    before: Path | None = None,
    annotate: Path | None = None,
    detector: LandmarkDetector | None = None,
) -> dict[str, Any]:
    """Raises ``MesoClinicError`` (415/422 problems) for a file that is not a one-face JPEG, PNG or
    HEIC (decoded, oriented and converted to sRGB by ``intake.load``, as an upload is)."""
    detector = detector or default_detector()
    after = analyse_file(photo, detector)
    report: dict[str, Any] = {"zones": after.zones, "quality": after.quality}
    if before is not None:
        earlier = analyse_file(before, detector)
        report["comparison"] = analysis.compare(earlier, after)
    if annotate is not None:
        annotated(after).save(annotate, format="PNG")
    return report


ZONE_COLOUR = (255, 255, 0)
LINE_COLOUR = (255, 0, 0)
SPOT_COLOUR = (0, 128, 255)


def annotated(result: analysis.Analysis) -> Image.Image:
    """The aligned photo with zone outlines (yellow), detected lines (red) and spots (blue)."""
    rgb = (np.clip(result.frame.rgb, 0, 1) * 255).astype(np.uint8)
    for mask in result.frame.zone_masks.values():
        rgb[find_boundaries(mask, mode="inner")] = ZONE_COLOUR
    rgb[result.maps.skeleton] = LINE_COLOUR
    rgb[find_boundaries(result.maps.spots > 0, mode="inner")] = SPOT_COLOUR
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    for code, mask in result.frame.zone_masks.items():
        rows, cols = np.nonzero(mask)
        if rows.size:
            draw.text((int(cols.min()) + 2, int(rows.min()) + 2), code, fill=ZONE_COLOUR)
    return image
