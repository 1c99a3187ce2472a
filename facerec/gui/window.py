"""What every window of the app shares: a Toplevel with a status line, Esc to close, sizes that resize well."""

from __future__ import annotations

import io
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from facerec.boxes import RatioBox
from facerec.errors import DuplicateEnrolment
from facerec.faces import upright
from facerec.gui.widgets import StatusLine, ask_warning
from facerec.service import AddResult, Duplicate, prepare_image, validate_name

if TYPE_CHECKING:
    from facerec.camera import Camera
    from facerec.gui.tasks import TaskRunner
    from facerec.service import FaceService
    from facerec.settings import Settings

IMAGE_TYPES = [("Images", "*.jpg *.jpeg *.png *.bmp *.webp"), ("All files", "*")]
# Widgets that use Space (or Enter) themselves: while one has the focus, the key is its own, not a capture.
# A slider is not one of them: it takes the arrow keys, and Space on it captures.
OWN_KEYS = {
    "space": {"TButton", "Button", "TCheckbutton", "Checkbutton", "TRadiobutton", "Radiobutton", "TEntry", "Entry"}
    | {"TCombobox", "TSpinbox", "Spinbox", "Listbox", "Text", "Treeview"},
    "Return": {"TButton", "Button", "TCheckbutton", "Checkbutton", "TRadiobutton", "Radiobutton"},
}
# Widgets that use Left and Right themselves (a cursor, a slider, a selection).
ARROW_KEY_WIDGETS = {
    "TEntry",
    "Entry",
    "TScale",
    "Scale",
    "TCombobox",
    "TSpinbox",
    "Spinbox",
    "Listbox",
    "Text",
    "Treeview",
}
PAD = 12  # between the parts of a window, and around them


class WindowHost(Protocol):
    """What a window needs from the app that opens it (facerec.gui.app.App is the one).

    A window depends on this, not on the app, whose module imports every window.
    """

    root: tk.Tk
    settings: Settings
    service: FaceService | None  # set before any window opens
    tasks: TaskRunner

    @property
    def camera(self) -> Camera: ...

    def show_error(self, error: BaseException, status: StatusLine | None = None) -> None: ...

    def enrolment_changed(self) -> None: ...


class Window(tk.Toplevel):
    title_text = ""

    def __init__(self, app: WindowHost, size: str = "900x640") -> None:
        super().__init__(app.root)
        self.app = app
        self.closed = False
        self.last_opened: Path | None = None
        self.title(f"{self.title_text} · Face Recognizer")
        self.geometry(size)
        self.minsize(640, 480)
        self.status = StatusLine(self)
        self.status.pack(fill="x", side="bottom")
        ttk.Separator(self).pack(fill="x", side="bottom")
        self.bind("<Escape>", lambda _e: self.close())
        self.protocol("WM_DELETE_WINDOW", self.close)

    def preview_with_sidebar(self) -> ttk.Frame:
        """The camera preview filling the window, and a sidebar to its right for the controls (returned)."""
        from facerec.gui.widgets import Preview

        body = ttk.Frame(self, padding=PAD)
        body.pack(fill="both", expand=True)
        body.columnconfigure(0, weight=1)
        body.rowconfigure(0, weight=1)
        self.preview = Preview(body, self.app.camera, on_change=self.picture_changed, on_face_clicked=self.face_clicked)
        self.preview.grid(row=0, column=0, sticky="nsew")
        side = ttk.Frame(body, padding=(PAD, 0, 0, 0))
        side.grid(row=0, column=1, sticky="nsew")
        return side

    def picture_changed(self, by_camera: bool = False) -> None:
        """A new picture, or the camera lost or found (`by_camera`): an error about what changed no longer applies.

        An error about an opened file stays when the camera is found meanwhile: it is still true.
        """
        self.status.clear_error(by_camera)

    def face_clicked(self, index: int) -> None:
        """A face on the still picture was clicked: windows that pick faces say what that does."""

    def enrol(
        self,
        name: str,
        picture: bytes | np.ndarray | Path,
        box: RatioBox | None,
        done: Callable[[AddResult], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        """Enrol `picture` (a file's bytes or path, or camera pixels) under `name` off the main thread, only the
        face at `box` when given: what it would repeat is asked about first (No leaves everything as it was)."""
        source = picture.name if isinstance(picture, Path) else "the image"

        def look() -> tuple[bytes, list[Duplicate]]:
            data = as_image_bytes(picture)
            return data, self.service.find_duplicates(name, data, source=source, box=box)

        def looked(found: tuple[bytes, list[Duplicate]]) -> None:
            data, duplicates = found
            if duplicates and not self.confirm_duplicate(name, duplicates):
                failed(DuplicateEnrolment(f"Not added: {duplicates[0].message}"))
            elif box is None:
                self.run(lambda: self.service.add(name, data, source=source), done, failed)
            else:
                self.run(lambda: self.service.add_face(name, data, box, source=source), done, failed)

        self.run(look, looked, failed)

    def confirm_duplicate(self, name: str, duplicates: list[Duplicate]) -> bool:
        """Ask before enrolling what is enrolled already; No is the default answer. Tests replace this method."""
        reasons = "\n".join(d.message for d in duplicates)
        risks = " ".join(dict.fromkeys(d.risk(name) for d in duplicates))
        return ask_warning(
            self, "Already enrolled", f"{reasons}\n\n{risks} Enrol this photo as {validate_name(name)} anyway?"
        )

    def bind_capture_keys(self, capture: Callable[[], None]) -> None:
        """Space and Enter capture, unless the widget with the focus uses the key itself.

        Enter on a focused button presses it, as Space does; Enter in the name field captures.
        """

        def on_key(event: tk.Event) -> str | None:
            if uses_key(event.widget, event.keysym):
                if event.keysym == "Return":
                    event.widget.invoke()
                    return "break"
                return None
            capture()
            return "break"

        for key in ("<KeyPress-space>", "<KeyPress-Return>"):
            self.bind(key, on_key)

    @property
    def service(self):
        return self.app.service

    def run(self, work, done, failed=None) -> None:
        """Run `work` off the main thread; errors go to this window's status line.

        A result that arrives after the window closed is dropped: there is nobody left to tell.
        """
        failed = failed or (lambda e: self.app.show_error(e, self.status))
        self.app.tasks.submit(work, self._while_open(done), self._while_open(failed))

    def _while_open(self, callback):
        def call(value) -> None:
            if not self.closed:
                callback(value)

        return call

    def ask_image_path(self) -> Path | None:
        """The file dialog; tests replace this method."""
        chosen = filedialog.askopenfilename(parent=self, title="Open image", filetypes=IMAGE_TYPES)
        return Path(chosen) if chosen else None

    def open_image(self, on_loaded) -> None:
        """Ask for an image file, read and decode it off the main thread, then `on_loaded(data, image)`."""
        path = self.ask_image_path()
        if path is None:
            return
        self.last_opened = path
        self.status.say(f"Opening {path.name}…")
        self.run(lambda: load_image(path), lambda loaded: on_loaded(*loaded), self.opening_failed)

    def opening_failed(self, error: BaseException) -> None:
        """The file chosen could not be opened: say why (windows that show a picture also put it away)."""
        self.app.show_error(error, self.status)

    def close(self) -> None:
        self.destroy()

    def destroy(self) -> None:
        self.closed = True
        super().destroy()


def uses_key(widget: object, keysym: str) -> bool:
    """Does `widget` do something with the key itself? A disabled one does not (a button just clicked that
    disabled itself keeps the focus): the key is the window's then."""
    if not isinstance(widget, tk.Misc) or widget.winfo_class() not in OWN_KEYS.get(keysym, ()):
        return False
    if isinstance(widget, ttk.Widget):
        return not widget.instate(["disabled"])
    return str(widget.cget("state")) != "disabled"


def uses_arrows(widget: object) -> bool:
    """Does `widget` move something with Left and Right itself?"""
    return isinstance(widget, tk.Misc) and widget.winfo_class() in ARROW_KEY_WIDGETS


def load_image(path: Path) -> tuple[bytes, Image.Image]:
    """The file's bytes and its picture, upright; InvalidImage when it is not an image the app can send."""
    data = path.read_bytes()
    return data, upright(prepare_image(data, path.name).image)


def as_image_bytes(picture: bytes | np.ndarray | Path) -> bytes:
    """File bytes as they are, a file read, camera pixels encoded as JPEG (on a worker: each takes a few ms)."""
    if isinstance(picture, Path):
        return picture.read_bytes()
    return picture if isinstance(picture, bytes) else jpeg_bytes(picture)


def jpeg_bytes(pixels) -> bytes:
    out = io.BytesIO()
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    image.save(out, "JPEG", quality=92)
    return out.getvalue()
