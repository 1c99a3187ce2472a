"""The home window: Add face, Check face, People, Live, Quit, and the back end's health."""

from __future__ import annotations

import logging
import sys
import tkinter as tk
import traceback
from collections.abc import Callable
from tkinter import messagebox, ttk

from PIL import ImageTk

from facerec.camera import Camera
from facerec.errors import UserError, describe
from facerec.gui.drawing import app_icon
from facerec.gui.tasks import TaskRunner
from facerec.gui.widgets import StatusLine, Tooltip
from facerec.gui.window import PAD
from facerec.service import FaceService
from facerec.settings import Settings, SettingsError, load

log = logging.getLogger(__name__)
TITLE = "Face Recognizer"


class App:
    """Owns the root window, the task runner, the camera and the service; opens the other windows."""

    def __init__(
        self,
        root: tk.Tk,
        settings: Settings,
        open_service: Callable[[Settings], FaceService],
        camera_source: int | str | None = None,
        camera: Camera | None = None,
    ) -> None:
        """`camera`, when given, is the one the windows use (started already); else one on `camera_source`."""
        self.root = root
        self.settings = settings
        self.service: FaceService | None = None
        self.camera_source = settings.camera if camera_source is None else camera_source
        self._camera = camera
        self.windows: dict[str, tk.Toplevel] = {}
        root.report_callback_exception = self._report_callback_exception
        self.tasks = TaskRunner(root, on_error=self.show_error)
        self._build()
        self.status.say("Starting the back end…")
        self.tasks.submit(lambda: open_service(settings), self._service_ready, self._service_failed)

    # Windows

    def _build(self) -> None:
        root = self.root
        root.title(TITLE)
        root.minsize(420, 300)
        self._icon = ImageTk.PhotoImage(app_icon())
        root.iconphoto(True, self._icon)
        apply_theme(root)
        style = ttk.Style(root)
        style.configure("Big.TButton", padding=(16, 12), font=("TkDefaultFont", 12))
        style.configure("Title.TLabel", font=("TkDefaultFont", 16, "bold"))

        body = ttk.Frame(root, padding=20)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text=TITLE, style="Title.TLabel").pack(anchor="w")
        ttk.Label(body, text="Enrol a face with a name, then tell who is in front of the camera.").pack(
            anchor="w", pady=(2, 14)
        )
        grid = ttk.Frame(body)
        grid.pack(fill="both", expand=True)
        self.buttons: dict[str, ttk.Button] = {}
        entries = [
            ("add", "Add face", "Capture a face and enrol it with a name (A)", self.open_add_face),
            ("check", "Check face", "Capture or open a photo and say who is in it (C)", self.open_check_face),
            ("people", "People", "Everyone enrolled; delete a person (P)", self.open_people),
            ("live", "Live", "Names drawn over faces on the live camera (L)", self.open_live),
        ]
        for index, (key, text, tip, command) in enumerate(entries):
            button = ttk.Button(grid, text=text, style="Big.TButton", command=command, state="disabled")
            button.grid(row=index // 2, column=index % 2, sticky="nsew", padx=PAD // 2, pady=PAD // 2)
            Tooltip(button, tip)
            self.buttons[key] = button
            root.bind(f"<KeyPress-{key[0]}>", lambda _e, c=command, b=button: b.instate(["!disabled"]) and c())
        for column in (0, 1):
            grid.columnconfigure(column, weight=1)
        for row in (0, 1):
            grid.rowconfigure(row, weight=1)
        quit_button = ttk.Button(body, text="Quit", command=self.quit)
        quit_button.pack(anchor="e", pady=(PAD, 0))
        Tooltip(quit_button, "Close the app (Esc, then Enter)")
        self.status = StatusLine(root)
        self.status.pack(fill="x", side="bottom")
        ttk.Separator(root).pack(fill="x", side="bottom")
        root.bind("<Escape>", lambda _e: self.ask_to_quit())
        root.protocol("WM_DELETE_WINDOW", self.quit)
        root.geometry("560x380")

    def open_add_face(self) -> None:
        from facerec.gui.add_face import AddFaceWindow

        self._open("add", AddFaceWindow)

    def open_check_face(self) -> None:
        from facerec.gui.check_face import CheckFaceWindow

        self._open("check", CheckFaceWindow)

    def open_people(self) -> None:
        from facerec.gui.people import PeopleWindow

        self._open("people", PeopleWindow)

    def open_live(self) -> None:
        from facerec.gui.live import LiveWindow

        self._open("live", LiveWindow)

    def _open(self, key: str, window_class: type) -> tk.Toplevel:
        window = self.windows.get(key)
        if window is not None and window.winfo_exists():
            window.lift()
            window.focus_force()
            return window
        window = window_class(self)
        self.windows[key] = window
        return window

    @property
    def camera(self) -> Camera:
        """The one camera, started the first time a window needs it."""
        if self._camera is None:
            self._camera = Camera(self.camera_source).start()
        return self._camera

    def ask_to_quit(self) -> None:
        """Esc on the home window: asked first, since it closes every window (Esc again keeps the app)."""
        if messagebox.askyesno(TITLE, "Quit Face Recognizer?", default=messagebox.YES, parent=self.root):
            self.quit()

    def quit(self) -> None:
        for window in list(self.windows.values()):
            if window.winfo_exists():
                window.close()
        self.tasks.close()
        if self._camera is not None:
            self._camera.stop()
        self.root.destroy()

    # Back end

    def _service_ready(self, service: FaceService) -> None:
        self.service = service
        for button in self.buttons.values():
            button.state(["!disabled"])
        self.refresh_health()

    def _service_failed(self, error: BaseException) -> None:
        self.status.say(f"{self.backend_label()}: {describe(error)}", error=True)

    def refresh_health(self) -> None:
        if self.service is not None:
            self.tasks.submit(self.service.health, self._show_health, self._service_failed)

    def enrolment_changed(self) -> None:
        """Someone was added or deleted: the home status counts them, and an open People lists them."""
        self.refresh_health()
        people = self.windows.get("people")
        if people is not None and people.winfo_exists():
            people.refresh()

    def _show_health(self, health: str) -> None:
        self.status.say(f"{self.backend_label()} · {health}")

    def backend_label(self) -> str:
        s = self.settings
        if s.backend == "local":
            return "Local back end"
        return f"AWS {s.region} · collection {s.rekognition_collection_name}"

    # Errors: the one place that tells the user

    def show_error(self, error: BaseException, status: StatusLine | None = None) -> None:
        message = describe(error)
        if not isinstance(error, UserError):
            log.error("".join(traceback.format_exception(error)))
        if status is not None and status.winfo_exists():
            status.say(message, error=True)
        elif isinstance(error, UserError):
            self.status.say(message, error=True)
        else:
            messagebox.showerror(TITLE, message, parent=self.root)

    def _report_callback_exception(self, exc_type, exc, tb) -> None:
        self.show_error(exc)


def system_theme() -> str:
    """ "dark" or "light", as the desktop is set; light where it does not say (many Linux desktops)."""
    try:
        import darkdetect

        return "dark" if darkdetect.isDark() else "light"
    except Exception:  # no way to ask: the light theme reads well everywhere
        return "light"


def apply_theme(root: tk.Tk) -> None:
    """Sun Valley, a maintained ttk theme (light or dark as the system is), instead of Tk's grey."""
    import sv_ttk

    sv_ttk.set_theme(system_theme(), root)


def main(argv: list[str] | None = None) -> int:
    """`python face_recognizer.py`: open the home window."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        root = tk.Tk(className="facerec")
    except tk.TclError as exc:
        print(f"error: cannot open a window ({exc}); is there a display?", file=sys.stderr)
        return 1
    from facerec.service import open_service

    App(root, settings, open_service)
    root.mainloop()
    return 0
