"""Our faces against the reference pipeline, face_recognition (ageitgey), on 640x480 frames.

Both use dlib's models, so on every photo of people/, letterboxed as a webcam
frame, our engine must find the faces face_recognition's defaults find (HOG,
upsampled once) and name the same nearest enrolled person.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from facerec import faces as facelib
from facerec.boxes import PixelBox
from tests.frames import css_box, iou, letterbox


def reference() -> ModuleType:
    """face_recognition, or a skip of only the test that asks for it (the others still run)."""
    from PIL import ImageFile

    strict = ImageFile.LOAD_TRUNCATED_IMAGES
    module = pytest.importorskip(
        "face_recognition",
        reason="the reference pipeline face_recognition is not installed"
        " (pip install --no-deps face_recognition==1.3.0)",
    )
    # Importing it tells Pillow, for the whole process, to read cut-short files without a word: the other
    # tests in this process must still see damaged photos refused.
    ImageFile.LOAD_TRUNCATED_IMAGES = strict
    return module


FACES_DIR = Path(os.environ.get("FACEREC_FACES_DIR") or Path(__file__).parents[2] / "shared" / "faces")
IOU_AGREE = 0.5


def people() -> dict[str, list[Path]]:
    folder = FACES_DIR / "people"
    if not folder.is_dir():
        return {}
    return {p.name: sorted(x for x in p.iterdir() if x.is_file()) for p in sorted(folder.iterdir()) if p.is_dir()}


PHOTOS = [(person, path) for person, paths in people().items() for path in paths]


def upright(path: Path) -> np.ndarray:
    return facelib.decode(path.read_bytes()).pixels


@lru_cache(maxsize=1)
def enrolled(fr: ModuleType, models: facelib.Models) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, our descriptors, their encodings) of each person's first photo, at its own size."""
    names, ours, theirs = [], [], []
    for person, paths in people().items():
        pixels = upright(paths[0])
        names.append(person)
        ours.append(facelib.find_faces(facelib.Picture(pixels), models)[0].descriptor)
        theirs.append(fr.face_encodings(pixels, fr.face_locations(pixels))[0])
    return names, np.array(ours), np.array(theirs)


def nearest(known: np.ndarray, descriptor: np.ndarray, names: list[str]) -> str:
    return names[int(np.argmin(np.linalg.norm(known - descriptor, axis=1)))]


def test_photos_are_there() -> None:
    # Without this, a missing folder would only leave the parametrized test with nothing to run.
    assert PHOTOS, f"no photos in {FACES_DIR / 'people'}; set FACEREC_FACES_DIR"


def assert_same_faces(ours: list[facelib.Face], theirs: list[PixelBox]) -> None:
    assert theirs, "face_recognition found no face: the photo should show one"
    assert len(ours) == len(theirs), f"we found {len(ours)} faces, face_recognition {len(theirs)}"
    for face in ours:
        best = max(iou(face.box, other) for other in theirs)
        assert best >= IOU_AGREE, f"our box {face.box} overlaps none of {theirs} (best IoU {best:.2f})"


@pytest.mark.parametrize(("person", "path"), PHOTOS, ids=[f"{p}/{x.name}" for p, x in PHOTOS])
def test_same_faces_and_person_as_face_recognition(person: str, path: Path, loaded_models) -> None:
    fr = reference()
    frame = np.asarray(letterbox(upright(path)))
    ours = facelib.find_faces(facelib.Picture(frame), loaded_models)
    locations = fr.face_locations(frame)  # its defaults: HOG, upsampled once
    theirs = [css_box(css) for css in locations]
    assert_same_faces(ours, theirs)

    names, our_known, their_known = enrolled(fr, loaded_models)
    largest = max(range(len(theirs)), key=lambda i: theirs[i].area)
    their_encoding = fr.face_encodings(frame, [locations[largest]])[0]
    ours_says = nearest(our_known, ours[0].descriptor, names)  # find_faces puts the largest first
    theirs_says = nearest(their_known, their_encoding, names)
    assert ours_says == theirs_says, (
        f"nearest person: ours {ours_says}, face_recognition {theirs_says} (truly {person})"
    )
