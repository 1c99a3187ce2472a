"""Calibration: descriptor distance <-> Rekognition-style similarity (0-100).

dlib's descriptor puts two photos of one person at a Euclidean distance under 0.6 (its authors'
threshold, 99.38% on LFW), and the photos in ../shared/faces at most 0.525 apart within a person and
at least 0.704 across people. Rekognition's default threshold is 80. We map distance d to

    similarity = 100 / (1 + exp(SLOPE * (d - MIDPOINT)))

with SLOPE = 20 and MIDPOINT chosen so that d = 0.6 gives exactly 80. Then same-person pairs score
95 and up (d <= 0.525), different people 33 and down (d >= 0.704), d = 0.4 gives 99.5: at the
default threshold of 80 the engine decides exactly as dlib's own 0.6 rule does, and scores read as
Rekognition's.
"""

from __future__ import annotations

import math

DEFAULT_THRESHOLD = 80.0  # Rekognition's default FaceMatchThreshold
MATCH_DISTANCE = 0.6  # dlib's decision distance, which DEFAULT_THRESHOLD stands for
SIMILARITY_SLOPE = 20.0
SIMILARITY_MIDPOINT = MATCH_DISTANCE + math.log(100.0 / DEFAULT_THRESHOLD - 1.0) / -SIMILARITY_SLOPE


def similarity(distance: float) -> float:
    """Rekognition-style similarity (0-100) of two descriptors `distance` apart."""
    return 100.0 / (1.0 + math.exp(SIMILARITY_SLOPE * (distance - SIMILARITY_MIDPOINT)))


def distance_for(threshold: float) -> float:
    """The largest descriptor distance whose similarity is at least `threshold`."""
    if threshold <= 0:
        return math.inf
    if threshold >= 100:
        return 0.0
    return SIMILARITY_MIDPOINT + math.log(100.0 / threshold - 1.0) / SIMILARITY_SLOPE
