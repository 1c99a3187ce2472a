"""Our faces against the reference pipeline, face_recognition (ageitgey), on 640x480 frames.

Both use dlib's models, so on every photo of people/, letterboxed as a webcam
frame, our engine must find the faces face_recognition's defaults find (HOG,
upsampled once) and name the same nearest enrolled person.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facerec import faces as facelib

fr = pytest.importorskip(
    "face_recognition",
    reason="the reference pipeline face_recognition is not installed (pip install --no-deps face_recognition==1.3.0)",
)

FACES_DIR = Path(os.environ.get("FACEREC_FACES_DIR") or Path(__file__).parents[2] / "shared" / "faces")
FRAME_SIZE = (640, 480)
IOU_AGREE = 0.5

Box = tuple[float, float, float, float]  # left, top, right, bottom; right and bottom exclusive


def people() -> dict[str, list[Path]]:
    folder = FACES_DIR / "people"
    if not folder.is_dir():
        return {}
    return {p.name: sorted(x for x in p.iterdir() if x.is_file()) for p in sorted(folder.iterdir()) if p.is_dir()}


PHOTOS = [(person, path) for person, paths in people().items() for path in paths]


def upright(path: Path) -> np.ndarray:
    return facelib.decode(path.read_bytes()).pixels


def letterbox(pixels: np.ndarray) -> np.ndarray:
    """The picture scaled to fit a 640x480 frame, up or down, on black bars."""
    image = Image.fromarray(pixels)
    scale = min(FRAME_SIZE[0] / image.width, FRAME_SIZE[1] / image.height)
    fitted = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    frame = Image.new("RGB", FRAME_SIZE)
    frame.paste(fitted, ((FRAME_SIZE[0] - fitted.width) // 2, (FRAME_SIZE[1] - fitted.height) // 2))
    return np.asarray(frame)


def as_box(css: tuple[int, int, int, int]) -> Box:
    # face_recognition's (top, right, bottom, left) is inclusive; ours is exclusive on the right and bottom.
    top, right, bottom, left = css
    return (left, top, right + 1, bottom + 1)


def area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def iou(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@lru_cache(maxsize=1)
def enrolled() -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, our descriptors, their encodings) of each person's first photo, at its own size."""
    names, ours, theirs = [], [], []
    for person, paths in people().items():
        pixels = upright(paths[0])
        names.append(person)
        ours.append(facelib.find_faces(facelib.Picture(pixels))[0].descriptor)
        theirs.append(fr.face_encodings(pixels, fr.face_locations(pixels))[0])
    return names, np.array(ours), np.array(theirs)


def nearest(known: np.ndarray, descriptor: np.ndarray, names: list[str]) -> str:
    return names[int(np.argmin(np.linalg.norm(known - descriptor, axis=1)))]


def test_photos_are_there() -> None:
    # Without this, a missing folder would only leave the parametrized test with nothing to run.
    assert PHOTOS, f"no photos in {FACES_DIR / 'people'}; set FACEREC_FACES_DIR"


def assert_same_faces(ours: list[facelib.Face], theirs: list[Box]) -> None:
    assert theirs, "face_recognition found no face: the photo should show one"
    assert len(ours) == len(theirs), f"we found {len(ours)} faces, face_recognition {len(theirs)}"
    for face in ours:
        box = (face.box.left, face.box.top, face.box.right, face.box.bottom)
        best = max(iou(box, other) for other in theirs)
        assert best >= IOU_AGREE, f"our box {box} overlaps none of {theirs} (best IoU {best:.2f})"


@pytest.mark.parametrize(("person", "path"), PHOTOS, ids=[f"{p}/{x.name}" for p, x in PHOTOS])
def test_same_faces_and_person_as_face_recognition(person: str, path: Path) -> None:
    frame = letterbox(upright(path))
    ours = facelib.find_faces(facelib.Picture(frame))
    locations = fr.face_locations(frame)  # its defaults: HOG, upsampled once
    theirs = [as_box(css) for css in locations]
    assert_same_faces(ours, theirs)

    names, our_known, their_known = enrolled()
    largest = max(range(len(theirs)), key=lambda i: area(theirs[i]))
    their_encoding = fr.face_encodings(frame, [locations[largest]])[0]
    ours_says = nearest(our_known, ours[0].descriptor, names)  # find_faces puts the largest first
    theirs_says = nearest(their_known, their_encoding, names)
    assert ours_says == theirs_says, (
        f"nearest person: ours {ours_says}, face_recognition {theirs_says} (truly {person})"
    )
