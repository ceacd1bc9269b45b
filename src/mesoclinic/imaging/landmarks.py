"""Face landmarks behind a small interface, so the model can be swapped.

The implementation uses MediaPipe FaceMesh (``mediapipe==0.10.21``, Apache-2.0), the last release
whose wheel ships the face-mesh model: nothing is downloaded at run time. 478 points per face
(468 + 10 iris points with ``refine_landmarks``); indices follow MediaPipe's canonical mesh.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from mesoclinic.errors import InvalidInput
from mesoclinic.imaging import rules

Points = NDArray[np.float64]  # (n, 2) pixel coordinates (x, y)

#: Detection runs on a copy whose longer side is at most this (the short-range detector is trained
#: on close-ups; larger inputs only cost time). Landmarks are scaled back to the full image.
DETECTION_MAX_SIDE = 1024


class LandmarkDetector(Protocol):
    def detect(self, rgb: NDArray[np.uint8]) -> list[Points]:
        """All faces found in an RGB image (h, w, 3), each as (n, 2) pixel coordinates."""
        ...


class MediaPipeFaceMesh:
    """MediaPipe's legacy FaceMesh solution; one graph per process, serialised by a lock."""

    name = "mediapipe-facemesh-0.10.21"

    def __init__(self) -> None:
        import mediapipe as mp

        self._mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, refine_landmarks=True, max_num_faces=2, min_detection_confidence=0.5
        )
        self._lock = threading.Lock()

    def detect(self, rgb: NDArray[np.uint8]) -> list[Points]:
        height, width = rgb.shape[:2]
        with self._lock:
            result = self._mesh.process(np.ascontiguousarray(rgb))
        faces = result.multi_face_landmarks or []
        return [
            np.array([[p.x * width, p.y * height] for p in face.landmark], dtype=np.float64) for face in faces
        ]


@functools.cache
def default_detector() -> LandmarkDetector:
    return MediaPipeFaceMesh()


def one_face(detector: LandmarkDetector, rgb: NDArray[np.uint8]) -> Points:
    """The single face's landmarks in full-image pixels; 422 ``no-face`` / ``several-faces`` otherwise."""
    height, width = rgb.shape[:2]
    step = max(1, int(np.ceil(max(height, width) / DETECTION_MAX_SIDE)))
    faces = detector.detect(np.ascontiguousarray(rgb[::step, ::step]) if step > 1 else rgb)
    if problem := rules.face_count_problem(len(faces)):
        raise InvalidInput(problem.reason, code=problem.code, field="file")
    # Strided sampling: pixel i of the copy is pixel i*step of the original.
    return faces[0] * step
