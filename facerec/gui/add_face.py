"""Add face: a live preview that judges the face, a name, Capture; the upload runs off the main thread."""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk

import numpy as np
from tktooltip import ToolTip

from facerec.errors import InvalidName
from facerec.gui.hints import Hint, enrolment_hint
from facerec.gui.widgets import set_busy
from facerec.gui.window import Window, as_image_bytes
from facerec.service import AddResult, validate_name

HINT_EVERY_S = 0.25


class AddFaceWindow(Window):
    title_text = "Add face"

    def __init__(self, app) -> None:
        super().__init__(app, "960x620")
        self.hint = Hint(False, "Looking for a face…", ())
        self._hint_busy = False
        self._hint_frame = -1
        self._last_hint = 0.0
        self._adding = False
        self._still: tuple[bytes, np.ndarray] | None = None
        self.added: list[AddResult] = []
        self._build()
        self._loop = self.after(50, self._tick)

    def _build(self) -> None:
        side = self.preview_with_sidebar()

        ttk.Label(side, text="Name").pack(anchor="w")
        self.name = tk.StringVar()
        self.name_entry = ttk.Entry(side, textvariable=self.name, width=28)
        self.name_entry.pack(fill="x", pady=(2, 2))
        ToolTip(self.name_entry, msg="The person's name, as it will be shown", delay=0.5)
        self.name_note = ttk.Label(side, text="", foreground="#cf222e", wraplength=220)
        self.name_note.pack(anchor="w")
        self.name.trace_add("write", lambda *_: self._update_controls())

        self.capture_button = ttk.Button(side, text="Capture (Enter)", command=self.capture, state="disabled")
        self.capture_button.pack(fill="x", pady=(12, 4))
        ToolTip(self.capture_button, msg="Enrol the face in view under this name (Space or Enter)", delay=0.5)
        self.open_button = ttk.Button(side, text="Open image…", command=self.open_file)
        self.open_button.pack(fill="x", pady=4)
        ToolTip(self.open_button, msg="Enrol from a photo file instead of the camera", delay=0.5)
        self.camera_button = ttk.Button(side, text="Back to camera", command=self.back_to_camera, state="disabled")
        self.camera_button.pack(fill="x", pady=4)
        ToolTip(self.camera_button, msg="Leave the opened photo and use the camera again", delay=0.5)
        self.progress = ttk.Progressbar(side, mode="determinate")
        self.progress.pack(fill="x", pady=(12, 4))
        self.hint_label = ttk.Label(side, text=self.hint.message, wraplength=220)
        self.hint_label.pack(anchor="w", pady=4)
        ttk.Label(side, text="Added in this window").pack(anchor="w", pady=(12, 0))
        self.log = tk.Listbox(side, height=8)
        self.log.pack(fill="both", expand=True)
        for key in ("<space>", "<Return>"):
            self.bind(key, self._capture_key)
        self.name_entry.focus_set()

    # The preview's judgement, refreshed off the main thread

    def _tick(self) -> None:
        self._loop = self.after(50, self._tick)
        frame = self.preview.latest_frame()
        due = time.monotonic() - self._last_hint >= HINT_EVERY_S
        if frame is not None and not self._hint_busy and due and frame.number != self._hint_frame:
            self._hint_busy = True
            self._hint_frame = frame.number
            self._last_hint = time.monotonic()
            self.run(lambda: enrolment_hint(frame.pixels), self._show_hint, self._hint_failed)

    def _show_hint(self, hint: Hint) -> None:
        self._hint_busy = False
        if not self.winfo_exists():
            return
        self.hint = hint
        self.preview.set_overlays(list(hint.overlays))
        self.hint_label.configure(text=hint.message, foreground="" if hint.ok else "#cf222e")
        self._update_controls()

    def _hint_failed(self, error: BaseException) -> None:
        self._hint_busy = False
        self.app.show_error(error, self.status)

    def _update_controls(self) -> None:
        try:
            validate_name(self.name.get())
            self.name_note.configure(text="")
            name_ok = True
        except InvalidName as exc:
            self.name_note.configure(text=str(exc) if self.name.get() else "")
            name_ok = False
        ready = name_ok and self.hint.ok and not self._adding and self.service is not None
        self.capture_button.state(["!disabled"] if ready else ["disabled"])

    # Capture and add

    def _capture_key(self, event: tk.Event) -> str | None:
        if event.widget is self.name_entry and event.keysym == "space":
            return None  # a space in a name is a space
        self.capture()
        return "break"

    def capture(self) -> None:
        if self.capture_button.instate(["disabled"]):
            return
        if self._still is not None:
            picture = self._still[0]
        else:
            frame = self.preview.latest_frame()
            if frame is None:
                return
            picture = frame.pixels
        name = self.name.get()
        self._adding = True
        self._update_controls()
        set_busy(self.progress, True)
        self.status.say(f"Adding {name.strip()}…")
        self.run(lambda: self.service.add(name, as_image_bytes(picture)), self._added, self._add_failed)

    def _added(self, result: AddResult) -> None:
        self._finish_adding()
        self.added.append(result)
        if result.ok:
            self.status.say(f"Added {result.name}")
            self.log.insert("end", f"✓ {result.name}")
        else:
            self.status.say(f"Not added: {result.message}", error=True)
            self.log.insert("end", f"✗ {result.name}: {result.message}")
        self.app.refresh_health()

    def _add_failed(self, error: BaseException) -> None:
        self._finish_adding()
        self.app.show_error(error, self.status)

    def _finish_adding(self) -> None:
        self._adding = False
        if self.winfo_exists():
            set_busy(self.progress, False)
            self._update_controls()

    # A photo file instead of the camera

    def open_file(self) -> None:
        self.open_image(self._opened)

    def _opened(self, data: bytes, image) -> None:
        pixels = np.asarray(image)
        self._still = (data, pixels)
        self.preview.show_still(image)
        self.camera_button.state(["!disabled"])
        self.status.say("Photo opened: type the name and press Capture")
        self._hint_busy = True
        self.run(lambda: enrolment_hint(pixels), self._show_hint, self._hint_failed)

    def back_to_camera(self) -> None:
        self._still = None
        self.preview.show_live()
        self.camera_button.state(["disabled"])
        self.hint = Hint(False, "Looking for a face…", ())
        self._update_controls()

    def close(self) -> None:
        self.after_cancel(self._loop)
        super().close()
