"""Folders and files readable by their owner only (which folder is the data folder: facerec.settings)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it owner-only (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create an empty owner-only (0600) file if it does not exist yet.

    An existing file is never opened: closing any descriptor of a file drops every POSIX lock this
    process holds on it, SQLite's included, and another process could then fold and delete the
    write-ahead log under a connection of ours that is still open.
    """
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    os.chmod(path, 0o600)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` owner-only (0600) and atomically, in an owner-only folder.

    The bytes go to a temporary file beside `path` (mkstemp makes it 0600) and are flushed to disk
    before it replaces `path`: a crash or a second process sees the old file or the whole new one,
    never half of it, and never one readable by others.
    """
    private_dir(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
