"""Rekognition's 30 landmark types from dlib's 68 face points (iBUG 300-W numbering).

Rekognition names landmarks by where they are in the image: in its documented
responses `eyeLeft` is the eye nearer the image's left edge and `mouthLeft` the
mouth corner nearer it, so `leftEyeBrowLeft` is the outer end of the eyebrow on
the image's left. dlib numbers its points the same way (0 is the jaw's end on the
image's left). A pupil is the centre of its eye's six points: dlib's model has no
pupil of its own, and looking for one in the pixels is not something we measured.
"""

from __future__ import annotations

import numpy as np

# Each landmark type as the dlib points whose mean it is, in botocore's order of LandmarkType.
LANDMARK_POINTS: dict[str, tuple[int, ...]] = {
    "eyeLeft": (36, 37, 38, 39, 40, 41),
    "eyeRight": (42, 43, 44, 45, 46, 47),
    "nose": (30,),
    "mouthLeft": (48,),
    "mouthRight": (54,),
    "leftEyeBrowLeft": (17,),
    "leftEyeBrowRight": (21,),
    "leftEyeBrowUp": (19,),
    "rightEyeBrowLeft": (22,),
    "rightEyeBrowRight": (26,),
    "rightEyeBrowUp": (24,),
    "leftEyeLeft": (36,),
    "leftEyeRight": (39,),
    "leftEyeUp": (37, 38),
    "leftEyeDown": (40, 41),
    "rightEyeLeft": (42,),
    "rightEyeRight": (45,),
    "rightEyeUp": (43, 44),
    "rightEyeDown": (46, 47),
    "noseLeft": (31,),
    "noseRight": (35,),
    "mouthUp": (51,),
    "mouthDown": (57,),
    "leftPupil": (36, 37, 38, 39, 40, 41),
    "rightPupil": (42, 43, 44, 45, 46, 47),
    "upperJawlineLeft": (0,),
    "midJawlineLeft": (4,),
    "chinBottom": (8,),
    "midJawlineRight": (12,),
    "upperJawlineRight": (16,),
}
# The landmarks Rekognition returns without Attributes=["ALL"].
DEFAULT_LANDMARKS = ("eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose")


def named_landmarks(
    points: np.ndarray, names: tuple[str, ...] = tuple(LANDMARK_POINTS)
) -> dict[str, tuple[float, float]]:
    """The named landmarks in pixels, from a face's 68 points (an array of shape (68, 2))."""
    found = {}
    for name in names:
        x, y = np.asarray(points, dtype=np.float64)[list(LANDMARK_POINTS[name])].mean(axis=0)
        found[name] = (float(x), float(y))
    return found
