"""Shared fixtures: the test photographs and clients on a fresh data folder."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACES_DIR = Path(os.environ.get("FACEREC_FACES_DIR", ROOT.parent / "shared" / "faces"))


def people() -> dict[str, list[Path]]:
    """Each person's photos, by identity label (the folder name)."""
    folder = FACES_DIR / "people"
    return {p.name: sorted(x for x in p.iterdir() if x.is_file()) for p in sorted(folder.iterdir())}


def photo(relative: str) -> bytes:
    return (FACES_DIR / relative).read_bytes()


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def letterbox(data: bytes, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """The photo scaled into a size-sized frame, as a webcam would deliver it."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.thumbnail(size)
    frame = Image.new("RGB", size)
    frame.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return frame


@pytest.fixture(scope="session", autouse=True)
def faces_available() -> None:
    if not (FACES_DIR / "people").is_dir():
        pytest.exit(f"test photographs not found at {FACES_DIR}; set FACEREC_FACES_DIR", returncode=4)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("FACEREC_DATA_DIR", str(folder))
    monkeypatch.setenv("FACEREC_BACKEND", "local")
    return folder
