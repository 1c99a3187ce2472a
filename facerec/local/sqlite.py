"""The local back end's databases: one way to open them, one way to write to them, one way to forget.

Every local service keeps its state in an SQLite file in the data folder:
owner-only, in WAL mode so that several processes (the app, the CLI, bulk-add
workers) read and write it safely, and with secure_delete so that deleted
biometric data is overwritten rather than left in free pages.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facerec.paths import private_file

log = logging.getLogger(__name__)
# A checkpoint that finds readers in the log waits this long for them before giving up for now.
CHECKPOINT_SECONDS = 10.0


def open_database(path: Path, schema: str) -> sqlite3.Connection:
    """The database at `path` (created 0600), shared by this process's threads."""
    db = sqlite3.connect(private_file(path), check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA secure_delete=ON")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db


@contextmanager
def transaction(db: sqlite3.Connection, lock: threading.RLock, write: bool = True) -> Iterator[sqlite3.Connection]:
    """All the statements inside, or none.

    A write takes SQLite's write lock up front (IMMEDIATE), so that a read, a
    check and a write happen with no other writer in between, in any process;
    a read sees one snapshot across its statements.
    """
    with lock:
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def forget_deleted(db: sqlite3.Connection, lock: threading.RLock) -> None:
    """Fold the write-ahead log into the database and empty it.

    With secure_delete, SQLite overwrites deleted rows in the database file, but
    the WAL still holds the pages as they were until a checkpoint: after a
    person is deleted, none of their data may stay on disk.
    """
    deadline = time.monotonic() + CHECKPOINT_SECONDS
    while True:
        with lock:
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return
        if time.monotonic() > deadline:  # the next delete's checkpoint, or the next open, folds it
            log.warning("%s: another process kept the write-ahead log busy; it is folded later", path_of(db))
            return
        time.sleep(0.05)  # another process is reading: its snapshot ends within moments


def path_of(db: sqlite3.Connection) -> str:
    return db.execute("PRAGMA database_list").fetchone()[2]
