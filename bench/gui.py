"""The desktop app's responsiveness: preview frames per second while recognition runs, and main-thread stalls.

    python bench/gui.py [--seconds 10] [--faces ../shared/faces]

Runs the real app on a virtual display (Xvfb, started here when DISPLAY is not
set) with a 30 fps 640x480 video as the camera. It measures:

- the preview's frame rate in the Live window, which recognises continuously;
- the longest gap between two ticks of a 5 ms heartbeat on the Tk main thread
  while Check face checks captured frames back to back: any work done on the
  main thread (decoding, recognition, disk, network) would show up there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_FPS = 20.0
TARGET_STALL_MS = 100.0


class Heartbeat:
    """Ticks every 5 ms on the main thread and records how late each tick was."""

    def __init__(self, root, period_ms: int = 5) -> None:
        self.root, self.period = root, period_ms
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        root.after(period_ms, self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000)
        self._last = now
        self.root.after(self.period, self._tick)


def run_for(root, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        root.update()
        time.sleep(0.001)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    args = parser.parse_args()

    from scripts.screenshots import start_xvfb

    server = None
    import os

    if not os.environ.get("DISPLAY"):
        server = start_xvfb()
    try:
        with tempfile.TemporaryDirectory() as work:
            return measure(Path(work), args.faces, args.seconds)
    finally:
        if server is not None:
            server.terminate()


def measure(work: Path, faces: Path, seconds: float) -> int:
    from scripts.screenshots import staged_app

    app = staged_app(work, faces, [("Barack Obama", "barack_obama/obama2.jpg")], seconds_each=3.0, fps=30)
    root = app.root

    app.open_live()
    live = app.windows["live"]
    run_for(root, 2.0)  # warm up: models loaded, first checks done
    shown, checks = live.preview.frames_shown, live.checks_done
    run_for(root, seconds)
    fps = (live.preview.frames_shown - shown) / seconds
    check_rate = (live.checks_done - checks) / seconds
    live.close()

    app.open_check_face()
    check = app.windows["check"]
    run_for(root, 1.0)
    beat = Heartbeat(root)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not check._checking:
            check.preview.show_live()  # unfreeze, so the next capture takes a new camera frame
            check.capture()
        root.update()
        time.sleep(0.001)
    checks_run = len(check.history.get_children())
    app.quit()

    gaps = sorted(beat.gaps)
    longest = gaps[-1]
    p99 = gaps[int(len(gaps) * 0.99) - 1]
    print("Desktop app responsiveness (local back end, 640x480 camera at 30 fps)")
    print(
        f"  Live: preview {fps:.1f} frames/s while recognising {check_rate:.1f} frames/s "
        f"(target >= {TARGET_FPS:.0f} fps) {'PASS' if fps >= TARGET_FPS else 'FAIL'}"
    )
    print(
        f"  Check face: {checks_run} checks in {seconds:.0f} s; main-thread heartbeat (5 ms): "
        f"median gap {statistics.median(gaps):.1f} ms, p99 {p99:.1f} ms, longest {longest:.1f} ms "
        f"(target <= {TARGET_STALL_MS:.0f} ms) {'PASS' if longest <= TARGET_STALL_MS else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
