"""What the Add face preview tells the user about the face it sees, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass, replace

from facerec.boxes import RatioBox
from facerec.faces import Face
from facerec.gui.drawing import BLUE, GREEN, RED, Overlay
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


PICK = "click to pick"
PICKED = "picked"


@dataclass(frozen=True)
class Hint:
    ok: bool  # exactly one usable face, or one picked in a group photo
    message: str
    overlays: tuple[Overlay, ...]
    pickable: tuple[int, ...] = ()  # the usable faces of a group photo, one of which can be picked
    box: RatioBox | None = None  # the face picked: only it is enrolled


def pick(hint: Hint, index: int) -> Hint:
    """The hint once the face `index` of a group photo is picked: it alone is enrolled."""
    overlays = tuple(
        replace(o, label=PICKED, color=GREEN)
        if i == index
        else replace(o, label=PICK, color=BLUE)
        if i in hint.pickable
        else o
        for i, o in enumerate(hint.overlays)
    )
    return Hint(True, "Face picked", overlays, hint.pickable, hint.overlays[index].box)


def enrolment_hint(found: list[Face], width: int, height: int, photo: bool = False) -> Hint:
    """Boxes and advice for the faces `found` in a camera frame, or an opened `photo`, of this size: green for
    exactly one usable face, red with the reason otherwise."""
    if not found:
        # The camera path finds faces from about 50 px (facerec.faces), and every face it finds is big
        # enough for the indexer: a person too far away is not found at all, so say what helps then.
        return Hint(False, NO_FACE_IN_PHOTO if photo else NO_FACE, ())
    words = PHOTO_WORDS if photo else CAMERA_WORDS
    judged = [(face.box.ratios(width, height), [words[r] for r in advice(ENROL_BAR.reasons(face))]) for face in found]
    if len(found) > 1 and photo:
        return group_hint(judged)
    if len(found) > 1:
        overlays = tuple(Overlay(box, ", ".join(reasons) or "one face at a time", RED) for box, reasons in judged)
        return Hint(False, f"{len(found)} faces in view: one person at a time", overlays)
    ((box, reasons),) = judged
    if reasons:
        return Hint(False, ", ".join(reasons).capitalize(), (Overlay(box, ", ".join(reasons), RED),))
    return Hint(True, "Face OK", (Overlay(box, "", GREEN),))


def group_hint(judged: list[tuple[RatioBox, list[str]]]) -> Hint:
    """A photo of several people: each usable face can be picked (clicked), the others say why not."""
    overlays = tuple(
        Overlay(box, ", ".join(reasons), RED) if reasons else Overlay(box, PICK, BLUE) for box, reasons in judged
    )
    pickable = tuple(i for i, (_, reasons) in enumerate(judged) if not reasons)
    if not pickable:
        return Hint(False, f"{len(judged)} faces in this photo, none clear enough to enrol", overlays)
    return Hint(False, f"{len(judged)} faces in this photo: click the face to enrol", overlays, pickable)


def advice(reasons: list[str]) -> list[str]:
    """The quality bar's reasons worth telling: a small face's other faults are the distance's."""
    if "SMALL_BOUNDING_BOX" in reasons:
        return [r for r in reasons if r not in MASKED_BY_SMALL]
    return reasons
