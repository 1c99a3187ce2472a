"""Render every window of the app with real content to PNG, for the README.

    python scripts/screenshots.py [--out images] [--faces ../shared/faces]

Runs the real app on a virtual display (Xvfb, started here when DISPLAY is not
set) with a throwaway data folder, a few people enrolled from the shared
photos, and a video made from them as the camera.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "images")
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    args = parser.parse_args()
    server = None if os.environ.get("DISPLAY") else start_xvfb()
    try:
        with tempfile.TemporaryDirectory() as work:
            render_all(Path(work), args.faces, args.out)
    finally:
        if server is not None:
            server.terminate()
    return 0


def start_xvfb() -> subprocess.Popen:
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1200x24", "-nolisten", "tcp"], pass_fds=(write,)
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        os.environ["DISPLAY"] = ":" + pipe.readline().strip()
    return server


def staged_app(work: Path, faces: Path, enrol: list[tuple[str, str]], seconds_each: float, fps: int):
    """The real app on a fresh data folder with `enrol` (name, people/ photo) enrolled, and a
    video of Barack Obama's photos as its camera; returned once its status bar says it is ready."""
    import tkinter as tk

    import numpy as np

    from facerec.camera import write_video
    from facerec.gui.app import App
    from facerec.service import open_service
    from facerec.settings import load
    from tests.frames import letterbox

    frames = [
        np.asarray(letterbox((faces / f"people/barack_obama/{n}").read_bytes())) for n in ("obama1.jpg", "obama4.jpg")
    ]
    video = write_video(work / "camera.avi", frames, seconds_each=seconds_each, fps=fps)
    env = {"FACEREC_BACKEND": "local", "FACEREC_DATA_DIR": str(work / "data"), "FACEREC_CAMERA": str(video)}
    settings = load(env_file=None, environ=env)
    service = open_service(settings)
    for name, photo in enrol:
        service.add(name, (faces / "people" / photo).read_bytes())
    root = tk.Tk()
    app = App(root, settings, lambda _s: service)
    wait(root, lambda: "ready" in app.status.text)
    return app


def render_all(work: Path, faces: Path, out: Path) -> None:
    enrol = [
        ("Barack Obama", "barack_obama/obama2.jpg"),
        ("Joe Biden", "joe_biden/biden1.jpg"),
        ("Rose Leslie", "rose_leslie/rose1.jpg"),
        ("Kit Harington", "kit_harington/kit1.jpg"),
    ]
    app = staged_app(work, faces, enrol, seconds_each=2.0, fps=15)
    root = app.root
    out.mkdir(parents=True, exist_ok=True)
    grab(root, root, out / "homepage.png")

    app.open_add_face()
    add = app.windows["add"]
    add.name.set("Barack Obama")
    wait(root, lambda: add.hint.ok)
    grab(root, add, out / "add_face.png")
    add.close()

    app.open_check_face()
    check = app.windows["check"]
    check.ask_image_path = lambda: faces / "groups/obama_and_biden_2.jpg"
    check.open_file()
    wait(root, lambda: check.results)
    grab(root, check, out / "check_face.png")
    check.close()

    app.open_people()
    people = app.windows["people"]
    wait(root, lambda: len(people.rows) == 4)
    people.table.selection_set("0")
    wait(root, lambda: people.photo_rows)
    grab(root, people, out / "people.png")
    people.close()

    app.open_live()
    live = app.windows["live"]
    wait(root, lambda: live.checks_done >= 2 and live.results and live.fresh and live.preview.overlays)
    grab(root, live, out / "live.png")
    app.quit()


def wait(root, until, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        root.update()
        if until():
            for _ in range(20):  # let the last frame and labels settle
                root.update()
                time.sleep(0.02)
            return
        time.sleep(0.01)
    raise TimeoutError("the window did not get its content in time")


def grab(root, window, path: Path) -> None:
    from PIL import ImageGrab

    window.lift()
    root.update()
    time.sleep(0.2)
    root.update()
    x, y = window.winfo_rootx(), window.winfo_rooty()
    w, h = window.winfo_width(), window.winfo_height()
    ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=os.environ["DISPLAY"]).save(path, optimize=True)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({w}x{h})")


if __name__ == "__main__":
    raise SystemExit(main())
