"""Pictures for the windows: frames with face boxes and names drawn over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GREEN = (46, 160, 67)
RED = (207, 34, 46)
BLUE = (9, 105, 218)
GREY = (110, 119, 129)


@dataclass(frozen=True)
class Overlay:
    """A box in ratios of the picture's size, with a label and a colour."""

    left: float
    top: float
    width: float
    height: float
    label: str
    color: tuple[int, int, int]


def font(size: int = 18) -> ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "Arial.ttf", "LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def draw(pixels: np.ndarray | Image.Image, overlays: list[Overlay], size: tuple[int, int] | None = None) -> Image.Image:
    """The picture scaled to fit `size` with every overlay drawn."""
    image = pixels.copy() if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    image = image.convert("RGB")
    if size is not None:
        image.thumbnail(size, Image.BILINEAR)
    pen = ImageDraw.Draw(image)
    text_font = font(max(12, image.width // 40))
    for o in overlays:
        box = (
            o.left * image.width,
            o.top * image.height,
            (o.left + o.width) * image.width,
            (o.top + o.height) * image.height,
        )
        pen.rectangle(box, outline=o.color, width=3)
        if o.label:
            left, top, right, bottom = pen.textbbox((box[0], box[1]), o.label, font=text_font)
            label_top = box[1] - (bottom - top) - 8 if box[1] > (bottom - top) + 8 else box[3]
            pen.rectangle(
                (box[0], label_top, box[0] + (right - left) + 10, label_top + (bottom - top) + 8), fill=o.color
            )
            pen.text((box[0] + 5, label_top + 2), o.label, fill=(255, 255, 255), font=text_font)
    return image


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
