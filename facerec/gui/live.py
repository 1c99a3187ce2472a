"""Live: names drawn over faces on the camera preview, recognised continuously but never faster than it can."""

from __future__ import annotations

import time
from tkinter import ttk

from facerec.camera import Frame
from facerec.gui.check_face import label, overlays_for
from facerec.gui.drawing import same_scene, scene
from facerec.gui.widgets import Preview
from facerec.gui.window import PAD, Window, jpeg_bytes
from facerec.service import CheckedFace

# At most this many checks a second, and never two at once: the preview's own
# frames always come first.
MIN_INTERVAL_S = 0.3
# Names of a picture older than this are taken off the preview rather than drawn over someone else.
STALE_S = 0.8
RECOGNISING = "Recognising…"


class LiveWindow(Window):
    title_text = "Live"

    def __init__(self, app) -> None:
        super().__init__(app, "700x600")
        body = ttk.Frame(self, padding=PAD)
        body.pack(fill="both", expand=True)
        # Live has only the camera: no "Open image…" to point to when there is none.
        self.preview = Preview(body, self.app.camera, fallback=None, on_change=self.picture_changed)
        self.preview.pack(fill="both", expand=True)
        self.checks_done = 0
        self.results: list[CheckedFace] = []
        self._busy = False
        self._last = 0.0
        self._last_frame = -1
        self._result_time = 0.0
        self._loop = self.after(50, self._tick)

    def _tick(self) -> None:
        self._loop = self.after(50, self._tick)
        frame = self.preview.latest_frame()
        if frame is not None and self.preview.overlays and frame.time - self._result_time > STALE_S:
            self.preview.clear_overlays()
            self.status.say(RECOGNISING)
        if frame is None or self._busy or self.service is None:
            return
        if time.monotonic() - self._last < MIN_INTERVAL_S or frame.number == self._last_frame:
            return
        self._busy = True
        self._last = time.monotonic()
        self._last_frame = frame.number
        threshold = self.app.settings.match_threshold
        self.run(lambda: (frame, self.service.check(jpeg_bytes(frame.pixels), threshold)), self._checked, self._failed)

    @property
    def fresh(self) -> bool:
        """Do the names on screen belong to a picture of the last moment?"""
        frame = self.preview.latest_frame()
        return frame is not None and frame.time - self._result_time <= MIN_INTERVAL_S + 0.1

    def picture_changed(self, by_camera: bool = False) -> None:
        super().picture_changed(by_camera)
        self.status.say(RECOGNISING if self.preview.live else "")

    def _checked(self, checked: tuple[Frame, list[CheckedFace]]) -> None:
        frame, faces = checked
        self._result_time = frame.time
        self._busy = False
        self.checks_done += 1
        latest = self.preview.latest_frame()
        if latest is None or not same_scene(scene(frame.pixels), scene(latest.pixels)):
            self.results = []
            self.status.say(RECOGNISING)  # the scene changed while it was checked: the names are of nobody here
            return
        self.results = faces
        self.preview.set_overlays(overlays_for(faces), frame.pixels)
        self.status.say(", ".join(label(f) for f in faces) or "No face in view")

    def _failed(self, error: BaseException) -> None:
        self._busy = False
        self.app.show_error(error, self.status)

    def close(self) -> None:
        self.after_cancel(self._loop)
        super().close()
