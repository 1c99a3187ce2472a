"""What the Add face preview tells the user about the face it sees, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facerec import faces as facelib
from facerec.gui.drawing import GREEN, RED, Overlay
from facerec.quality import QUALITY_BARS

# The enrolment bar: the same one the indexer applies (IndexFaces' AUTO filter).
ENROL_BAR = QUALITY_BARS["AUTO"]
# The quality bar's reasons in words, as advice to someone in front of the camera, or about a photo file,
# where nobody can move closer or hold still.
CAMERA_WORDS = {
    "SMALL_BOUNDING_BOX": "move closer",
    "LOW_CONFIDENCE": "face unclear",
    "LOW_BRIGHTNESS": "too dark",
    "LOW_SHARPNESS": "blurry: hold still",
    "EXTREME_POSE": "look at the camera",
}
PHOTO_WORDS = {
    "SMALL_BOUNDING_BOX": "face too small in this photo",
    "LOW_CONFIDENCE": "face unclear",
    "LOW_BRIGHTNESS": "too dark",
    "LOW_SHARPNESS": "blurry",
    "EXTREME_POSE": "face turned away",
}
NO_FACE = "No face in view: face the camera, or come closer"
NO_FACE_IN_PHOTO = "No face found in this photo: use one with the face large, sharp and from the front"
# A face too small to judge looks blurry and unclear too: "move closer" is the one thing to do, and
# telling someone far away to hold still would send them the wrong way.
MASKED_BY_SMALL = {"LOW_SHARPNESS", "LOW_CONFIDENCE"}


@dataclass(frozen=True)
class Hint:
    ok: bool  # exactly one usable face
    message: str
    overlays: tuple[Overlay, ...]


def enrolment_hint(pixels: np.ndarray, photo: bool = False) -> Hint:
    """Boxes and advice for a camera frame, or an opened `photo`: green for exactly one usable face, red with
    the reason otherwise."""
    picture = facelib.Picture(pixels)
    found = facelib.find_faces(picture, describe=False)
    if not found:
        # The camera path finds faces from about 50 px (facerec.faces), and every face it finds is big
        # enough for the indexer: a person too far away is not found at all, so say what helps then.
        return Hint(False, NO_FACE_IN_PHOTO if photo else NO_FACE, ())
    words = PHOTO_WORDS if photo else CAMERA_WORDS
    where = "in this photo" if photo else "in view"
    overlays = []
    for face in found:
        reasons = [words[r] for r in advice(ENROL_BAR.reasons(face))]
        color = GREEN if not reasons and len(found) == 1 else RED
        label = ", ".join(reasons) if reasons else ("" if len(found) == 1 else "one face at a time")
        overlays.append(Overlay(face.box.ratios(picture.width, picture.height), label, color))
    if len(found) > 1:
        return Hint(False, f"{len(found)} faces {where}: one person at a time", tuple(overlays))
    if overlays[0].color == RED:
        return Hint(False, overlays[0].label.capitalize(), tuple(overlays))
    return Hint(True, "Face OK", tuple(overlays))


def advice(reasons: list[str]) -> list[str]:
    """The quality bar's reasons worth telling: a small face's other faults are the distance's."""
    if "SMALL_BOUNDING_BOX" in reasons:
        return [r for r in reasons if r not in MASKED_BY_SMALL]
    return reasons
