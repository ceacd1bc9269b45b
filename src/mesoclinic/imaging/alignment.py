"""Alignment to a canonical frame: a similarity transform (Umeyama) fitted on rigid landmarks.

Canonical frame: origin midway between the outer eye corners (33, 263), x towards the subject's
left eye, y towards the chin, unit = the outer inter-canthal distance (IOD). Rigid points are the
eye corners and the nose bridge and tip (not the mouth, which moves with expression), per
imaging-research §4. Every photo is resampled into this frame at ``CANONICAL_IOD_PX`` pixels per
IOD, so metrics are comparable between visits and cameras of different resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from skimage.transform import SimilarityTransform, warp

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


def canonical_image(image: Image.Image, alignment: Alignment) -> NDArray[np.float64]:
    """The photo resampled into the canonical frame, RGB floats in [0, 1].

    Only the part of the photo the frame covers is decoded to floats, box-reduced to no less than
    the canonical scale first, so the bilinear warp neither aliases nor touches every pixel of a
    12 MP original."""
    height, width = CANONICAL_SHAPE
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    in_image = alignment.transform.inverse(corners)
    x0, y0 = np.floor(in_image.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(in_image.max(axis=0)).astype(int) + 2
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), image.width), min(int(y1), image.height)
    transform = alignment.transform
    if x1 - x0 < 2 or y1 - y0 < 2:  # the frame lies outside the photo: nothing to sample
        return np.zeros((height, width, 3))
    if (x0, y0, x1, y1) != (0, 0, image.width, image.height):
        image = image.crop((x0, y0, x1, y1))
        transform = SimilarityTransform(translation=(x0, y0)) + transform  # crop px → photo px → canon
    factor = max(1, int(alignment.iod_px // CANONICAL_IOD_PX))
    if factor > 1:
        image = image.reduce(factor)
        transform = SimilarityTransform(scale=float(factor)) + transform  # reduced px → crop px → …
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    warped: NDArray[np.float64] = warp(
        pixels, transform.inverse, output_shape=CANONICAL_SHAPE, order=1, mode="edge"
    )
    return warped


def pair_residual(before_rigid: NDArray[np.float64], after_rigid: NDArray[np.float64]) -> float:
    """RMS distance (IOD) between two photos' rigid points, both already in the canonical frame,
    once fitted to each other: how well the pair lines up for side-by-side comparison."""
    return fit_similarity(after_rigid, before_rigid)[1]
