"""Add face: a live preview that judges the face, a name, Capture; the upload runs off the main thread."""

from __future__ import annotations

import time
import tkinter as tk
from pathlib import Path
from tkinter import filedialog, ttk

import numpy as np

from facerec.errors import DuplicateEnrolment, InvalidName, UserError, counted, describe
from facerec.gui.hints import Hint, enrolment_hint, pick
from facerec.gui.widgets import ERROR_COLOUR, Tooltip, set_busy
from facerec.gui.window import IMAGE_TYPES, PAD, Window, WindowHost, uses_arrows
from facerec.service import AddResult, photos_in_folder, validate_name

HINT_EVERY_S = 0.25
NO_HINT = Hint(False, "", ())


class AddFaceWindow(Window):
    title_text = "Add face"

    def __init__(self, app: WindowHost) -> None:
        super().__init__(app, "960x620")
        self.hint = NO_HINT
        self._hint_busy = False
        self._hint_frame = -1
        self._last_hint = 0.0
        self._adding = False
        self._picture = 0  # which picture is shown: a hint or a capture for an older one is dropped
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
        Tooltip(self.name_entry, "The person's name, as it will be shown")
        self.name_note = ttk.Label(side, text="", foreground=ERROR_COLOUR, wraplength=220)
        self.name_note.pack(anchor="w")
        self.name.trace_add("write", lambda *_: self._update_controls())

        self.capture_button = ttk.Button(side, text="Capture (Enter)", command=self.capture, state="disabled")
        self.capture_button.pack(fill="x", pady=(PAD, 4))
        Tooltip(self.capture_button, "Enrol the face in view under this name (Enter)")
        self.open_button = ttk.Button(side, text="Open image…", command=self.open_file)
        self.open_button.pack(fill="x", pady=4)
        Tooltip(self.open_button, "Enrol from a photo file instead of the camera")
        self.photos_button = ttk.Button(side, text="Add several photos…", command=self.add_photos, state="disabled")
        self.photos_button.pack(fill="x", pady=4)
        Tooltip(self.photos_button, "Enrol several photo files at once under this name")
        self.folder_button = ttk.Button(side, text="Add a folder…", command=self.add_folder, state="disabled")
        self.folder_button.pack(fill="x", pady=4)
        Tooltip(self.folder_button, "Enrol every JPEG and PNG photo of a folder under this name")
        self.camera_button = ttk.Button(side, text="Back to camera", command=self.back_to_camera, state="disabled")
        self.camera_button.pack(fill="x", pady=4)
        Tooltip(self.camera_button, "Leave the opened photo and use the camera again")
        self.progress = ttk.Progressbar(side, mode="determinate")
        self.progress.pack(fill="x", pady=(PAD, 4))
        self.hint_label = ttk.Label(side, text="", wraplength=220)
        self.hint_label.pack(anchor="w", pady=4)
        ttk.Label(side, text="Added in this window").pack(anchor="w", pady=(PAD, 0))
        self.log = tk.Listbox(side, height=8)
        self.log.pack(fill="both", expand=True)
        self.bind_capture_keys(self.capture)
        self.bind("<KeyPress-Right>", lambda _e: self._next_face(1))
        self.bind("<KeyPress-Left>", lambda _e: self._next_face(-1))
        self.name_entry.focus_set()
        self._update_controls()

    # The preview's judgement, refreshed off the main thread

    def _tick(self) -> None:
        self._loop = self.after(50, self._tick)
        if self._still is None and not self.preview.live:
            if self.hint.ok or self.hint.overlays or not self.hint.message:
                self.hint = NO_HINT
                self._update_controls()
            return
        frame = self.preview.latest_frame()
        due = time.monotonic() - self._last_hint >= HINT_EVERY_S
        if frame is not None and not self._hint_busy and due and frame.number != self._hint_frame:
            self._hint_frame = frame.number
            self._request_hint(frame.pixels)

    def _request_hint(self, pixels: np.ndarray, photo: bool = False) -> None:
        if self.service is None:  # the service finds the faces; the app opens windows once it is open
            return
        self._hint_busy = True
        self._last_hint = time.monotonic()
        picture, faces_in = self._picture, self.service.faces_in
        height, width = pixels.shape[:2]
        self.run(
            lambda: (picture, pixels, enrolment_hint(faces_in(pixels), width, height, photo)),
            self._show_hint,
            self._hint_failed,
        )

    def _show_hint(self, judged: tuple[int, np.ndarray, Hint]) -> None:
        picture, pixels, hint = judged
        self._hint_busy = False
        if picture != self._picture:
            if self._still is not None:
                self._request_hint(self._still[1], photo=True)  # the photo opened meanwhile is still to be judged
            return
        self.hint = hint
        self.preview.set_overlays(list(hint.overlays), pixels)
        self._update_controls()

    def _hint_failed(self, error: BaseException) -> None:
        self._hint_busy = False
        self.app.show_error(error, self.status)

    def _update_controls(self) -> None:
        name_error = self._name_error()
        self.name_note.configure(text=name_error if self.name.get() else "")
        ready = not name_error and self.hint.ok and not self._adding and self.service is not None
        self.capture_button.state(["!disabled"] if ready else ["disabled"])
        can_add = not name_error and not self._adding and self.service is not None
        for button in (self.photos_button, self.folder_button):
            button.state(["!disabled"] if can_add else ["disabled"])
        self.camera_button.state(["!disabled"] if self._still is not None and self._camera_live() else ["disabled"])
        # While the face is looked for, or one is to be picked, nothing is wrong yet.
        verdict = self.hint.message and not self.hint.ok and not self.hint.pickable
        self.hint_label.configure(text=self._guidance(name_error), foreground=ERROR_COLOUR if verdict else "")

    def _name_error(self) -> str:
        try:
            validate_name(self.name.get())
        except InvalidName as exc:
            return str(exc)
        return ""

    def _guidance(self, name_error: str) -> str:
        """What to do next, naming only what can be done now."""
        if self._still is None and not self.preview.live:
            state = self.app.camera.state
            return f"{state.message} Use “Open image…” to enrol from a photo."
        if not self.hint.ok:
            return self.hint.message or "Looking for a face…"
        if self._adding:
            return "Face OK"
        face = "Face picked" if self.hint.box else "Face OK"
        if name_error:
            return f"{face}: now type the person's name"
        return f"{face}: press Capture (Enter)"

    def _camera_live(self) -> bool:
        return self.app.camera.state.live

    def picture_changed(self, by_camera: bool = False) -> None:
        super().picture_changed(by_camera)
        self._update_controls()

    # Capture and add

    def capture(self) -> None:
        if self.capture_button.instate(["disabled"]):
            return
        box = self.hint.box
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
        self.enrol(name, picture, box, self._added, self._add_failed)

    def _added(self, result: AddResult) -> None:
        self._finish_adding()
        self.added.append(result)
        self._log_outcome(result.name, result)
        if result.ok:
            self.status.say(f"Added {result.name}")
        elif result.pending:  # not a failure: the photo is kept and its face comes when indexing ends
            self.status.say(f"{result.name}: {result.message}")
        else:
            self.status.say(f"Not added: {result.message}", error=True)
        self.app.enrolment_changed()

    def _add_failed(self, error: BaseException) -> None:
        self._finish_adding()
        self.app.show_error(error, self.status)

    def _finish_adding(self) -> None:
        self._adding = False
        set_busy(self.progress, False)
        self._update_controls()

    # Several photo files at once, each with its own outcome, one after the other

    def ask_image_paths(self) -> list[Path]:
        """The file dialog, with several files chosen at once; tests replace this method."""
        chosen = filedialog.askopenfilenames(parent=self, title="Add photos", filetypes=IMAGE_TYPES)
        return [Path(c) for c in chosen]

    def ask_folder(self) -> Path | None:
        """The folder dialog; tests replace this method."""
        chosen = filedialog.askdirectory(parent=self, title="Add a folder of photos", mustexist=True)
        return Path(chosen) if chosen else None

    def add_photos(self) -> None:
        self._add_files(self.ask_image_paths())

    def add_folder(self) -> None:
        folder = self.ask_folder()
        if folder is None:
            return

        def listed(paths: list[Path]) -> None:
            if paths:
                self._add_files(paths)
            else:
                self.status.say(f"{folder.name} has no JPEG or PNG photo in it", error=True)

        self.run(lambda: photos_in_folder(folder), listed)

    def _add_files(self, paths: list[Path]) -> None:
        if not paths or self._name_error() or self._adding:
            return
        name = validate_name(self.name.get())
        self._adding = True
        self._update_controls()
        self.progress.configure(mode="determinate", maximum=len(paths), value=0)
        self._add_photo(name, paths, 0, 0)

    def _add_photo(self, name: str, paths: list[Path], index: int, added: int) -> None:
        if index == len(paths):
            self._finish_adding()
            self.status.say(f"Added {added} of {counted(len(paths), 'photo')} as {name}", error=added == 0)
            self.app.enrolment_changed()
            return
        path = paths[index]
        self.status.say(f"Adding {path.name} ({index + 1} of {len(paths)})…")

        def done(result: AddResult) -> None:
            self.added.append(result)
            self._log_outcome(path.name, result)
            self.progress.configure(value=index + 1)
            self._add_photo(name, paths, index + 1, added + result.ok)

        def failed(error: BaseException) -> None:
            if not isinstance(error, UserError):  # the back end, not the photo: the next would fail the same way
                self._finish_adding()
                self.app.show_error(error, self.status)
                return
            self.log.insert("end", f"✗ {path.name}: {describe(error)}")
            self.progress.configure(value=index + 1)
            self._add_photo(name, paths, index + 1, added)

        self.run(lambda: self._enrol_file(name, path, check_name=index == 0), done, failed)

    def _enrol_file(self, name: str, path: Path, check_name: bool) -> AddResult:
        """One photo of several (on a worker): a duplicate is refused with its reason, not asked about."""
        data = path.read_bytes()
        duplicates = self.service.find_duplicates(name, data, source=path.name, check_name=check_name)
        if duplicates:
            raise DuplicateEnrolment(duplicates[0].message)
        return self.service.add(name, data, source=path.name)

    def _log_outcome(self, what: str, result: AddResult) -> None:
        if result.ok:
            self.log.insert("end", f"✓ {what}")
        elif result.pending:
            self.log.insert("end", f"… {what}: still indexing")
        else:
            self.log.insert("end", f"✗ {what}: {result.message}")

    # A photo file instead of the camera

    def open_file(self) -> None:
        self.open_image(self._opened)

    def _opened(self, data: bytes, image) -> None:
        pixels = np.asarray(image)
        self._still = (data, pixels)
        self._picture += 1
        self.hint = NO_HINT
        self.preview.show_still(image)
        self.status.say(f"Opened {self.last_opened.name}" if self.last_opened else "")
        self._focus_next_step()
        if not self._hint_busy:
            self._request_hint(pixels, photo=True)

    def face_clicked(self, index: int) -> None:
        """A face of a group photo picked: it is the one Capture enrols."""
        if self._still is None or index not in self.hint.pickable or self._adding:
            return
        self.hint = pick(self.hint, index)
        self.preview.set_overlays(list(self.hint.overlays), self._still[1])
        self._update_controls()
        self._focus_next_step()

    def _next_face(self, step: int) -> str | None:
        """Left and Right pick the faces of a group photo in turn, for whoever does not reach for the mouse."""
        if uses_arrows(self.focus_get()) or not self.hint.pickable:
            return None
        faces = sorted(self.hint.pickable, key=lambda i: self.hint.overlays[i].box.left)  # left to right
        chosen = self.hint.box
        at = next((n for n, i in enumerate(faces) if self.hint.overlays[i].box == chosen), -1 if step > 0 else 0)
        self.face_clicked(faces[(at + step) % len(faces)])
        return "break"

    def opening_failed(self, error: BaseException) -> None:
        """The photo that could not be opened replaces the one shown: neither it nor its hint applies now."""
        if self._still is not None:
            self.back_to_camera()
        super().opening_failed(error)

    def _focus_next_step(self) -> None:
        """The name field while the name is missing, else the window, where Enter captures: never the button
        that opened the photo, where Enter would open the file dialog again."""
        if self._name_error():
            self.name_entry.focus_set()
        else:
            self.focus_set()

    def back_to_camera(self) -> None:
        self._still = None
        self._picture += 1
        self.hint = NO_HINT
        self.preview.show_live()

    def close(self) -> None:
        self.after_cancel(self._loop)
        super().close()
