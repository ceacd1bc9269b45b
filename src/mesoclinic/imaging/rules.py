"""Imaging rules: pure decisions over measured numbers and the reference data in ``data/imaging.yaml``.

What a clinician or physicist reviews here: when an upload is refused for its content (type,
dimensions, decompression bombs, faces), which capture-quality flags a photo gets, when a
before/after pair is too misaligned to compare, and when a per-zone change is larger than the
measurement's noise (the smallest real change). No I/O: the data is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Stable rule codes (problem documents and quality flags).
PHOTO_CONSENT_MISSING = "photo-consent-missing"
PHOTO_TOO_LARGE = "photo-too-large"
UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
UNREADABLE_IMAGE = "unreadable-image"
DECOMPRESSION_BOMB = "decompression-bomb"
IMAGE_DIMENSIONS = "image-dimensions"
NO_FACE = "no-face"
SEVERAL_FACES = "several-faces"
VISIT_IN_FUTURE = "visit-in-future"
NOT_ANALYSED = "photo-not-analysed"
OTHER_PATIENT = "photo-of-another-patient"
NO_EARLIER_PHOTO = "no-earlier-photo"

# Quality flags.
EXPOSURE_CLIPPED = "exposure-clipped"
SKIN_OBSCURED = "skin-obscured"
POSE_OFF = "pose-off"
LOW_RESOLUTION = "low-resolution"
BLURRED = "blurred"
COLOUR_UNCALIBRATED = "colour-uncalibrated"
ALIGNMENT_UNRELIABLE = "alignment-unreliable"
POSE_DIFFERS = "pose-differs"
VIEW_DIFFERS = "view-differs"

#: Decompression-bomb guard: at most 64 megapixels (a 48 MP phone sensor fits; a 10 kB PNG that
#: inflates to gigabytes does not). Checked from the header, before any pixel is decoded.
MAX_PIXELS = 64_000_000
#: Absurd dimensions: a clinical face photo is neither a thumbnail nor a panorama.
MIN_SIDE = 256
MAX_SIDE = 12_000
MAX_ASPECT = 3.0

View = Literal["front", "left45", "right45"]
#: How a before/after pair is composed into one image (``renderings.comparison``).
Layout = Literal["side-by-side", "overlay", "checkerboard"]
Better = Literal["lower", "higher", "none"]
#: "obscured": the zone's skin is covered (hair, a deep shadow) in one of the two photos, so its
#: changes are shown but not judged.
Verdict = Literal["improved", "worsened", "no-real-change", "descriptive", "obscured"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZoneSpec(_Frozen):
    code: str = Field(pattern=r"^[a-z_]+(_[LR])?$")
    assessment_zone: str
    side: Literal["L", "R", "M"]
    definition: str
    source: str = Field(min_length=1)


class SmallestRealChange(_Frozen):
    kind: Literal["absolute", "relative"]
    value: float = Field(gt=0)
    #: For relative changes: never less than this (a relative change of a count near zero is noise).
    floor: float = Field(default=0.0, ge=0)


class MetricSpec(_Frozen):
    code: str = Field(pattern=r"^[A-Za-z_]+$")
    unit: str
    method: str
    better: Better
    smallest_real_change: SmallestRealChange
    #: Without a colour chart in both photos the device's colours are trusted and the measurement is
    #: noisier (its own MDC95 from the bench); ``None`` where calibration changes nothing measurable.
    smallest_real_change_uncalibrated: SmallestRealChange | None = None
    source: str = Field(min_length=1)


class Threshold(_Frozen):
    value: float
    source: str = Field(min_length=1)


class QualityThresholds(_Frozen):
    max_clipped_pct: Threshold
    max_obscured_pct: Threshold
    max_alignment_residual_iod: Threshold
    max_front_yaw: Threshold
    max_pair_yaw_difference: Threshold
    min_face_iod_px: Threshold
    min_sharpness: Threshold


class ImagingReference(_Frozen):
    version: str
    zones: tuple[ZoneSpec, ...]
    metrics: tuple[MetricSpec, ...]
    quality: QualityThresholds


# --------------------------------------------------------------------------- intake


@dataclass(frozen=True)
class Problem:
    code: str
    reason: str


#: How many leading bytes ``sniff_media_type`` needs (a HEIF ``ftyp`` box with its brand list).
SNIFF_BYTES = 64

#: HEIF brands whose images are HEVC-coded: what phones call HEIC (ISO/IEC 23008-12 Annex B).
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
#: Codec-neutral HEIF brands (image item, image sequence): HEIF only with no brand of another codec.
HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
#: AVIF is HEIF with AV1 inside: not accepted (no AV1 decoder is installed).
AVIF_BRANDS = frozenset({b"avif", b"avis"})


def _ftyp_brands(head: bytes) -> list[bytes]:
    """The major and compatible brands of a leading ISO-BMFF ``ftyp`` box (empty if there is none)."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return []
    size = int.from_bytes(head[:4], "big")
    if size < 16 or size % 4:
        return []
    box = head[8 : min(size, len(head))]
    # major brand, minor version (skipped), then compatible brands, four bytes each
    return [box[:4]] + [box[i : i + 4] for i in range(8, len(box) - 3, 4)]


def sniff_media_type(head: bytes) -> str | None:
    """The real type from the magic bytes (pass the first ``SNIFF_BYTES``); the declared content
    type and file name are ignored. HEIC/HEIF is recognised from its ``ftyp`` box brands."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    brands = _ftyp_brands(head)
    if not brands or AVIF_BRANDS.intersection(brands):
        return None
    if HEIC_BRANDS.intersection(brands):
        return "image/heic"
    if brands[0] in HEIF_BRANDS:
        return "image/heif"
    return None


def dimension_problem(width: int, height: int) -> Problem | None:
    """Refuse decompression bombs and absurd dimensions from the header, before decoding."""
    if width * height > MAX_PIXELS:
        return Problem(
            DECOMPRESSION_BOMB,
            f"The image declares {width}×{height} pixels, more than the {MAX_PIXELS // 1_000_000} "
            "megapixels accepted.",
        )
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        return Problem(
            IMAGE_DIMENSIONS,
            f"The image is {width}×{height} pixels; each side must be {MIN_SIDE} to {MAX_SIDE} pixels.",
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        return Problem(IMAGE_DIMENSIONS, f"The image is {width}×{height} pixels: not a face photo's shape.")
    return None


def face_count_problem(faces: int) -> Problem | None:
    if faces == 0:
        return Problem(NO_FACE, "No face was found in the photo.")
    if faces > 1:
        return Problem(
            SEVERAL_FACES, "More than one face was found; a clinical photo shows the patient only."
        )
    return None


def visit_problem(visit_on: date, today: date) -> Problem | None:
    if visit_on > today:
        return Problem(VISIT_IN_FUTURE, "The visit date is in the future.")
    return None


# --------------------------------------------------------------------------- quality


@dataclass(frozen=True)
class CaptureMeasures:
    """What quality.measure() found on one photo."""

    view: View | None
    face_iod_px: float
    sharpness: float
    clipped_pct: float  # % of the skin burnt out
    black_pct_by_zone: Mapping[str, float]  # % of each zone clipped to black
    yaw: float
    alignment_residual_iod: float
    colour_calibrated: bool


def obscured_zones(m: CaptureMeasures, t: QualityThresholds) -> list[str]:
    """Zones with too much skin clipped to black (hair or a shadow over them), most obscured first."""
    over = [(pct, code) for code, pct in m.black_pct_by_zone.items() if pct > t.max_obscured_pct.value]
    return [code for _, code in sorted(over, reverse=True)]


def quality_flags(m: CaptureMeasures, t: QualityThresholds) -> list[str]:
    """Flags that make a photo's measurements less trustworthy (they never refuse an upload)."""
    flags: list[str] = []
    if m.clipped_pct > t.max_clipped_pct.value:
        flags.append(EXPOSURE_CLIPPED)
    if obscured_zones(m, t):
        flags.append(SKIN_OBSCURED)
    # The template is a frontal face: yaw and template residual say nothing about a 45° view
    # (its pair with the previous visit's same view is checked by pair_flags instead).
    frontal = m.view in (None, "front")
    if frontal and abs(m.yaw) > t.max_front_yaw.value:
        flags.append(POSE_OFF)
    if frontal and m.alignment_residual_iod > t.max_alignment_residual_iod.value:
        flags.append(ALIGNMENT_UNRELIABLE)
    if m.face_iod_px < t.min_face_iod_px.value:
        flags.append(LOW_RESOLUTION)
    if m.sharpness < t.min_sharpness.value:
        flags.append(BLURRED)
    if not m.colour_calibrated:
        flags.append(COLOUR_UNCALIBRATED)
    return flags


def pair_flags(
    *,
    residual_iod: float,
    yaw_before: float,
    yaw_after: float,
    view_before: str | None,
    view_after: str | None,
    t: QualityThresholds,
) -> list[str]:
    """Why a before/after pair cannot be compared reliably (empty when it can)."""
    flags: list[str] = []
    if view_before is not None and view_after is not None and view_before != view_after:
        flags.append(VIEW_DIFFERS)
    if residual_iod > t.max_alignment_residual_iod.value:
        flags.append(ALIGNMENT_UNRELIABLE)
    if abs(yaw_before - yaw_after) > t.max_pair_yaw_difference.value:
        flags.append(POSE_DIFFERS)
    return flags


@dataclass(frozen=True)
class Advice:
    """What a quality flag means for the person holding the camera."""

    flag: str
    #: True when the photo should be taken again before it is used for measurement.
    retake: bool
    advice: str


#: Plain-language advice per capture flag, shown by the capture page right after the upload.
CAPTURE_ADVICE: Mapping[str, tuple[bool, str]] = {
    BLURRED: (
        True,
        "Retake: the photo is blurred. Hold the camera still, let it focus on the face, and add light.",
    ),
    EXPOSURE_CLIPPED: (
        True,
        "Retake: parts of the face are burnt out (pure white) and cannot be measured. Lower the flash "
        "or light, or move the patient out of direct light.",
    ),
    SKIN_OBSCURED: (
        True,
        "Retake: part of the measured skin is black: hair or a deep shadow over it, or the face is far "
        "too dark there. Pin the hair back and light the face evenly.",
    ),
    POSE_OFF: (True, "Retake: the head is turned. Ask the patient to look straight into the camera."),
    ALIGNMENT_UNRELIABLE: (
        True,
        "Retake: the face does not line up with the standard frontal position. Keep the head level, "
        "facing the camera, with a relaxed, neutral expression.",
    ),
    LOW_RESOLUTION: (
        True,
        "Retake: the face is too small in the photo to measure fine lines. Move closer so the face "
        "fills the frame.",
    ),
    COLOUR_UNCALIBRATED: (
        False,
        "No colour chart was used: tone and redness compare reliably only with photos taken under "
        "the same lighting.",
    ),
}

#: Plain-language reason per before/after pair flag.
PAIR_ADVICE: Mapping[str, tuple[bool, str]] = {
    VIEW_DIFFERS: (True, "The two photos show different views: compare photos of the same view."),
    ALIGNMENT_UNRELIABLE: (
        True,
        "The two faces do not line up closely enough: differences may come from position or "
        "expression, not from the skin.",
    ),
    POSE_DIFFERS: (
        True,
        "The head is turned differently in the two photos: retake with the pose of the earlier "
        "visit (use the ghost overlay) before comparing.",
    ),
}


def _advise(flags: list[str], table: Mapping[str, tuple[bool, str]]) -> list[Advice]:
    advice: list[Advice] = []
    for flag in flags:
        retake, text = table.get(flag, (False, f"Quality flag {flag!r}: see the measured values."))
        advice.append(Advice(flag, retake, text))
    return advice


def capture_advice(flags: list[str]) -> list[Advice]:
    """Advice for each capture-quality flag, in the flags' order (unknown flags get a neutral note)."""
    return _advise(flags, CAPTURE_ADVICE)


def pair_advice(flags: list[str]) -> list[Advice]:
    """Why each pair flag makes a before/after comparison unreliable."""
    return _advise(flags, PAIR_ADVICE)


# --------------------------------------------------------------------------- comparison


def smallest_real_change(spec: MetricSpec, before: float, calibrated: bool = True) -> float:
    """The change a metric must exceed to be more than measurement noise, in the metric's unit
    (larger when the pair's colours are not both calibrated on a chart)."""
    src = spec.smallest_real_change
    if not calibrated and spec.smallest_real_change_uncalibrated is not None:
        src = spec.smallest_real_change_uncalibrated
    return src.value if src.kind == "absolute" else max(src.value * abs(before), src.floor)


def verdict(spec: MetricSpec, before: float, after: float, calibrated: bool = True) -> Verdict:
    """Improved or worsened only when the change exceeds the smallest real change."""
    if spec.better == "none":
        return "descriptive"
    delta = after - before
    if not math.isfinite(delta) or abs(delta) <= smallest_real_change(spec, before, calibrated):
        return "no-real-change"
    lower_is_better = spec.better == "lower"
    return "improved" if (delta < 0) == lower_is_better else "worsened"


@dataclass(frozen=True)
class MetricChange:
    before: float
    after: float
    delta: float
    smallest_real_change: float
    verdict: Verdict


def compare_zones(
    before: Mapping[str, Mapping[str, float]],
    after: Mapping[str, Mapping[str, float]],
    specs: Mapping[str, MetricSpec],
    *,
    calibrated: bool,
    obscured: Collection[str] = (),
) -> dict[str, dict[str, MetricChange]]:
    """Per-zone, per-metric deltas for the zones and metrics both analyses have; ``calibrated`` when
    both photos' colours were corrected on a chart. Zones ``obscured`` in either photo are not judged:
    a fringe pinned back at one visit and not the other would otherwise read as fewer lines and
    spots."""
    result: dict[str, dict[str, MetricChange]] = {}
    for zone in sorted(before.keys() & after.keys()):
        changes: dict[str, MetricChange] = {}
        for metric in sorted(before[zone].keys() & after[zone].keys() & specs.keys()):
            b, a = before[zone][metric], after[zone][metric]
            spec = specs[metric]
            judged = "obscured" if zone in obscured else verdict(spec, b, a, calibrated)
            changes[metric] = MetricChange(b, a, a - b, smallest_real_change(spec, b, calibrated), judged)
        result[zone] = changes
    return result
