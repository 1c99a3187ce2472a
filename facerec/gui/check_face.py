"""Check face: capture or open a photo; every face boxed with its name and similarity, and a history."""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import simpledialog, ttk

import numpy as np
from PIL import Image

from facerec.errors import counted
from facerec.gui.drawing import BLUE, GREEN, GREY, Overlay
from facerec.gui.widgets import Tooltip, fit_headings, scrolled_table, set_busy
from facerec.gui.window import PAD, Window, WindowHost, as_image_bytes
from facerec.service import AddResult, CheckedFace

RECHECK_AFTER_MS = 300  # a threshold held this long is the one wanted: check the picture again


def overlays_for(faces: list[CheckedFace], picked: int | None = None) -> list[Overlay]:
    """Names over faces: blue with the similarity, grey for Unknown; the face picked in green."""
    return [Overlay(f.box, label(f), GREEN if i == picked else BLUE if f.name else GREY) for i, f in enumerate(faces)]


def history_similarity(face: CheckedFace) -> str:
    """The history's similarity column: the match's, or the nearest enrolled face's for an unknown one."""
    if face.name:
        return f"{face.similarity:.1f}"
    return f"best {face.best:.0f}" if face.best else ""


def label(face: CheckedFace) -> str:
    """ "Name · 97.3%", or "Unknown · best 78%" so that a user sees how far the nearest enrolled face is."""
    if face.name:
        return f"{face.name} · {face.similarity:.1f}%"
    return f"Unknown · best {face.best:.0f}%" if face.best is not None else "Unknown"


class CheckFaceWindow(Window):
    title_text = "Check face"

    def __init__(self, app: WindowHost) -> None:
        super().__init__(app, "1000x640")
        self._image: bytes | np.ndarray | None = None
        self._picture: Image.Image | np.ndarray | None = None
        self._pending: tuple[bytes | np.ndarray, Image.Image | np.ndarray] | None = None
        self._checking = False
        self.results: list[CheckedFace] = []
        self.picked: int | None = None  # the face clicked in the results
        self._naming = False
        self._recheck_job: str | None = None
        # The history's rows for the picture checked last: a re-check of it (the threshold moved) replaces them.
        self._history_picture: Image.Image | np.ndarray | None = None
        self._history_rows: list[str] = []
        self._build()
        self.focus_set()  # Space captures until a control takes the focus

    def _build(self) -> None:
        side = self.preview_with_sidebar()
        side.rowconfigure(8, weight=1)

        self.capture_button = ttk.Button(side, text="Capture (Space)", command=self.capture, state="disabled")
        self.capture_button.grid(row=0, column=0, sticky="ew", pady=(0, 4))
        Tooltip(self.capture_button, "Freeze the camera picture and say who is in it (Space)")
        self.open_button = ttk.Button(side, text="Open image…", command=self.open_file)
        self.open_button.grid(row=1, column=0, sticky="ew", pady=4)
        Tooltip(self.open_button, "Check a photo file instead of the camera")
        self.camera_button = ttk.Button(side, text="Back to camera", command=self.back_to_camera)
        self.camera_button.grid(row=2, column=0, sticky="ew", pady=4)
        Tooltip(self.camera_button, "Unfreeze the preview")
        self.name_button = ttk.Button(side, text="Add name…", command=self.add_name, state="disabled")
        self.name_button.grid(row=3, column=0, sticky="ew", pady=4)
        Tooltip(self.name_button, "Enrol the Unknown face under a name; click a face first to pick it (Ctrl+N)")

        self.threshold = tk.DoubleVar(value=self.app.settings.match_threshold)
        self.threshold_label = ttk.Label(side)
        self.threshold_label.grid(row=4, column=0, sticky="w", pady=(PAD, 0))
        self.threshold_scale = scale = ttk.Scale(
            side, from_=50, to=99, variable=self.threshold, command=self._threshold_moved
        )
        scale.grid(row=5, column=0, sticky="ew")
        Tooltip(scale, "How similar a face must be to count as a match; 80 is Rekognition's default")
        self._show_threshold()

        self.progress = ttk.Progressbar(side, mode="determinate")
        self.progress.grid(row=6, column=0, sticky="ew", pady=(PAD, 4))
        ttk.Label(side, text="History").grid(row=7, column=0, sticky="w", pady=(PAD // 2, 0))
        frame, self.history = scrolled_table(side, columns=("time", "name", "similarity"), show="headings", height=10)
        for column, heading, width in (("time", "Time", 70), ("name", "Name", 150), ("similarity", "Similarity", 80)):
            self.history.heading(column, text=heading)
            self.history.column(column, width=width, anchor="w")
        fit_headings(self.history)
        frame.grid(row=8, column=0, sticky="nsew")
        self.bind_capture_keys(self.capture)
        self.bind("<Control-n>", lambda _e: self.add_name())
        self._update_controls()

    def picture_changed(self, by_camera: bool = False) -> None:
        super().picture_changed(by_camera)
        self._update_controls()

    def _update_controls(self) -> None:
        self.capture_button.state(["!disabled"] if self.preview.live else ["disabled"])
        self.camera_button.state(
            ["!disabled"] if self.preview.still is not None and self._has_camera() else ["disabled"]
        )
        self.name_button.state(["!disabled"] if self.unknown_face() is not None else ["disabled"])

    def _has_camera(self) -> bool:
        return self.app.camera.state.live

    def _show_threshold(self) -> None:
        self.threshold_label.configure(text=f"Match threshold: {self.threshold.get():.0f}")

    def _threshold_moved(self, *_: object) -> None:
        """The slider moved, by mouse or keys: the picture is checked again once it rests."""
        self._show_threshold()
        if self._recheck_job is not None:
            self.after_cancel(self._recheck_job)
        self._recheck_job = self.after(RECHECK_AFTER_MS, self._threshold_rested)

    def _threshold_rested(self) -> None:
        self._recheck_job = None
        self.recheck()

    def capture(self) -> None:
        frame = self.preview.latest_frame()
        if frame is None:
            self.status.say("No camera picture to capture: use “Open image…”", error=True, about_camera=True)
            return
        self.preview.show_still(Image.fromarray(frame.pixels))
        self.check(frame.pixels, frame.pixels)

    def back_to_camera(self) -> None:
        """The camera again: the last check's answer is about a picture no longer shown."""
        self.results, self.picked = [], None
        self.preview.show_live()
        self.status.say("")

    def opening_failed(self, error: BaseException) -> None:
        if self.preview.still is not None:
            self.back_to_camera()
        super().opening_failed(error)

    def open_file(self) -> None:
        self.open_image(self._opened)

    def _opened(self, data: bytes, image: Image.Image) -> None:
        self.preview.show_still(image)
        self.check(data, image)

    def recheck(self) -> None:
        if self._image is not None and self.preview.still is not None:
            self.check(self._image, self._picture)

    def check(self, image: bytes | np.ndarray, picture: Image.Image | np.ndarray) -> None:
        """Check a file's bytes or a camera frame's pixels off the main thread; `picture` is what is shown.

        A check asked for while another runs waits for it, so that the last picture is always the one checked.
        """
        if self.service is None:
            return
        if self._checking:
            self._pending = (image, picture)
            return
        self._image, self._picture = image, picture
        self._checking = True
        set_busy(self.progress, True)
        self.status.say("Checking…")
        threshold = float(self.threshold.get())
        self.run(
            lambda: (picture, self.service.check(as_image_bytes(image), threshold)), self._checked, self._check_failed
        )

    def _checked(self, checked: tuple[Image.Image | np.ndarray, list[CheckedFace]]) -> None:
        picture, faces = checked
        self._done()
        if self._check_pending():
            return
        self.results, self.picked = faces, None
        self.preview.set_overlays(overlays_for(faces), picture)
        self._update_controls()
        if not faces:
            self.status.say("No face found in the picture.", error=True)
            return
        self._record(picture, faces)
        names = ", ".join(label(f) for f in faces)
        self.status.say(f"{counted(len(faces), 'face')}: {names}")

    def _record(self, picture: Image.Image | np.ndarray, faces: list[CheckedFace]) -> None:
        """The check's rows at the top of the history, in place of the rows of an earlier check of this picture."""
        if picture is self._history_picture:
            self.history.delete(*(row for row in self._history_rows if self.history.exists(row)))
        now = time.strftime("%H:%M:%S")
        self._history_picture = picture
        self._history_rows = [
            self.history.insert("", 0, values=(now, face.name or "Unknown", history_similarity(face))) for face in faces
        ]

    # From a result to a name

    def face_clicked(self, index: int) -> None:
        self.picked = index
        face = self.results[index]
        self.preview.set_overlays(overlays_for(self.results, picked=index), self.preview.still)
        self._update_controls()
        if face.name is None:
            self.status.say(f"Picked {label(face)}: “Add name…” (Ctrl+N) enrols this face")
        else:
            self.status.say(f"Picked {label(face)}")

    def unknown_face(self) -> CheckedFace | None:
        """The face Add name enrols: the one picked if it is Unknown, else the largest Unknown one."""
        if self._naming or self._image is None or self.preview.still is None:
            return None
        if self.picked is not None:
            face = self.results[self.picked]
            return face if face.name is None else None
        return next((f for f in self.results if f.name is None), None)

    def ask_name(self) -> str | None:
        """The name typed for the Unknown face, or None when cancelled; tests replace this method."""
        return simpledialog.askstring("Add name", "Name of this person:", parent=self)

    def add_name(self) -> None:
        face = self.unknown_face()
        name = self.ask_name() if face is not None else None
        if not name:
            return
        image, box = self._image, face.box
        self._naming = True
        self._update_controls()
        self.status.say(f"Adding {name.strip()}…")
        self.enrol(name, image, box, self._named, self._named_failed)

    def _named(self, result: AddResult) -> None:
        self._naming = False
        self.app.enrolment_changed()
        if not (result.ok or result.pending):
            self._naming = False
            self._update_controls()
            self.status.say(f"Not added: {result.message}", error=True)
            return
        self.status.say(f"Added {result.name}" if result.ok else f"{result.name}: {result.message}")
        self._update_controls()
        self.recheck()  # the face has its name now

    def _named_failed(self, error: BaseException) -> None:
        self._naming = False
        self._update_controls()
        self.app.show_error(error, self.status)

    def _check_failed(self, error: BaseException) -> None:
        self._done()
        if not self._check_pending():
            self.app.show_error(error, self.status)

    def _check_pending(self) -> bool:
        """Check the picture asked for meanwhile, if any (the result just in is for an older one)."""
        if self._pending is None:
            return False
        pending, self._pending = self._pending, None
        self.check(*pending)
        return True

    def _done(self) -> None:
        self._checking = False
        set_busy(self.progress, False)

    def close(self) -> None:
        if self._recheck_job is not None:
            self.after_cancel(self._recheck_job)
        super().close()
