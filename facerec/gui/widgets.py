"""Widgets the windows share: the camera preview and a status line."""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk

import numpy as np
from PIL import Image, ImageTk

from facerec.camera import Camera, Frame
from facerec.gui.drawing import Overlay, draw

PREVIEW_SIZE = (640, 480)
REFRESH_MS = 15


class Preview(ttk.Frame):
    """Shows the camera live, or a still picture, with overlays drawn over faces."""

    def __init__(self, master: tk.Misc, camera: Camera | None, size: tuple[int, int] = PREVIEW_SIZE) -> None:
        super().__init__(master)
        self.camera = camera
        self.size = size
        self.overlays: list[Overlay] = []
        self.still: Image.Image | None = None
        self.frames_shown = 0
        self._shown_number = -1
        self._photo: ImageTk.PhotoImage | None = None
        self._label = ttk.Label(self, anchor="center", background="#1f2328", foreground="white")
        self._label.pack(fill="both", expand=True)
        self._placeholder(self._camera_message())
        self._job = self.after(REFRESH_MS, self._refresh)

    @property
    def message(self) -> str:
        """What the preview says in words instead of a picture ("" while it shows one)."""
        return str(self._label.cget("text"))

    @property
    def live(self) -> bool:
        return self.still is None and self.camera is not None and self.camera.state.live

    def latest_frame(self) -> Frame | None:
        return self.camera.latest() if self.camera and self.still is None else None

    def show_still(self, image: Image.Image) -> None:
        """Freeze on a picture (a capture or an opened file) until `show_live`."""
        self.still = image.convert("RGB")
        self.overlays = []
        self._render(self.still)

    def show_live(self) -> None:
        self.still = None
        self.overlays = []
        self._shown_number = -1

    def set_overlays(self, overlays: list[Overlay]) -> None:
        self.overlays = overlays
        if self.still is not None:
            self._render(self.still)

    def destroy(self) -> None:
        self.after_cancel(self._job)
        super().destroy()

    def _refresh(self) -> None:
        self._job = self.after(REFRESH_MS, self._refresh)
        if self.still is not None or self.camera is None:
            return
        frame = self.camera.latest()
        if frame is None or not self.camera.state.live:
            self._placeholder(self._camera_message())
            return
        if frame.number != self._shown_number:
            self._shown_number = frame.number
            self._render(frame.pixels)

    def _camera_message(self) -> str:
        state = self.camera.state if self.camera else None
        if state is not None and state.live:
            return state.message
        reason = state.message if state else "No camera."
        return f"{reason}\nUse “Open image…” to pick a photo instead."

    def _render(self, pixels: np.ndarray | Image.Image) -> None:
        self._photo = ImageTk.PhotoImage(draw(pixels, self.overlays, self.size))
        self._label.configure(image=self._photo, text="")
        self.frames_shown += 1

    def _placeholder(self, message: str) -> None:
        if self._label.cget("text") != message:
            self._photo = ImageTk.PhotoImage(Image.new("RGB", self.size, (31, 35, 40)))
            self._label.configure(image=self._photo, text=message, compound="center", wraplength=self.size[0] - 40)


class StatusLine(ttk.Label):
    """One line of news for the user; errors in red."""

    normal_colour = ""

    def __init__(self, master: tk.Misc, text: str = "") -> None:
        super().__init__(master, text=text, anchor="w", padding=(8, 4))
        self.changed_at = time.monotonic()

    def say(self, text: str, error: bool = False) -> None:
        self.configure(text=text, foreground="#cf222e" if error else "")
        self.changed_at = time.monotonic()

    @property
    def text(self) -> str:
        return str(self.cget("text"))


def set_busy(bar: ttk.Progressbar, busy: bool) -> None:
    """An indeterminate bar while busy; an empty, still one otherwise (a stopped indeterminate bar shows a block)."""
    if busy:
        bar.configure(mode="indeterminate")
        bar.start(12)
    else:
        bar.stop()
        bar.configure(mode="determinate", value=0)
