"""facerec.paths.write_private: the one writer of owner-only files (objects, converted models, credentials)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from facerec import paths


def test_a_private_file_is_owner_only_in_an_owner_only_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "secret"
    paths.write_private(target, b"key")
    assert target.read_bytes() == b"key"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_rewriting_a_readable_file_leaves_it_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    paths.write_private(target, b"new")
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "secret"
    paths.write_private(target, b"old contents")

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        paths.write_private(target, b"new contents that never land")
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]
