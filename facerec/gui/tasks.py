"""Work off the Tk main thread: workers run it, the main thread gets the results.

Workers only put (callback, value) pairs on a queue; one `after()` loop on the
main thread drains it and calls the callbacks there, the only thread that may
touch Tk.
"""

from __future__ import annotations

import queue
import tkinter as tk
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

POLL_MS = 15


class TaskRunner:
    def __init__(self, root: tk.Misc, on_error: Callable[[BaseException], None], workers: int = 2) -> None:
        self._root = root
        self._on_error = on_error
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="facerec-task")
        # (callback, value, final): a final one ends a task; the others are its news (progress).
        self._results: queue.Queue[tuple[Callable[[Any], None], Any, bool]] = queue.Queue()
        self._busy = 0
        self._closed = False
        self._job = self._root.after(POLL_MS, self._drain)

    @property
    def busy(self) -> int:
        """Tasks submitted whose callbacks have not run yet."""
        return self._busy

    def submit(
        self,
        work: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run `work()` on a worker; then `done(result)` or `failed(error)` on the main thread."""
        self._busy += 1
        failed = failed or self._on_error

        def run() -> None:
            try:
                result = work()
            except BaseException as exc:  # the user is told on the main thread
                self._results.put((failed, exc, True))
            else:
                self._results.put((done, result, True))

        self._pool.submit(run)

    def news(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        """A function a worker calls with news of its task (progress): `callback(value)` runs on the main thread."""
        return lambda value: self._results.put((callback, value, False))

    def close(self) -> None:
        self._closed = True
        self._root.after_cancel(self._job)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _drain(self) -> None:
        while True:
            try:
                callback, value, final = self._results.get_nowait()
            except queue.Empty:
                break
            self._busy -= final
            try:
                callback(value)
            except Exception as exc:
                self._on_error(exc)
        if not self._closed:
            self._job = self._root.after(POLL_MS, self._drain)
