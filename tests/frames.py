"""Camera-like frames made from the shared photos, and how face boxes found on them are compared.

One piece for the tests, the benchmarks (bench/) and scripts/screenshots.py, so that a frame is made
the same way everywhere: the photo scaled as the app's preview scales a picture (facerec.gui.drawing.fit,
up or down, proportions kept) and centred on black bars, as a webcam delivers a picture of another shape.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from facerec import faces as facelib
from facerec.boxes import PixelBox
from facerec.gui.drawing import fit

FRAME_SIZE = (640, 480)


def letterbox(picture: bytes | np.ndarray | Image.Image, size: tuple[int, int] = FRAME_SIZE) -> Image.Image:
    """The picture (image bytes, RGB pixels or an image) scaled to fit a `size` frame, centred on black bars."""
    if isinstance(picture, bytes):
        picture = facelib.decode(picture).pixels  # upright, as EXIF says
    image = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
    fitted = image.convert("RGB").resize(fit(image.size, size), Image.BILINEAR)
    frame = Image.new("RGB", size)
    frame.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return frame


def css_box(css: tuple[int, int, int, int]) -> PixelBox:
    """face_recognition's (top, right, bottom, left), inclusive, as our box (right and bottom exclusive)."""
    top, right, bottom, left = css
    return PixelBox(float(left), float(top), float(right + 1), float(bottom + 1))


def iou(a: PixelBox, b: PixelBox) -> float:
    """Intersection over union of two boxes: 1 for the same box, 0 for boxes apart."""
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a.area + b.area - inter)
