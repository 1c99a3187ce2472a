"""Open eyes, an open mouth and a smile, judged from the geometry of dlib's 68 face points.

Each judgement is a measure of the points compared with a threshold. The thresholds and
their scales were measured on the faces of ../shared/faces labelled by eye
(docs/attributes.md gives the labels, the measures and the errors): a measure `scale` past
the threshold gives a confidence of 73, three scales 95. Nothing here is a trained model
(Gender is facerec.gender's; age, emotions, glasses and facial hair are not judged at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rule:
    """A yes-or-no judgement: yes when the measure is over `threshold`."""

    threshold: float
    scale: float  # how far past the threshold a measure must be to be judged with confidence 73

    def judge(self, measure: float) -> tuple[bool, float]:
        """The answer and its confidence (50 at the threshold, towards 100 away from it)."""
        margin = abs(measure - self.threshold) / self.scale
        return measure > self.threshold, 100.0 / (1.0 + math.exp(-margin))


# Eye aspect ratio (Soukupova and Cech, 2016): the eyelids' opening over the eye's width.
# Open eyes read 0.168-0.39 here; the one face laughing with its eyes nearly shut read 0.154.
EYES_OPEN = Rule(threshold=0.16, scale=0.02)
# The inner lips' gap over the distance between the eyes: closed 0.033 and below (one pursed
# mouth 0.094), open 0.143 and up.
MOUTH_OPEN = Rule(threshold=0.12, scale=0.025)
# How far the mouth's corners sit above the middle of the lips, over the mouth's width: not
# smiling 0.101 and below, smiling 0.127 and up.
SMILE = Rule(threshold=0.114, scale=0.013)


def eye_opening(points: np.ndarray) -> float:
    """The mean eye aspect ratio of both eyes."""
    p = np.asarray(points, dtype=np.float64)
    ratios = []
    for first in (36, 42):  # each eye's six points, from its corner on the image's left
        corner_a, up_a, up_b, corner_b, down_b, down_a = p[first : first + 6]
        lids = _distance(up_a, down_a) + _distance(up_b, down_b)
        ratios.append(lids / (2.0 * _distance(corner_a, corner_b)))
    return float(np.mean(ratios))


def mouth_opening(points: np.ndarray) -> float:
    """The gap between the inner lips (points 61-63 over 67-65) over the eyes' distance."""
    p = np.asarray(points, dtype=np.float64)
    gap = np.mean([_distance(p[61], p[67]), _distance(p[62], p[66]), _distance(p[63], p[65])])
    return float(gap / _eye_distance(p))


def mouth_corner_lift(points: np.ndarray) -> float:
    """How far the mouth's corners are above the lips' middle, across the face, over the mouth's width."""
    p = np.asarray(points, dtype=np.float64)
    across = p[42:48].mean(axis=0) - p[36:42].mean(axis=0)
    up = np.array([across[1], -across[0]]) / np.linalg.norm(across)  # perpendicular to the eye line
    middle = (p[51] + p[57]) / 2.0
    lift = (np.dot(p[48] - middle, up) + np.dot(p[54] - middle, up)) / 2.0
    return float(lift / _distance(p[48], p[54]))


def judged_expression(points: np.ndarray) -> dict[str, tuple[bool, float]]:
    """EyesOpen, MouthOpen and Smile as Rekognition names them: (value, confidence)."""
    return {
        "EyesOpen": EYES_OPEN.judge(eye_opening(points)),
        "MouthOpen": MOUTH_OPEN.judge(mouth_opening(points)),
        "Smile": SMILE.judge(mouth_corner_lift(points)),
    }


def _eye_distance(p: np.ndarray) -> float:
    return _distance(p[36:42].mean(axis=0), p[42:48].mean(axis=0))


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
