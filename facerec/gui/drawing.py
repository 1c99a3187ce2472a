"""Pictures for the windows: frames with face boxes and names drawn over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facerec.boxes import RatioBox

GREEN = (46, 160, 67)
RED = (207, 34, 46)
BLUE = (9, 105, 218)
GREY = (110, 119, 129)


@dataclass(frozen=True)
class Overlay:
    """A box over a face, with a label and a colour."""

    box: RatioBox
    label: str
    color: tuple[int, int, int]


def font(size: int = 18) -> ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "Arial.ttf", "LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled up or down, proportions kept, to the largest that fits in `box`."""
    scale = min(box[0] / size[0], box[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def draw(pixels: np.ndarray | Image.Image, overlays: list[Overlay], size: tuple[int, int] | None = None) -> Image.Image:
    """The picture scaled to fit `size` (whole, in its own proportions), with every overlay drawn on it."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    image = image.convert("RGB") if image.mode != "RGB" else image
    scaled = fit(image.size, size) if size is not None else image.size
    image = image.resize(scaled, Image.BILINEAR) if scaled != image.size else image.copy()
    pen = ImageDraw.Draw(image)
    text_font = font(max(12, image.width // 40))
    for o in overlays:
        on_image = o.box.pixels(image.width, image.height)
        box = (on_image.left, on_image.top, on_image.right, on_image.bottom)
        pen.rectangle(box, outline=o.color, width=3)
        if o.label:
            left, top, right, bottom = pen.textbbox((box[0], box[1]), o.label, font=text_font)
            label_top = box[1] - (bottom - top) - 8 if box[1] > (bottom - top) + 8 else box[3]
            pen.rectangle(
                (box[0], label_top, box[0] + (right - left) + 10, label_top + (bottom - top) + 8), fill=o.color
            )
            pen.text((box[0] + 5, label_top + 2), o.label, fill=(255, 255, 255), font=text_font)
    return image


# Mean difference, in grey levels, of two pictures' thumbnails above which they are different scenes:
# a camera's noise and a person moving stay well below; a cut to another picture goes well above.
SCENE_CHANGE = 12.0
SCENE_THUMBNAIL = (16, 12)


def scene(picture: np.ndarray | Image.Image) -> np.ndarray:
    """A picture's scene: a tiny grey thumbnail, cheap enough to take of every camera frame."""
    import cv2

    pixels = np.asarray(picture.convert("RGB")) if isinstance(picture, Image.Image) else picture
    small = cv2.resize(pixels, SCENE_THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float32)
    return small.mean(axis=2)


def same_scene(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Do two scenes (see `scene`) show the same thing (the same photo, or a camera on the same view)?"""
    return a is not None and b is not None and float(np.abs(a - b).mean()) <= SCENE_CHANGE


def app_icon(size: int = 64) -> Image.Image:
    """The window icon: a face in a viewfinder, drawn here so no binary file is needed."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    s = size
    pen.rounded_rectangle((2, 2, s - 3, s - 3), radius=s // 6, fill=(9, 105, 218, 255))
    pen.ellipse((s * 0.25, s * 0.2, s * 0.75, s * 0.8), fill=(255, 255, 255, 255))
    for x in (0.4, 0.6):
        pen.ellipse((s * x - s * 0.04, s * 0.42, s * x + s * 0.04, s * 0.5), fill=(9, 105, 218, 255))
    pen.arc((s * 0.38, s * 0.5, s * 0.62, s * 0.68), 20, 160, fill=(9, 105, 218, 255), width=max(1, s // 24))
    return image
