"""Where the app keeps its data: one folder, readable by its owner only."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

APP_NAME = "facerec"


def default_data_dir() -> Path:
    """The platform's user data folder for the app."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_NAME


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data folder (FACEREC_DATA_DIR, else the platform's), created owner-only."""
    chosen = Path(path or os.environ.get("FACEREC_DATA_DIR") or default_data_dir()).expanduser()
    return private_dir(chosen)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it owner-only (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create an empty owner-only (0600) file if it does not exist yet."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
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
