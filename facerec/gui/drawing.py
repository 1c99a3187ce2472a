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


def face_at(overlays: list[Overlay], point: tuple[float, float]) -> int | None:
    """The overlay whose box holds the point (ratios of the picture): the smallest, where boxes overlap."""
    x, y = point
    holding = [
        (o.box.width * o.box.height, i)
        for i, o in enumerate(overlays)
        if o.box.left <= x <= o.box.left + o.box.width and o.box.top <= y <= o.box.top + o.box.height
    ]
    return min(holding)[1] if holding else None


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
    taken: list[Rect] = []
    for o in overlays:
        on_image = o.box.pixels(image.width, image.height)
        box = (on_image.left, on_image.top, on_image.right, on_image.bottom)
        pen.rectangle(box, outline=o.color, width=3)
        if o.label:
            text = fitting_text(pen, o.label, text_font, image.width - 2 * LABEL_PAD)
            left, top, right, bottom = pen.textbbox((0, 0), text, font=text_font)
            size = (right - left + 2 * LABEL_PAD, bottom - top + 8)
            rect = place_label(box, size, image.size, taken)
            taken.append(rect)
            pen.rectangle(rect, fill=o.color)
            pen.text((rect[0] + LABEL_PAD - left, rect[1] + 4 - top), text, fill=(255, 255, 255), font=text_font)
    return image


Rect = tuple[int, int, int, int]  # left, top, right, bottom
LABEL_PAD = 5


def fitting_text(pen: ImageDraw.ImageDraw, text: str, text_font: ImageFont.ImageFont, width: int) -> str:
    """The label, cut short with an ellipsis if the picture is narrower than it."""
    if pen.textlength(text, font=text_font) <= width:
        return text
    while len(text) > 1 and pen.textlength(text + "…", font=text_font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def place_label(box: Rect, size: tuple[int, int], picture: tuple[int, int], taken: list[Rect]) -> Rect:
    """Where a face's label goes: above its box, else below, else inside its top, always within the picture
    and, where there is room, clear of the labels already placed (faces side by side in a group photo)."""
    width, height = size
    left = min(max(0, box[0]), max(0, picture[0] - width))
    tops = [box[1] - height, box[3], box[1]]
    candidates = [top for top in tops if 0 <= top <= picture[1] - height] or [max(0, min(box[1], picture[1] - height))]
    step = max(1, height)
    for top in candidates + [candidates[0] + k * step for k in range(1, 8)]:
        top = min(max(0, top), max(0, picture[1] - height))
        rect = (left, top, left + width, top + height)
        if not any(overlaps(rect, other) for other in taken):
            return rect
    return (left, candidates[0], left + width, candidates[0] + height)


def overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


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
