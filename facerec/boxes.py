"""Face boxes, one type per coordinate system, and the conversions between them.

`PixelBox` is in pixels of an upright image (what the face code finds), `RatioBox` in ratios of the
image's width and height (what Rekognition reports as BoundingBox, what the store keeps and what the
windows draw at any size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class PixelBox:
    """A box in pixels of the (EXIF-oriented) image; right and bottom are exclusive."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return self.width * self.height

    def ratios(self, width: int, height: int) -> RatioBox:
        """The same box in ratios of a `width` x `height` image."""
        return RatioBox(self.left / width, self.top / height, self.width / width, self.height / height)


@dataclass(frozen=True)
class RatioBox:
    """A box in ratios of the image's width and height, as Rekognition gives it."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def from_aws(cls, box: dict) -> RatioBox:
        return cls(box["Left"], box["Top"], box["Width"], box["Height"])

    def to_aws(self) -> dict:
        return {"Width": self.width, "Height": self.height, "Left": self.left, "Top": self.top}

    def pixels(self, width: int, height: int) -> PixelBox:
        """The same box in pixels of a `width` x `height` image."""
        return PixelBox(
            self.left * width, self.top * height, (self.left + self.width) * width, (self.top + self.height) * height
        )

    def grown(self, margin: float) -> RatioBox:
        """The box grown by `margin` box-widths and -heights on each side."""
        return RatioBox(
            self.left - margin * self.width,
            self.top - margin * self.height,
            self.width * (1 + 2 * margin),
            self.height * (1 + 2 * margin),
        )

    def crop(self, image: Image.Image, margin: float) -> Image.Image:
        """The box's part of the image, grown by `margin` box-widths and -heights on each side."""
        w, h = image.size
        box = self.grown(margin).pixels(w, h)
        return image.crop(
            (max(0, int(box.left)), max(0, int(box.top)), min(w, int(box.right)), min(h, int(box.bottom)))
        )
