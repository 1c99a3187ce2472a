"""Widgets the windows share: the camera preview, a status line, table headings that fit."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont
from tkinter import messagebox, ttk

import numpy as np
from PIL import Image, ImageTk
from tktooltip import ToolTip

from facerec.camera import Camera, Frame
from facerec.gui.drawing import Overlay, draw, face_at, fit, same_scene, scene

PREVIEW_BACKGROUND = "#1f2328"
PREVIEW_MIN_SIZE = (320, 240)  # what the preview asks for: the window decides, the picture follows
REFRESH_MS = 15
ERROR_COLOUR = "#cf222e"
TOOLTIP_DELAY_S = 0.5

Picture = np.ndarray | Image.Image


class Preview(ttk.Frame):
    """Shows the camera live, or a still picture, scaled to fit and letterboxed, with overlays over faces.

    Overlays belong to the picture they were found on: they are drawn only while the picture on
    screen is that one (a still) or the same scene (a live camera), never over the next picture.
    `on_change(by_camera)` is called when the source changes: a still or the camera again (False), the camera
    lost or found (True). `on_face_clicked(index)` is called with the overlay clicked on a still.
    """

    def __init__(
        self,
        master: tk.Misc,
        camera: Camera | None,
        fallback: str | None = "Use “Open image…” to pick a photo instead.",
        on_change: Callable[[bool], None] | None = None,
        on_face_clicked: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(master, width=PREVIEW_MIN_SIZE[0], height=PREVIEW_MIN_SIZE[1])
        self.pack_propagate(False)
        self.camera = camera
        self.fallback = fallback
        self.on_change = on_change or (lambda _by_camera: None)
        self.overlays: list[Overlay] = []
        self.still: Image.Image | None = None
        self.frames_shown = 0
        self._overlay_scene: np.ndarray | None = None
        self._still_scene: np.ndarray | None = None
        self._shown: Picture | None = None
        self._shown_number = -1
        self._was_live = False
        self._photo: ImageTk.PhotoImage | None = None
        self._label = tk.Label(self, anchor="center", background=PREVIEW_BACKGROUND, foreground="white", bd=0)
        self._label.pack(fill="both", expand=True)
        self._label.bind("<Configure>", lambda _e: self._rerender())
        if on_face_clicked is not None:
            self._label.bind("<Button-1>", lambda e: self._clicked(e.x, e.y, on_face_clicked))
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
        self._still_scene = scene(self.still)
        self.overlays, self._overlay_scene = [], None
        self._render(self.still)
        self.on_change(False)

    def show_live(self) -> None:
        self.still = None
        self.overlays, self._overlay_scene = [], None
        self._shown_number = -1
        self.on_change(False)

    def set_overlays(self, overlays: list[Overlay], picture: Picture) -> None:
        """Draw `overlays`, found on `picture`, as long as that picture is the one on screen."""
        found_on = scene(picture)
        if self.still is not None and not same_scene(found_on, self._still_scene):
            return  # found on a picture no longer shown
        self.overlays, self._overlay_scene = overlays, found_on
        if self.still is not None:
            self._render(self.still)

    def clear_overlays(self) -> None:
        self.overlays, self._overlay_scene = [], None
        if self.still is not None:
            self._render(self.still)

    def point_at(self, x: int, y: int) -> tuple[float, float] | None:
        """Where on the still picture the preview's pixel (x, y) is, as ratios of its size; None off the picture."""
        if self.still is None:
            return None
        width, height = fit(self.still.size, self._size())
        left, top = (self._size()[0] - width) / 2, (self._size()[1] - height) / 2
        point = ((x - left) / width, (y - top) / height)
        return point if all(0 <= p <= 1 for p in point) else None

    def _clicked(self, x: int, y: int, on_face_clicked: Callable[[int], None]) -> None:
        point = self.point_at(x, y)
        index = face_at(self.overlays, point) if point is not None else None
        if index is not None:
            on_face_clicked(index)

    def destroy(self) -> None:
        self.after_cancel(self._job)
        super().destroy()

    def _refresh(self) -> None:
        self._job = self.after(REFRESH_MS, self._refresh)
        live = self.camera is not None and self.camera.state.live
        if live != self._was_live:
            self._was_live = live
            self.on_change(True)
        if self.still is not None or self.camera is None:
            return
        frame = self.camera.latest()
        if frame is None or not live:
            self._placeholder(self._camera_message())
            return
        if frame.number != self._shown_number:
            self._shown_number = frame.number
            if self.overlays and not same_scene(scene(frame.pixels), self._overlay_scene):
                self.overlays, self._overlay_scene = [], None
                self.on_change(False)  # another scene: what was said about the last one no longer applies
            self._render(frame.pixels)

    def _camera_message(self) -> str:
        state = self.camera.state if self.camera else None
        if state is not None and state.live:
            return state.message
        reason = state.message if state else "No camera."
        return f"{reason}\n{self.fallback}" if self.fallback else reason

    def _size(self) -> tuple[int, int]:
        width, height = self._label.winfo_width(), self._label.winfo_height()
        return (width, height) if width > 1 and height > 1 else PREVIEW_MIN_SIZE

    def _render(self, pixels: Picture) -> None:
        self._shown = pixels
        self._photo = ImageTk.PhotoImage(draw(pixels, self.overlays, self._size()))
        self._label.configure(image=self._photo, text="")
        self.frames_shown += 1

    def _rerender(self) -> None:
        if self._shown is not None and not self.message:
            self._render(self.still if self.still is not None else self._shown)

    def _placeholder(self, message: str) -> None:
        if self.message != message:
            self._shown = None
            self._photo = None
            self._label.configure(image="", text=message, wraplength=max(200, self._size()[0] - 40))


class StatusLine(ttk.Label):
    """News for the user, wrapped to the window's width; errors in red."""

    normal_colour = ""

    def __init__(self, master: tk.Misc, text: str = "") -> None:
        super().__init__(master, text=text, anchor="w", justify="left", padding=(10, 6))
        self.changed_at = time.monotonic()
        self.is_error = False
        self.about_camera = False
        self.bind("<Configure>", self._wrap)

    def say(self, text: str, error: bool = False, about_camera: bool = False) -> None:
        """Show `text`; an error `about_camera` goes when the camera is found or lost, any other stays then."""
        self.configure(text=text, foreground=ERROR_COLOUR if error else self.normal_colour)
        self.is_error = error
        self.about_camera = error and about_camera
        self.changed_at = time.monotonic()

    def clear_error(self, by_camera: bool = False) -> None:
        """Take an error off once the situation it was about has gone: the picture, or (`by_camera`) the camera."""
        if self.is_error and (self.about_camera or not by_camera):
            self.say("")

    @property
    def text(self) -> str:
        return str(self.cget("text"))

    def _wrap(self, event: tk.Event) -> None:
        wrap = max(100, event.width - 24)
        if int(str(self.cget("wraplength")) or 0) != wrap:
            self.configure(wraplength=wrap)


def scrolled_table(parent: tk.Misc, **options: object) -> tuple[ttk.Frame, ttk.Treeview]:
    """A table with a vertical scrollbar beside it, in a frame to place as one: no row is out of reach."""
    frame = ttk.Frame(parent)
    table = ttk.Treeview(frame, **options)
    bar = ttk.Scrollbar(frame, orient="vertical", command=table.yview)
    table.configure(yscrollcommand=bar.set)
    bar.pack(side="right", fill="y")
    table.pack(side="left", fill="both", expand=True)
    return frame, table


def thumbnail_table(
    parent: tk.Misc, style: str, thumbnail_height: int, heading: str, widths: tuple[int, int], height: int
) -> tuple[ttk.Frame, ttk.Treeview]:
    """A scrolled table of thumbnails, each with its label and a face count, its rows as tall as a thumbnail."""
    ttk.Style(parent).configure(style, rowheight=thumbnail_height + 6)
    frame, table = scrolled_table(parent, columns=("faces",), style=style, selectmode="browse", height=height)
    table.heading("#0", text=heading)
    table.heading("faces", text="Faces")
    table.column("#0", width=widths[0])
    table.column("faces", width=widths[1], anchor="center")
    fit_headings(table)
    return frame, table


def ask_warning(parent: tk.Misc, title: str, question: str) -> bool:
    """Ask before what cannot be undone, or is likely a mistake: No is the default answer."""
    return messagebox.askyesno(title, question, default=messagebox.NO, icon=messagebox.WARNING, parent=parent)


def fit_headings(table: ttk.Treeview) -> None:
    """Widen every column to at least its heading's text, so no heading is clipped."""
    style = ttk.Style(table)
    name = style.lookup("Heading", "font") or "TkHeadingFont"
    heading_font = tkfont.nametofont(name) if isinstance(name, str) and " " not in name else tkfont.Font(font=name)
    for column in ("#0", *table.cget("columns")):
        needed = heading_font.measure(table.heading(column, "text")) + 24
        if table.column(column, "width") < needed:
            table.column(column, width=needed)
        table.column(column, minwidth=needed)


def set_busy(bar: ttk.Progressbar, busy: bool) -> None:
    """An indeterminate bar while busy; an empty, still one otherwise (a stopped indeterminate bar shows a block)."""
    if busy:
        bar.configure(mode="indeterminate")
        bar.start(12)
    else:
        bar.stop()
        bar.configure(mode="determinate", value=0)


class Tooltip(ToolTip):
    """tktooltip's tooltip, also hidden when the pointer is no longer over its widget.

    tktooltip hides on <Leave> and on a click only, and its tooltip is a window of the app's root: a
    widget whose window is closed with Esc, or that a dialog covers, gets no <Leave>, and its tooltip
    would stay on screen for the rest of the session.
    """

    def __init__(self, widget: tk.Widget, msg: str) -> None:
        super().__init__(widget, msg=msg, delay=TOOLTIP_DELAY_S)
        widget.bind("<Destroy>", lambda _e: self.destroy(), add="+")
        widget.winfo_toplevel().bind("<Unmap>", lambda _e: self.on_leave(), add="+")

    def _show(self) -> None:
        if self.winfo_exists() and not self._pointer_over_widget():
            self.on_leave()
            return
        super()._show()

    def _pointer_over_widget(self) -> bool:
        try:
            under = self.winfo_containing(*self.winfo_pointerxy())
        except (tk.TclError, KeyError):  # the pointer is over a window Tk cannot name (another app's)
            return False
        return under is not None and str(under).startswith(str(self.widget))
