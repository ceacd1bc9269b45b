"""``mesoclinic analyze``: measure one photo (and compare it with an earlier one) from files.

The JSON printed is a stable contract used by checks:
``{"zones": {"<zone>": {"<metric>": number, ...}, ...}, "quality": {...}, "comparison": {...}}``
(``comparison`` only with ``--before``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mesoclinic.imaging import analysis, intake, renderings
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
        renderings.findings(after).save(annotate, format="PNG")
    return report
