"""Where the app keeps its data: one folder, readable by its owner only."""

from __future__ import annotations

import os
import sys
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
