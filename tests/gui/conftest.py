"""The real app on a virtual display (Xvfb), with a video file made from the shared photos as its camera."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import photo
from tests.frames import letterbox


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """A fresh X display served by Xvfb for the whole session."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (apt-get install xvfb); .ci/run installs it")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1200x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    name = f":{number}"
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = name
    yield name
    if previous is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = previous
    server.terminate()
    server.wait(timeout=5)


@pytest.fixture(scope="session")
def obama_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from facerec.camera import write_video

    frames = [np.asarray(letterbox(photo(f"people/barack_obama/{n}"))) for n in ("obama1.jpg", "obama4.jpg")]
    return write_video(tmp_path_factory.mktemp("camera") / "obama.avi", frames, seconds_each=2.0)


def pump(root, until: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    """Run Tk's event loop until `until()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        root.update()
        value = until()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or until}")


@pytest.fixture
def make_app(display: str, tmp_path: Path):
    """Build the real app on a fresh data folder; quit it after the test."""
    import tkinter as tk

    from facerec.gui.app import App
    from facerec.service import open_service
    from facerec.settings import load

    apps = []

    def make(camera) -> App:
        """`camera`: a source (a device index or a video file) for the app's camera, or a camera object."""
        given = None if isinstance(camera, int | str | Path) else camera
        env = {
            "FACEREC_BACKEND": "local",
            "FACEREC_DATA_DIR": str(tmp_path / "data"),
            "FACEREC_CAMERA": "unused" if given else str(camera),
            "FACEREC_DELIVERY": "adversarial",  # events late and twice, as AWS may deliver them
        }
        root = tk.Tk()
        app = App(root, load(env_file=None, environ=env), open_service, camera=given)
        apps.append(app)
        pump(root, lambda: app.service is not None and "ready" in app.status.text, what="the back end")
        return app

    yield make
    for app in apps:
        if alive(app.root):  # a test may have quit it already, as a user would
            app.quit()  # and an error here (a window that will not close, a worker that will not stop) fails
        if app.service is not None:
            app.service.close()  # as the process's end would: a test process opens many apps
    # Collect the closed app's Tk objects here, on the main thread: collected later on a worker thread of the next
    # test, a Tk variable's __del__ would call into this interpreter, whose loop nobody runs any more, and wait.
    gc.collect()


def alive(root) -> bool:
    import tkinter as tk

    try:
        return bool(root.winfo_exists())
    except tk.TclError:  # destroyed
        return False


def still_frame(relative: str, scale: float = 1.0) -> np.ndarray:
    """A 640x480 camera frame of a shared photo, shrunk by `scale` into its top-left corner."""
    from PIL import Image

    size = (round(640 * scale), round(480 * scale))
    frame = Image.new("RGB", (640, 480))
    frame.paste(letterbox(photo(relative), size), (0, 0))
    return np.asarray(frame)


@pytest.fixture(scope="session")
def small_face_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A camera whose face is sharp but small: the person is too far away."""
    from facerec.camera import write_video

    frame = still_frame("people/barack_obama/obama1.jpg", scale=200 / 640)
    return write_video(tmp_path_factory.mktemp("camera") / "far.avi", [frame], seconds_each=2.0)


GREY_SCENE = (128, 128, 128)


@pytest.fixture(scope="session")
def face_then_grey_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A face for a second, then an empty grey picture for a second, looping: a scene that changes."""
    from facerec.camera import write_video

    grey = np.full((480, 640, 3), GREY_SCENE, dtype=np.uint8)
    frames = [still_frame("people/barack_obama/obama1.jpg"), grey]
    return write_video(tmp_path_factory.mktemp("camera") / "cut.avi", frames, seconds_each=1.0)


def idle(app, timeout: float = 30.0) -> None:
    """Pump until no task of the app is running or waiting for its callback."""
    pump(app.root, lambda: app.tasks.busy == 0, timeout, "the workers to be idle")


def press(widget, key: str) -> None:
    """Give `widget` the keyboard focus and press `key` (a keysym: space, Return, Delete, Escape...)."""
    widget.focus_force()
    widget.update()
    key_down_and_up(widget, key)


def press_where_focused(root, key: str) -> None:
    """Press `key` wherever the keyboard focus is now, as a person does without reaching for the mouse."""
    widget = root.focus_get()
    assert widget is not None, "nothing has the keyboard focus"
    key_down_and_up(widget, key)


def key_down_and_up(widget, key: str) -> None:
    widget.event_generate(f"<KeyPress-{key}>", when="now")
    if alive(widget):  # Esc may have closed it, or quit the app
        widget.event_generate(f"<KeyRelease-{key}>", when="now")


def click(widget) -> None:
    """Press and release the left mouse button over `widget`."""
    x, y = widget.winfo_width() // 2, widget.winfo_height() // 2
    widget.event_generate("<Enter>", x=x, y=y)
    widget.event_generate("<ButtonPress-1>", x=x, y=y)
    widget.event_generate("<ButtonRelease-1>", x=x, y=y)


def type_into(entry, text: str) -> None:
    """Type `text` into an entry key by key."""
    entry.focus_force()
    entry.update()
    for char in text:
        keysym = "space" if char == " " else char
        entry.event_generate(f"<KeyPress-{keysym}>", when="now")


def answer_dialogs(root, *answers: tuple[str, ...], seen: list[str]) -> None:
    """Answer the next message boxes with keys, one tuple of key events each ("<Return>", "<Shift-Tab>");
    record each box's text in `seen`.

    Tk's message box runs its own event loop, so the answers are scheduled before the box opens.
    """
    pending = list(answers)

    def dialog() -> str | None:
        stack = ["."]
        while stack:
            path = stack.pop()
            if path.endswith("__tk__messagebox") and root.tk.call("winfo", "ismapped", path):
                return path
            stack += [str(c) for c in root.tk.call("winfo", "children", path)]
        return None

    def poll() -> None:
        path = dialog()
        # Not open yet, or open but not yet focused on its default button.
        if path is None or str(root.tk.call("focus", "-lastfor", path)) == path:
            root.after(30, poll)
            return
        seen.append(str(root.tk.call(f"{path}.msg", "cget", "-text")))
        for key in pending.pop(0):
            # The box's focus (its default button first); Xvfb has no window manager to give it the X focus.
            focused = root.tk.call("focus", "-lastfor", path)
            root.tk.call("event", "generate", focused, key)
        if pending:
            root.after(30, poll)

    root.after(30, poll)


def grab(widget):
    """What the screen shows of `widget`, as a PIL image."""
    from PIL import ImageGrab

    widget.update()
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    return ImageGrab.grab(
        bbox=(x, y, x + widget.winfo_width(), y + widget.winfo_height()), xdisplay=os.environ["DISPLAY"]
    ).convert("RGB")


def offered_but_disabled(window) -> list[str]:
    """Buttons of `window` that its status line or hint names while they are disabled."""
    from tkinter import ttk

    texts = [window.status.text] + [getattr(window, "hint_label", window.status).cget("text")]
    found = []
    stack = [window]
    while stack:
        widget = stack.pop()
        stack += widget.winfo_children()
        if isinstance(widget, ttk.Button) and widget.instate(["disabled"]):
            name = str(widget.cget("text")).split(" (")[0].rstrip("…").rstrip(".")
            if any(name.casefold() in str(text).casefold() for text in texts):
                found.append(name)
    return found


def within(inner, outer) -> bool:
    """Is `inner` shown whole inside `outer` on the screen?"""
    inner.update()
    return (
        inner.winfo_viewable()
        and inner.winfo_rootx() >= outer.winfo_rootx()
        and inner.winfo_rooty() >= outer.winfo_rooty()
        and inner.winfo_rootx() + inner.winfo_width() <= outer.winfo_rootx() + outer.winfo_width()
        and inner.winfo_rooty() + inner.winfo_height() <= outer.winfo_rooty() + outer.winfo_height()
    )


class HeldCamera:
    """A real camera whose frames are held back until `release()` and after `hold()`: slow to open, or lost."""

    def __init__(self, source: Path) -> None:
        from facerec.camera import Camera, CameraState

        self._camera = Camera(str(source)).start()
        self._opening = CameraState(False, "Opening the camera…")
        self.released = False

    def release(self) -> None:
        self.released = True

    def hold(self) -> None:
        self.released = False

    @property
    def state(self):
        return self._camera.state if self.released else self._opening

    def latest(self):
        return self._camera.latest() if self.released else None

    def stop(self) -> None:
        self._camera.stop()
