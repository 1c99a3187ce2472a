"""Frames from a camera, a video file or a stream, read on a worker thread.

The reader keeps only the latest frame: the preview shows the newest picture
and recognition takes the newest picture, so nothing queues up behind a slow
consumer. A video file plays at its own frame rate and loops, which is how the
tests and the screenshots stand in for a webcam.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAME_SIZE = (640, 480)
FAILED_READS_BEFORE_LOST = 30


@dataclass(frozen=True)
class Frame:
    pixels: np.ndarray  # RGB uint8 (height, width, 3)
    number: int
    time: float


@dataclass(frozen=True)
class CameraState:
    live: bool
    message: str  # what to tell the user: "Camera 0", "No camera: ...", "The camera stopped delivering frames"


def describe_source(source: int | str) -> str:
    return f"camera {source}" if isinstance(source, int) else str(source)


class Camera:
    """Reads `source` (a device index, a video file or a stream URL) on a daemon thread."""

    def __init__(self, source: int | str, size: tuple[int, int] = FRAME_SIZE) -> None:
        self.source = source
        self.size = size
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._state = CameraState(False, f"Opening {describe_source(source)}...")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Camera:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="camera", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def latest(self) -> Frame | None:
        with self._lock:
            return self._frame

    @property
    def state(self) -> CameraState:
        with self._lock:
            return self._state

    def wait_for_frame(self, timeout: float = 5.0) -> Frame | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (frame := self.latest()) is not None or self._thread is None or not self._thread.is_alive():
                return frame
            time.sleep(0.01)
        return self.latest()

    def _set_state(self, live: bool, message: str) -> None:
        with self._lock:
            self._state = CameraState(live, message)

    def _run(self) -> None:
        import cv2

        capture = self._open(cv2)
        if capture is None:
            return
        is_file = isinstance(self.source, str) and Path(self.source).is_file()
        period = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or 30.0) if is_file else 0.0
        failures, number = 0, 0
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                ok, bgr = capture.read()
                if not ok and is_file:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)  # loop the video
                    ok, bgr = capture.read()
                if not ok:
                    failures += 1
                    if failures >= FAILED_READS_BEFORE_LOST:
                        self._set_state(False, f"The {describe_source(self.source)} stopped delivering frames.")
                        return
                    time.sleep(0.05)
                    continue
                failures, number = 0, number + 1
                self._publish(cv2, bgr, number)
                if period:
                    next_due += period
                    time.sleep(max(0.0, next_due - time.monotonic()))
        finally:
            capture.release()

    def _open(self, cv2):
        # OpenCV prints a warning per failed device probe; the window says it in words instead.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        if isinstance(self.source, str) and "://" not in self.source and not Path(self.source).exists():
            self._set_state(False, f"No camera: {self.source} does not exist.")
            return None
        capture = cv2.VideoCapture(self.source)
        if not capture.isOpened():
            capture.release()
            self._set_state(False, f"No camera: {describe_source(self.source)} could not be opened.")
            return None
        if isinstance(self.source, int):
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        self._set_state(True, f"Live: {describe_source(self.source)}")
        return capture

    def _publish(self, cv2, bgr: np.ndarray, number: int) -> None:
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        with self._lock:
            self._frame = Frame(rgb, number, time.monotonic())


def write_video(path: Path, images: list[np.ndarray], seconds_each: float = 1.0, fps: int = 15) -> Path:
    """A video of RGB images, each shown `seconds_each`: a stand-in webcam for tests and screenshots."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, FRAME_SIZE)
    try:
        for image in images:
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            for _ in range(max(1, round(seconds_each * fps))):
                writer.write(bgr)
    finally:
        writer.release()
    return path
