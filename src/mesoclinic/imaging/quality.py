"""Capture quality of one photo: sharpness, exposure clipping, pose, resolution, alignment residual.

Measured on the canonical image's face (so sharpness is comparable across cameras); the flags come
from ``rules.quality_flags`` with the thresholds and sources in ``data/imaging.yaml``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from skimage.color import rgb2lab

from mesoclinic.imaging import rules
from mesoclinic.imaging.alignment import Alignment
from mesoclinic.imaging.metrics import COLOUR_NORMALISATION
from mesoclinic.imaging.reference import reference
from mesoclinic.imaging.zones import Mask

CLIP_LOW, CLIP_HIGH = 1 / 255, 254 / 255


def measure(
    rgb: NDArray[np.float64], face: Mask, alignment: Alignment, view: rules.View | None
) -> rules.CaptureMeasures:
    pixels = rgb[face]
    if pixels.size == 0:
        clipped = 100.0
        sharpness = 0.0
    else:
        clipped = 100.0 * float(np.mean(np.any((pixels >= CLIP_HIGH) | (pixels <= CLIP_LOW), axis=1)))
        laplacian = ndimage.laplace(rgb2lab(rgb)[..., 0])
        sharpness = float(np.var(laplacian[ndimage.binary_erosion(face, iterations=3)]))
    return rules.CaptureMeasures(
        view=view,
        face_iod_px=alignment.iod_px,
        sharpness=sharpness,
        clipped_pct=clipped,
        yaw=alignment.yaw,
        alignment_residual_iod=alignment.residual_iod,
        colour_calibrated=False,
    )


def report(measures: rules.CaptureMeasures) -> dict[str, Any]:
    """The JSON stored with the photo and printed by ``mesoclinic analyze``."""
    return {
        "face_iod_px": round(measures.face_iod_px, 1),
        "sharpness": round(measures.sharpness, 3),
        "clipped_pct": round(measures.clipped_pct, 3),
        "yaw": round(measures.yaw, 4),
        "alignment_residual_iod": round(measures.alignment_residual_iod, 4),
        "colour_normalisation": COLOUR_NORMALISATION,
        "flags": rules.quality_flags(measures, reference().quality),
    }
