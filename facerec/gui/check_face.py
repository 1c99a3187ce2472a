"""Check face: capture or open a photo; every face boxed with its name and similarity, and a history."""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk

import numpy as np
from PIL import Image
from tktooltip import ToolTip

from facerec.gui.drawing import BLUE, GREY, Overlay
from facerec.gui.widgets import set_busy
from facerec.gui.window import Window, as_image_bytes
from facerec.service import CheckedFace


def overlays_for(faces: list[CheckedFace]) -> list[Overlay]:
    """Names over faces: blue with the similarity, grey for Unknown."""
    return [
        Overlay(f.box.left, f.box.top, f.box.width, f.box.height, label(f), BLUE if f.name else GREY) for f in faces
    ]


def label(face: CheckedFace) -> str:
    return f"{face.name} · {face.similarity:.1f}%" if face.name else "Unknown"


class CheckFaceWindow(Window):
    title_text = "Check face"

    def __init__(self, app) -> None:
        super().__init__(app, "1000x640")
        self._image: bytes | np.ndarray | None = None
        self._checking = False
        self.results: list[CheckedFace] = []
        self._build()

    def _build(self) -> None:
        side = self.preview_with_sidebar()
        side.rowconfigure(7, weight=1)

        self.capture_button = ttk.Button(side, text="Capture (Space)", command=self.capture)
        self.capture_button.grid(row=0, column=0, sticky="ew", pady=4)
        ToolTip(self.capture_button, msg="Freeze the camera picture and say who is in it (Space)", delay=0.5)
        self.open_button = ttk.Button(side, text="Open image…", command=self.open_file)
        self.open_button.grid(row=1, column=0, sticky="ew", pady=4)
        ToolTip(self.open_button, msg="Check a photo file instead of the camera", delay=0.5)
        self.camera_button = ttk.Button(side, text="Back to camera", command=self.preview.show_live)
        self.camera_button.grid(row=2, column=0, sticky="ew", pady=4)
        ToolTip(self.camera_button, msg="Unfreeze the preview", delay=0.5)

        self.threshold = tk.DoubleVar(value=self.app.settings.match_threshold)
        self.threshold_label = ttk.Label(side)
        self.threshold_label.grid(row=3, column=0, sticky="w", pady=(12, 0))
        scale = ttk.Scale(side, from_=50, to=99, variable=self.threshold, command=self._threshold_moved)
        scale.grid(row=4, column=0, sticky="ew")
        scale.bind("<ButtonRelease-1>", lambda _e: self.recheck())
        ToolTip(scale, msg="How similar a face must be to count as a match; 80 is Rekognition's default", delay=0.5)
        self._threshold_moved()

        self.progress = ttk.Progressbar(side, mode="determinate")
        self.progress.grid(row=5, column=0, sticky="ew", pady=(12, 4))
        ttk.Label(side, text="History").grid(row=6, column=0, sticky="w", pady=(8, 0))
        self.history = ttk.Treeview(side, columns=("time", "name", "similarity"), show="headings", height=10)
        for column, heading, width in (("time", "Time", 70), ("name", "Name", 150), ("similarity", "Similarity", 80)):
            self.history.heading(column, text=heading)
            self.history.column(column, width=width, anchor="w")
        self.history.grid(row=7, column=0, sticky="nsew")
        self.bind("<space>", lambda _e: self.capture())
        self.bind("<Return>", lambda _e: self.capture())

    def _threshold_moved(self, *_: object) -> None:
        self.threshold_label.configure(text=f"Match threshold: {self.threshold.get():.0f}")

    def capture(self) -> None:
        frame = self.preview.latest_frame()
        if frame is None:
            self.status.say("No camera picture to capture: use “Open image…”", error=True)
            return
        self.preview.show_still(Image.fromarray(frame.pixels))
        self.check(frame.pixels)

    def open_file(self) -> None:
        self.open_image(self._opened)

    def _opened(self, data: bytes, image: Image.Image) -> None:
        self.preview.show_still(image)
        self.check(data)

    def recheck(self) -> None:
        if self._image is not None and self.preview.still is not None:
            self.check(self._image)

    def check(self, picture: bytes | np.ndarray) -> None:
        """Check a file's bytes or a camera frame's pixels off the main thread."""
        if self._checking or self.service is None:
            return
        self._image = picture
        self._checking = True
        set_busy(self.progress, True)
        self.status.say("Checking…")
        threshold = float(self.threshold.get())
        self.run(lambda: self.service.check(as_image_bytes(picture), threshold), self._checked, self._check_failed)

    def _checked(self, faces: list[CheckedFace]) -> None:
        self._done()
        self.results = faces
        self.preview.set_overlays(overlays_for(faces))
        if not faces:
            self.status.say("No face found in the picture.", error=True)
            return
        now = time.strftime("%H:%M:%S")
        for face in faces:
            similarity = f"{face.similarity:.1f}" if face.similarity is not None else ""
            self.history.insert("", 0, values=(now, face.name or "Unknown", similarity))
        names = ", ".join(label(f) for f in faces)
        self.status.say(f"{len(faces)} face{'s' if len(faces) > 1 else ''}: {names}")

    def _check_failed(self, error: BaseException) -> None:
        self._done()
        self.app.show_error(error, self.status)

    def _done(self) -> None:
        self._checking = False
        if self.winfo_exists():
            set_busy(self.progress, False)
