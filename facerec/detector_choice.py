"""Which of dlib's face detectors searches an image, at what scale, and running it.

Photos go to the CNN detector (facerec.detector's converted copy, or dlib's own), camera frames to dlib's
faster HOG detector; both give face rectangles in the image's own pixels. See docs/how-it-works.md,
"Finding faces".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from facerec.detector import Detection
    from facerec.faces import Models

# Photos are searched with dlib's CNN detector upsampled once (80x80 px window,
# so faces from 40 px), at their own size up to 1920x1080's pixel count and scaled
# down to it above: Rekognition's "40x40 px in 1920x1080, proportionally more in
# larger images". Landmarks and descriptors use the full-resolution image.
MAX_DETECT_PIXELS = 1920 * 1080
CNN_UPSAMPLE = 1
# Camera frames: an image of at most 640x480's pixel count is taken for one, as
# the engine cannot tell otherwise, and searched with dlib's HOG detector on a
# grey copy enlarged 1.3 times (faces from about 50 px; grey halves HOG's time and
# found the same faces in our frames; 1.3 is the least enlargement that found every
# face face_recognition's HOG, upsampled once, finds in them), which fits Check
# face's time budget where the CNN (about 1 s at 640x480) does not.
LIVE_MAX_PIXELS = 640 * 480
LIVE_HOG_SCALE = 1.3


def is_live_frame(width: int, height: int) -> bool:
    """Whether an image of this size takes the camera-frame path (see LIVE_MAX_PIXELS)."""
    return width * height <= LIVE_MAX_PIXELS


def detection_scale(width: int, height: int) -> float:
    """The scale photos of this size are searched at with the CNN: 1, or less above 1920x1080's pixel count."""
    return min(1.0, math.sqrt(MAX_DETECT_PIXELS / (width * height)))


def detection_copy(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """The pixels the CNN detector searches for this photo, and their scale to the photo."""
    height, width = pixels.shape[:2]
    scale = detection_scale(width, height)
    return (pixels if scale == 1.0 else _resize(pixels, scale)), scale


def detect(m: Models, pixels: np.ndarray) -> list[tuple[object, float]]:
    """Face rectangles (dlib rectangles) in full-image pixels with their detector scores. Call with m.lock held."""
    height, width = pixels.shape[:2]
    if is_live_frame(width, height):
        small, scale = _resize(pixels, LIVE_HOG_SCALE, "L"), LIVE_HOG_SCALE
        rects, scores, _ = m.detector.run(small, 0, 0.0)
        found = [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores, strict=True)]
    else:
        small, scale = detection_copy(pixels)
        found = [((d.left, d.top, d.right, d.bottom), d.score) for d in cnn_detect(m, small)]
    return [(_rect(m, box, scale), score) for box, score in found]


def cnn_detect(m: Models, pixels: np.ndarray) -> list[Detection]:
    """dlib's CNN detector, upsampled CNN_UPSAMPLE times: the converted copy, or dlib's own."""
    from facerec.detector import dlib_detect

    if m.cnn is not None:
        return m.cnn.detect(pixels, CNN_UPSAMPLE)
    return dlib_detect(m.dlib_cnn, pixels, CNN_UPSAMPLE)


def _rect(m: Models, box: tuple[int, int, int, int], scale: float):
    """A dlib rectangle in the photo's pixels from one in the searched copy's."""
    if scale == 1.0:
        return m.dlib.rectangle(*box)
    return m.dlib.rectangle(*(round(v / scale) for v in box))


def _resize(pixels: np.ndarray, scale: float, mode: str = "RGB") -> np.ndarray:
    image = Image.fromarray(pixels).convert(mode)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.BILINEAR))
