"""Rekognition's five default landmarks for a face facerec.faces found.

Rekognition names landmarks by where they are in the image: in its documented
responses `eyeLeft` is the eye nearer the image's left edge, and `mouthLeft`
the mouth corner nearer it. dlib's 5-point model (which facerec.faces runs for
alignment) has eye corners and the nose but no mouth, so the mouth corners come
from dlib's 68-point model (points 48 and 54), run on the face's box only when
a response needs landmarks. Its file ships with face_recognition_models; it
costs a few ms a face (bench: README's serve section).
"""

from __future__ import annotations

import threading
from functools import lru_cache

from facerec import faces as facelib
from facerec.boxes import PixelBox

# The 68-point model's numbering (iBUG 300-W): outer mouth corners.
MOUTH_CORNERS = (48, 54)


class _Predictor:
    def __init__(self) -> None:
        import dlib
        import face_recognition_models as files

        self.dlib = dlib
        self.predict = dlib.shape_predictor(files.pose_predictor_model_location())
        self.lock = threading.Lock()  # dlib's objects are not safe to share between threads mid-call


@lru_cache(maxsize=1)
def _predictor() -> _Predictor:
    return _Predictor()


def default_landmarks(face: facelib.Face, picture: facelib.Picture) -> dict[str, tuple[float, float]]:
    """eyeLeft, eyeRight, mouthLeft, mouthRight, nose in pixels, left and right as the image shows them."""
    eyes = sorted((face.landmarks["eyeLeft"], face.landmarks["eyeRight"]))
    left_mouth, right_mouth = sorted(mouth_corners(face.box, picture))
    return {
        "eyeLeft": eyes[0],
        "eyeRight": eyes[1],
        "mouthLeft": left_mouth,
        "mouthRight": right_mouth,
        "nose": face.landmarks["nose"],
    }


def mouth_corners(box: PixelBox, picture: facelib.Picture) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two outer corners of the mouth in pixels, from dlib's 68-point model on the face's box."""
    p = _predictor()
    rect = p.dlib.rectangle(round(box.left), round(box.top), round(box.right) - 1, round(box.bottom) - 1)
    with p.lock:
        shape = p.predict(picture.pixels, rect)
    a, b = (shape.part(i) for i in MOUTH_CORNERS)
    return (float(a.x), float(a.y)), (float(b.x), float(b.y))
