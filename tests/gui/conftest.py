"""The real app on a virtual display (Xvfb), with a video file made from the shared photos as its camera."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import letterbox, photo


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

    def make(camera: int | str) -> App:
        env = {"FACEREC_BACKEND": "local", "FACEREC_DATA_DIR": str(tmp_path / "data"), "FACEREC_CAMERA": str(camera)}
        root = tk.Tk()
        app = App(root, load(env_file=None, environ=env), open_service)
        apps.append(app)
        pump(root, lambda: app.service is not None and "ready" in app.status.text, what="the back end")
        return app

    yield make
    for app in apps:
        try:
            app.quit()
        except Exception:
            pass
