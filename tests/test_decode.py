"""faces.decode on the PNG kinds cameras and editors write: every kind comes out as the same 8-bit RGB."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from facerec import faces as facelib
from tests.conftest import photo


def _rgb8() -> np.ndarray:
    return facelib.decode(photo("people/barack_obama/obama1.jpg")).pixels


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_16_bit_png_decodes_to_the_same_picture(tmp_path: Path) -> None:
    rgb = _rgb8()
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    got = facelib.decode(path.read_bytes()).pixels
    assert np.abs(got.astype(int) - rgb).max() <= 1


def test_16_bit_gray_png_decodes_to_the_gray_picture(tmp_path: Path) -> None:
    gray = cv2.cvtColor(_rgb8(), cv2.COLOR_RGB2GRAY)
    path = tmp_path / "gray16.png"
    cv2.imwrite(str(path), gray.astype(np.uint16) * 257)
    got = facelib.decode(path.read_bytes()).pixels
    assert got.shape == (*gray.shape, 3)
    assert np.abs(got.astype(int) - gray[..., None]).max() <= 1


@pytest.mark.parametrize("mode", ["P", "LA", "RGBA"])
def test_palette_and_alpha_pngs_decode_to_rgb(mode: str) -> None:
    image = Image.fromarray(_rgb8()).convert(mode)
    expected = np.asarray(image.convert("RGB"))
    got = facelib.decode(_png(image)).pixels
    assert np.array_equal(got, expected)


def test_a_face_is_found_in_a_16_bit_gray_png(tmp_path: Path, loaded_models) -> None:
    path = tmp_path / "gray16.png"
    cv2.imwrite(str(path), cv2.cvtColor(_rgb8(), cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    found = facelib.find_faces(facelib.decode(path.read_bytes()), loaded_models, describe=False)
    assert len(found) == 1
