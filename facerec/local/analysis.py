"""The engine's memory of the images it analysed lately, so that one image is analysed once.

A program written for Rekognition sends the same bytes more than once for one user action:
DetectFaces to draw the boxes, then SearchFacesByImage on the same photo; IndexFaces of a photo
that DetectFaces judged a moment ago. Each would run the detector and the descriptor again on the
same pixels. The cache keys an analysis by the SHA-256 of the image's bytes, so equal bytes give
the same answer as a fresh analysis would, and concurrent requests for one image wait for the
first one's analysis instead of running their own.

It is bounded by images and by pixels (a few large photos must not pin gigabytes), and holds face
descriptors, which are biometric data: the engine empties it whenever faces or collections are
deleted, so that nothing of a deleted face outlives its deletion in memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from facerec import faces as facelib

# The analyses kept at once, for the engine's next call on the same bytes: at most this many images and
# pixels in all (some 50 MB of decoded RGB). Not a limit on one image's size: that is faces.MAX_PIXELS.
CACHED_IMAGES = 16
CACHED_PIXELS = 16_000_000


@dataclass(frozen=True)
class Analysis:
    """A decoded image and every face in it, largest first, described."""

    picture: facelib.Picture
    faces: list[facelib.Face]

    @property
    def pixels(self) -> int:
        return self.picture.width * self.picture.height


class AnalysisCache:
    """Analyses of recent images by the hash of their bytes, least recently used dropped first."""

    def __init__(self, max_images: int = CACHED_IMAGES, max_pixels: int = CACHED_PIXELS) -> None:
        self.max_images = max_images
        self.max_pixels = max_pixels
        self._done: OrderedDict[str, Analysis] = OrderedDict()
        self._running: dict[str, Future] = {}
        self._generation = 0  # moves on at each forget_all: an analysis begun before it is not kept
        self._lock = threading.Lock()

    def analysis(self, data: bytes, analyse: Callable[[bytes], Analysis]) -> Analysis:
        """The analysis of `data`: remembered, awaited from a request analysing it now, or made by `analyse`.

        An exception from `analyse` reaches every request waiting for it and is not remembered.
        """
        key = hashlib.sha256(data).hexdigest()
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
            running = self._running.get(key)
            if running is None:
                mine = self._running[key] = Future()
                generation = self._generation
        if running is not None:
            return running.result()
        try:
            made = analyse(data)
        except BaseException as exc:
            with self._lock:
                del self._running[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            del self._running[key]
            if generation == self._generation:
                self._remember(key, made)
        mine.set_result(made)
        return made

    def forget_all(self) -> None:
        """Drop every remembered analysis (faces were deleted: their descriptors go too)."""
        with self._lock:
            self._done.clear()
            self._generation += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._done)

    def _remember(self, key: str, made: Analysis) -> None:
        if made.pixels > self.max_pixels:
            return
        self._done[key] = made
        while len(self._done) > self.max_images or sum(a.pixels for a in self._done.values()) > self.max_pixels:
            self._done.popitem(last=False)
