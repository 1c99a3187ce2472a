"""Live: names drawn over faces on the camera preview, recognised continuously but never faster than it can."""

from __future__ import annotations

import time
from tkinter import simpledialog, ttk

import numpy as np

from facerec.camera import Frame
from facerec.gui.check_face import label, overlays_for
from facerec.gui.drawing import same_scene, scene
from facerec.gui.widgets import Preview, Tooltip
from facerec.gui.window import PAD, Window, WindowHost, jpeg_bytes
from facerec.service import AddResult, CheckedFace

# At most this many checks a second, and never two at once: the preview's own
# frames always come first.
MIN_INTERVAL_S = 0.3
# Names of a picture older than this are taken off the preview rather than drawn over someone else.
STALE_S = 0.8
RECOGNISING = "Recognising…"


class LiveWindow(Window):
    title_text = "Live"

    def __init__(self, app: WindowHost) -> None:
        super().__init__(app, "700x600")
        body = ttk.Frame(self, padding=PAD)
        body.pack(fill="both", expand=True)
        # Live has only the camera: no "Open image…" to point to when there is none.
        self.preview = Preview(body, self.app.camera, fallback=None, on_change=self.picture_changed)
        # The button first, at the bottom, so that a short window shortens the preview, not it.
        self.name_button = ttk.Button(body, text="Add name… (Ctrl+N)", command=self.add_name, state="disabled")
        self.name_button.pack(side="bottom", anchor="w", pady=(PAD, 0))
        Tooltip(self.name_button, "Enrol the Unknown face in view under a name (Ctrl+N)")
        self.preview.pack(fill="both", expand=True)
        self.bind("<Control-n>", lambda _e: self.add_name())
        self.checks_done = 0
        self.results: list[CheckedFace] = []
        self._result_pixels: np.ndarray | None = None  # the frame the results are of
        self._naming = False
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
        self._update_controls()
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
        self.results, self._result_pixels = faces, frame.pixels
        self.preview.set_overlays(overlays_for(faces), frame.pixels)
        self.status.say(", ".join(label(f) for f in faces) or "No face in view")

    # From a face in view to a name

    def unknown_face(self) -> CheckedFace | None:
        """The largest Unknown face of the names on screen, if they are of the picture in view."""
        if self._naming or not self.preview.overlays:
            return None
        return next((f for f in self.results if f.name is None), None)

    def _update_controls(self) -> None:
        self.name_button.state(["!disabled"] if self.unknown_face() is not None else ["disabled"])

    def ask_name(self) -> str | None:
        """The name typed for the Unknown face, or None when cancelled; tests replace this method."""
        return simpledialog.askstring("Add name", "Name of this person:", parent=self)

    def add_name(self) -> None:
        face, pixels = self.unknown_face(), self._result_pixels
        name = self.ask_name() if face is not None else None
        if not name:
            return
        self._naming = True
        self._update_controls()
        self.status.say(f"Adding {name.strip()}…")
        self.enrol(name, pixels, face.box, self._named, self._named_failed)

    def _named(self, result: AddResult) -> None:
        self._naming = False
        self.app.enrolment_changed()
        if result.ok or result.pending:
            self.status.say(f"Added {result.name}" if result.ok else f"{result.name}: {result.message}")
        else:
            self.status.say(f"Not added: {result.message}", error=True)

    def _named_failed(self, error: BaseException) -> None:
        self._naming = False
        self.app.show_error(error, self.status)

    def _failed(self, error: BaseException) -> None:
        self._busy = False
        self.app.show_error(error, self.status)

    def close(self) -> None:
        self.after_cancel(self._loop)
        super().close()
