"""Alignment to a canonical frame: a similarity transform (Umeyama) fitted on rigid landmarks.

Canonical frame: origin midway between the outer eye corners (33, 263), x towards the subject's
left eye, y towards the chin, unit = the outer inter-canthal distance (IOD). Rigid points are the
eye corners and the nose bridge and tip (not the mouth, which moves with expression), per
imaging-research §4. Every photo is resampled into this frame at ``CANONICAL_IOD_PX`` pixels per
IOD, so metrics are comparable between visits and cameras of different resolution.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image
from skimage.transform import SimilarityTransform

from mesoclinic.imaging.landmarks import Points

RIGID = (33, 133, 263, 362, 168, 1)
#: Template positions of RIGID in IOD units (a symmetric average face; checked on the test portrait).
TEMPLATE = np.array([(-0.5, 0.0), (-0.2, 0.02), (0.5, 0.0), (0.2, 0.02), (0.0, -0.03), (0.0, 0.45)])
CANONICAL_IOD_PX = 256
#: Canonical image extent in IOD units: x in [-1, 1], y in [-0.8, 1.4].
X_RANGE = (-1.0, 1.0)
Y_RANGE = (-0.8, 1.4)
CANONICAL_SHAPE = (
    round((Y_RANGE[1] - Y_RANGE[0]) * CANONICAL_IOD_PX),
    round((X_RANGE[1] - X_RANGE[0]) * CANONICAL_IOD_PX),
)
FACE_LEFT_EDGE, FACE_RIGHT_EDGE, NOSE_TIP = 234, 454, 1


def to_canonical_px(units: NDArray[np.float64]) -> NDArray[np.float64]:
    """IOD units → canonical image pixels."""
    pixels: NDArray[np.float64] = (units - np.array([X_RANGE[0], Y_RANGE[0]])) * CANONICAL_IOD_PX
    return pixels


@dataclass(frozen=True)
class Alignment:
    #: Image pixels → canonical pixels.
    transform: SimilarityTransform
    #: All landmarks in canonical pixels.
    landmarks: Points
    #: RMS distance of the rigid points from the template, in IOD.
    residual_iod: float
    iod_px: float
    roll_deg: float
    #: Nose-tip offset between the face edges, -1..1 (0 = frontal; sign = turned towards image right).
    yaw: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": float(self.transform.scale),
            "rotation_deg": math.degrees(float(self.transform.rotation)),
            "translation": [float(v) for v in self.transform.translation],
            "residual_iod": self.residual_iod,
            "iod_px": self.iod_px,
            "roll_deg": self.roll_deg,
            "yaw": self.yaw,
        }


def fit_similarity(
    source: NDArray[np.float64], target: NDArray[np.float64]
) -> tuple[SimilarityTransform, float]:
    """Least-squares similarity source → target and its RMS residual in IOD (inf if degenerate)."""
    transform = SimilarityTransform.from_estimate(source, target)
    if not isinstance(transform, SimilarityTransform):
        return SimilarityTransform(), math.inf
    residual = float(np.sqrt(np.mean(np.sum((transform(source) - target) ** 2, axis=1))))
    return transform, residual / CANONICAL_IOD_PX


def yaw_proxy(points: Points) -> float:
    left = float(np.linalg.norm(points[NOSE_TIP] - points[FACE_LEFT_EDGE]))
    right = float(np.linalg.norm(points[FACE_RIGHT_EDGE] - points[NOSE_TIP]))
    return (left - right) / (left + right) if left + right else 0.0


def fit(points: Points) -> Alignment:
    """Fit the similarity from the photo's rigid landmarks to the template."""
    source = points[list(RIGID)]
    target = to_canonical_px(TEMPLATE)
    transform, residual = fit_similarity(source, target)
    if not math.isfinite(residual):
        raise ValueError("degenerate landmarks: no similarity transform")
    eye_vector = points[263] - points[33]
    return Alignment(
        transform=transform,
        landmarks=transform(points),
        residual_iod=residual,
        iod_px=float(np.linalg.norm(eye_vector)),
        roll_deg=math.degrees(math.atan2(float(eye_vector[1]), float(eye_vector[0]))),
        yaw=yaw_proxy(points),
    )


def jpeg_source(image: Image.Image) -> bytes | None:
    """The encoded bytes of a JPEG that has not been decoded yet (``Image.open`` without ``load``),
    so reduced-scale copies can be decoded from it without touching the caller's image; else None."""
    fp = getattr(image, "fp", None)
    if image.format != "JPEG" or not getattr(image, "tile", None) or fp is None:
        return None
    position = fp.tell()
    fp.seek(0)
    data: bytes = fp.read()
    fp.seek(position)
    return data


def decoded_at(image: Image.Image, factor: int, source: bytes | None = None) -> tuple[Image.Image, int]:
    """The photo decoded at 1/``scale`` of its size, scale ≤ ``factor``: a JPEG not yet decoded is
    decoded directly at 1/2, 1/4 or 1/8 (libjpeg's DCT scaling, a fraction of a full decode); anything
    else is decoded in full and box-reduced. Returns (image, scale); pixel i of the result covers
    pixels ``scale·i … scale·i + scale - 1`` of the photo."""
    if factor <= 1:
        return image, 1
    if source is not None:
        drafted = Image.open(io.BytesIO(source))
        target = max(s for s in (1, 2, 4, 8) if s <= factor)
        drafted.draft("RGB", (drafted.width // target, drafted.height // target))
        scale = round(image.width / drafted.width)
        if scale > 1:
            drafted.load()
            rest = factor // scale
            return (drafted.reduce(rest), scale * rest) if rest > 1 else (drafted, scale)
    return image.reduce(factor), factor


class Copies:
    """One photo at the reduced scales the analysis asks for, each decoded (or reduced) once: the
    landmark overview and the canonical frame often want the same copy, or both need the full photo.

    After ``decode_in_full`` every smaller copy is box-reduced from the full decode: when the canonical
    frame needs the full photo anyway, a DCT-scaled draft beside it costs most of a second decode
    (entropy decoding is the same work at every scale), a box reduction a fraction of one. Until then
    a JPEG not yet decoded is drafted per scale, as ``decoded_at`` does."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self._source = jpeg_source(image)
        #: The caller's image once decoded in full (at once unless it is a JPEG not yet decoded).
        self._full: Image.Image | None = image if self._source is None else None
        self._copies: dict[int, Image.Image] = {}  # by scale

    def decode_in_full(self) -> Image.Image:
        """The caller's image, loaded (decoded in full)."""
        if self._full is None:
            self.image.load()
            self._full = self.image
        return self._full

    def at(self, factor: int) -> tuple[Image.Image, int]:
        """As ``decoded_at(image, factor)``: (copy, scale) with scale ≤ ``factor``."""
        if factor <= 1:
            return self.decode_in_full(), 1
        if self._full is not None:
            if factor not in self._copies:
                self._copies[factor] = self._full.reduce(factor)
            return self._copies[factor], factor
        target = max(s for s in (2, 4, 8) if s <= factor)
        expected = target * (factor // target)  # the scale decoded_at gives when the draft works
        if expected not in self._copies:
            copy, scale = decoded_at(self.image, factor, self._source)
            self._copies[scale] = copy
            return copy, scale
        return self._copies[expected], expected


def _pixel_scale(scale: int) -> NDArray[np.float64]:
    """Photo pixel coordinates → coordinates in a copy reduced by ``scale`` (pixel centres)."""
    offset = (scale - 1) / 2
    return np.array([[1 / scale, 0, -offset / scale], [0, 1 / scale, -offset / scale], [0, 0, 1]])


def canonical_image(
    image: Image.Image, alignment: Alignment, copies: Copies | None = None
) -> NDArray[np.float32]:
    """The photo resampled into the canonical frame, sRGB floats in [0, 1].

    The photo is first decoded (or box-reduced) to no less than the canonical scale, so the warp
    neither aliases nor touches every pixel of a 12 MP original; only the part the frame covers is
    converted to floats. Bicubic resampling: bilinear upsampling of a small face leaves creases along
    the source pixel grid that a fine-line detector takes for lines. ``copies``: the photo's copies
    already decoded for the landmarks, reused when the frame needs one of them."""
    height, width = CANONICAL_SHAPE
    factor = max(1, int(alignment.iod_px // CANONICAL_IOD_PX))
    source, scale = (copies if copies is not None else Copies(image)).at(factor)
    to_source = _pixel_scale(scale) @ alignment.transform.inverse.params  # canonical → source pixels
    corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], dtype=np.float64)
    in_source = (to_source @ corners.T).T[:, :2]
    x0, y0 = (np.floor(in_source.min(axis=0)).astype(int) - 3).tolist()
    x1, y1 = (np.ceil(in_source.max(axis=0)).astype(int) + 3).tolist()
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, source.width), min(y1, source.height)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the frame lies outside the photo: nothing to sample
        return np.zeros((height, width, 3), dtype=np.float32)
    pixels = np.asarray(source.crop((x0, y0, x1, y1)).convert("RGB"), dtype=np.float32) / np.float32(255)
    to_crop = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64) @ to_source
    warped = np.asarray(
        cv2.warpAffine(
            pixels,
            to_crop[:2],
            (width, height),
            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        ),
        dtype=np.float32,
    )
    # float32 as warped: the metrics work in float32, and 8-bit input has no more precision to keep.
    canonical: NDArray[np.float32] = np.clip(warped, 0.0, 1.0, out=warped)
    return canonical


def pair_residual(before_rigid: NDArray[np.float64], after_rigid: NDArray[np.float64]) -> float:
    """RMS distance (IOD) between two photos' rigid points, both already in the canonical frame,
    once fitted to each other: how well the pair lines up for side-by-side comparison."""
    return fit_similarity(after_rigid, before_rigid)[1]
