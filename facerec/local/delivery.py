"""Lambda invocations of the local bucket's events, delivered as S3 and Lambda deliver them.

S3 sends a notification after PutObject has returned; Lambda queues it and runs
the function later, in its own execution environment, at least once, sometimes
twice, and again after a run that raised (two retries). Here:

- the bucket writes each invocation into a queue table of its own database, in the
  same transaction as the object, so a caller killed right after PutObject still
  gets its object indexed (by the next process that opens the data folder);
- one courier per data folder and process claims due invocations and runs each on
  a thread of its own, never in the caller's thread; a claim names the process, so
  a dead process's claims are taken over at once, and any claim expires;
- a run that raises is retried after RETRY_DELAYS, then dropped with a log line,
  as Lambda drops an event after its retries.

`adversarial` delivery (FACEREC_DELIVERY=adversarial: the tests run with it)
waits a random moment before each run and enqueues every invocation twice, due
at the same instant, so the two runs race.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from facerec.local.sqlite import transaction

log = logging.getLogger(__name__)

Functions = Mapping[str, Callable[[dict, Any], Any]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    function TEXT NOT NULL,
    event TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due REAL NOT NULL,
    claimed_by INTEGER,
    claimed_until REAL
);
"""
# Lambda retries twice, about 1 and 2 minutes apart; locally the only transient failures are
# lock timeouts of a busy data folder, which clear in seconds.
RETRY_DELAYS = (1.0, 2.0)
CLAIM_SECONDS = 300.0  # a run of a live process that takes longer than this is delivered again
ADVERSARIAL_DELAY = (0.1, 0.8)  # seconds before each run, drawn at random
DRAIN_SECONDS = 30.0  # at exit, how long to let runs under way finish


@dataclass(frozen=True)
class Invocation:
    id: int
    function: str
    event: dict
    attempts: int


class Courier:
    """Delivers the queued invocations of one data folder's bucket."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, functions: Functions, adversarial: bool) -> None:
        self._db = db
        self._lock = lock
        self._functions = functions
        self._adversarial = adversarial
        self._wake = threading.Condition()
        self._running: set[int] = set()
        self._dispatcher: threading.Thread | None = None
        self._closing = False
        atexit.register(self.drain)
        if self._next_due() is not None:  # left behind by a process that died
            self.wake()

    def enqueue(self, db: sqlite3.Connection, function: str, event: dict) -> None:
        """Queue an invocation, inside the caller's transaction (the one that stores the object)."""
        copies = 2 if self._adversarial else 1
        for _ in range(copies):
            db.execute(
                "INSERT INTO deliveries (function, event, due) VALUES (?, ?, ?)",
                (function, json.dumps(event), time.time()),
            )

    def wake(self) -> None:
        """Start delivering (after the enqueuing transaction has committed)."""
        with self._wake:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._dispatch, name="s3-delivery", daemon=True)
                self._dispatcher.start()
            self._wake.notify_all()

    def idle(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is queued or running for this bucket; False if that takes longer than timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._wake:  # the dispatcher claims and registers under this lock: no moment between
                if not self._running and self._next_due() is None:
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Deliver no more from this process (what is queued stays for the folder's next courier) once the
        runs under way have finished; the database stays its owner's to close."""
        atexit.unregister(self.drain)
        self.drain()
        with self._wake:
            self._wake.notify_all()
            dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join(DRAIN_SECONDS)

    def drain(self) -> None:
        """Let the runs under way finish before the process exits, and start no new ones."""
        with self._wake:
            self._closing = True
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            with self._wake:
                if not self._running:
                    return
            time.sleep(0.05)

    # The dispatcher: claims due invocations and starts a thread for each.

    def _dispatch(self) -> None:
        while True:
            with self._wake:  # closing is decided under this lock: nothing is claimed once drain has looked
                if self._closing:
                    return
                claimed = self._claim_due()
                self._running.update(invocation.id for invocation in claimed)
            for invocation in claimed:
                threading.Thread(target=self._run, args=(invocation,), name="lambda-invocation", daemon=True).start()
            next_due = self._next_due()
            if next_due is None:
                with self._wake:
                    if not self._running:
                        return  # woken again by the next enqueue
                    self._wake.wait(0.5)
                continue
            with self._wake:
                self._wake.wait(max(0.01, min(next_due - time.time(), 1.0)))

    def _claim_due(self) -> list[Invocation]:
        now, pid = time.time(), os.getpid()
        with transaction(self._db, self._lock) as db:
            rows = db.execute(
                "SELECT id, function, event, attempts, claimed_by, claimed_until FROM deliveries"
                " WHERE due <= ? ORDER BY due, id",
                (now,),
            ).fetchall()
            free = [r for r in rows if _claimable(r[4], r[5], now)]
            for row in free:
                db.execute(
                    "UPDATE deliveries SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                    (pid, now + CLAIM_SECONDS, row[0]),
                )
        return [Invocation(r[0], r[1], json.loads(r[2]), r[3]) for r in free]

    def _next_due(self) -> float | None:
        """When the earliest invocation this process may run falls due (claims by live others excluded)."""
        with self._lock:
            rows = self._db.execute("SELECT due, claimed_by, claimed_until FROM deliveries").fetchall()
        now = time.time()
        dues = [due for due, claimed_by, until in rows if _claimable(claimed_by, until, now)]
        return min(dues) if dues else None

    def _run(self, invocation: Invocation) -> None:
        try:
            if self._adversarial:
                time.sleep(random.uniform(*ADVERSARIAL_DELAY))
            function = self._functions.get(invocation.function)
            if function is None:
                log.error("no local function named %s: event dropped", invocation.function)
                self._forget(invocation)
                return
            try:
                function(invocation.event, None)
            except Exception:
                self._retry_or_drop(invocation)
            else:
                self._forget(invocation)
        finally:
            with self._wake:
                self._running.discard(invocation.id)
                self._wake.notify_all()

    def _retry_or_drop(self, invocation: Invocation) -> None:
        attempts = invocation.attempts + 1
        if attempts > len(RETRY_DELAYS):
            log.exception("function %s failed %d times: event dropped", invocation.function, attempts)
            self._forget(invocation)
            return
        log.warning("function %s failed (attempt %d); retrying", invocation.function, attempts, exc_info=True)
        with transaction(self._db, self._lock) as db:
            db.execute(
                "UPDATE deliveries SET attempts = ?, due = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                (attempts, time.time() + RETRY_DELAYS[attempts - 1], invocation.id),
            )

    def _forget(self, invocation: Invocation) -> None:
        with transaction(self._db, self._lock) as db:
            db.execute("DELETE FROM deliveries WHERE id = ?", (invocation.id,))


def _claimable(claimed_by: int | None, until: float | None, now: float) -> bool:
    """May this process run an invocation so claimed: unclaimed, its claim expired, or its claimant dead?"""
    if claimed_by is None or until < now:
        return True
    return claimed_by != os.getpid() and not _alive(claimed_by)


def _alive(pid: int) -> bool:
    """Is process `pid` running? (A claim of a process that died is free at once.)"""
    if os.name == "nt":  # os.kill would end the process there: wait for the claim to expire instead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
