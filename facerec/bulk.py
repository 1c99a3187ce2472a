"""Enrol many photos at once on every core.

Each worker process opens its own service (its own clients, models and
database connections: nothing is shared across processes but the data folder,
whose SQLite files are safe for concurrent writers) and adds photos one by
one. Detection and description hold Python's GIL in dlib, so processes, not
threads, are what put both cores to work.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from facerec.errors import describe
from facerec.service import AddResult, FaceService, open_service, validate_name
from facerec.settings import Settings

_worker_service: FaceService | None = None
PARENT_CHECK_SECONDS = 0.5


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    source: str
    result: AddResult | None
    error: str | None
    elapsed: float

    @property
    def rate(self) -> float:
        """Photos a second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


def add_photos(
    settings: Settings,
    name: str,
    photos: list[tuple[str, bytes]],
    on_progress: Callable[[Progress], None] | None = None,
    workers: int | None = None,
) -> list[Progress]:
    """Add every photo under `name`, in parallel when there are several; one Progress per photo, in order done."""
    validate_name(name)  # a bad name fails once, before any process starts
    workers = min(workers or os.cpu_count() or 1, len(photos))
    start = time.monotonic()
    outcomes: list[Progress] = []

    def record(source: str, result: AddResult | None, error: str | None) -> None:
        outcome = Progress(len(outcomes) + 1, len(photos), source, result, error, time.monotonic() - start)
        outcomes.append(outcome)
        if on_progress:
            on_progress(outcome)

    if workers <= 1:
        with open_service(settings) as service:
            for source, data in photos:
                result, error = _add(service, name, data, source)
                record(source, result, error)
        return outcomes
    context = multiprocessing.get_context("spawn")  # a forked child would share the parent's connections
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(settings,)) as pool:
        futures = {pool.submit(_add_in_worker, name, data, source): source for source, data in photos}
        for future in as_completed(futures):
            record(futures[future], *future.result())
    return outcomes


def _start_worker(settings: Settings) -> None:
    global _worker_service
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    _worker_service = open_service(settings)


def _exit_with_parent(parent: int) -> None:
    """End this worker when the process that started it is gone (killed, say), instead of living on."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _add_in_worker(name: str, data: bytes, source: str) -> tuple[AddResult | None, str | None]:
    assert _worker_service is not None
    return _add(_worker_service, name, data, source)


def _add(service: FaceService, name: str, data: bytes, source: str) -> tuple[AddResult | None, str | None]:
    """The result, or what stopped this photo, in words (the others go on, and what was added stays added)."""
    try:
        return service.add(name, data, source=source), None
    except Exception as exc:  # any failure of one photo: an outage, a bug, a user error
        return None, describe(exc)
