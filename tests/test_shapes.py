"""The 68-point shape model in numpy (facerec.shapes) against dlib's own, on every face of ../shared/faces."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import dlib
import numpy as np
import pytest

from facerec import faces as facelib
from facerec import shapes
from facerec.dlib_format import ModelFileError
from facerec.settings import ModelSettings
from facerec.shapes import ShapeModel


def dat_path() -> Path:
    return Path(facelib.model_file(facelib.SIXTY_EIGHT_POINTS))


def dlib_points(predictor, pixels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    found = predictor(pixels, dlib.rectangle(*box))
    return np.array([(found.part(i).x, found.part(i).y) for i in range(found.num_parts)])


@pytest.fixture(scope="module")
def engine(loaded_models) -> facelib.Models:
    return loaded_models


@pytest.fixture(scope="module")
def faces(found_faces) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """Every face the engine finds in the photos, as (pixels, dlib box), and the same faces mirrored and cut
    by the image's edge (sample pixels outside the image)."""
    cases = []
    for face in found_faces:
        (left, top, right, bottom), width = face.box, face.pixels.shape[1]
        middle = (left + right) // 2
        cases.append((face.pixels, face.box))
        cases.append((np.ascontiguousarray(face.pixels[:, ::-1]), (width - 1 - right, top, width - 1 - left, bottom)))
        cases.append((np.ascontiguousarray(face.pixels[:, middle:]), (left - middle, top, right - middle, bottom)))
    return cases


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder into which the model was converted, as set-up does."""
    folder = tmp_path_factory.mktemp("models")
    ShapeModel.convert(dat_path(), folder)
    return folder


@pytest.fixture(scope="module")
def cached(cache_dir: Path) -> ShapeModel:
    return ShapeModel.load(dat_path(), cache_dir)


def test_every_face_gets_dlibs_points(cached: ShapeModel, faces) -> None:
    predictor = dlib.shape_predictor(str(dat_path()))
    assert len(faces) >= 3 * 25
    for pixels, box in faces:
        assert np.array_equal(cached.predict(pixels, box), dlib_points(predictor, pixels, box)), box


def test_the_engine_uses_the_cached_model(engine: facelib.Models, cached: ShapeModel, faces) -> None:
    pixels, box = faces[0]
    assert engine.shapes is not None and engine.dlib_shapes is None
    assert np.array_equal(facelib.outline(engine, pixels, dlib.rectangle(*box)), cached.predict(pixels, box))


# ---- the cache


def test_cache_is_private_and_reused(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in cache_dir.iterdir())
    made = ShapeModel.convert(dat_path(), cache_dir)[0]
    before = made.stat()

    def never(*_args, **_kwargs):
        raise AssertionError("the model file was read again")

    monkeypatch.setattr(shapes, "parse_shape_predictor", never)
    monkeypatch.setattr(shapes, "read_model_file", never)  # not even hashed: the digest is remembered
    ShapeModel.load(dat_path(), cache_dir)
    after = made.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_damaged_cache_is_made_again(tmp_path: Path, cache_dir: Path, cached: ShapeModel, faces) -> None:
    for path in cache_dir.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    made = ShapeModel.convert(dat_path(), tmp_path)[0]
    made.write_bytes(b"not a model")
    again = ShapeModel.load(dat_path(), tmp_path)
    pixels, box = faces[0]
    assert np.array_equal(again.predict(pixels, box), cached.predict(pixels, box))
    assert stat.S_IMODE(made.stat().st_mode) == 0o600


def test_a_changed_model_file_is_hashed_again(tmp_path: Path) -> None:
    copy = tmp_path / "copy.dat"
    copy.write_bytes(dat_path().read_bytes())
    first = shapes.model_digest(copy, tmp_path)
    data = bytearray(copy.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 1_000_000))
    assert shapes.model_digest(copy, tmp_path) != first
    assert shapes.cache_name(shapes.model_digest(copy, tmp_path)) != shapes.cache_name(first)


# ---- damaged model files


def damaged(folder: Path, kind: str) -> Path:
    data = dat_path().read_bytes()
    path = folder / f"{kind}.dat"
    path.write_bytes({"truncated": data[: len(data) // 2], "not a model": b"\x01" + data[1:] + b"\x01\x02"}[kind])
    return path


@pytest.mark.parametrize(("kind", "reason"), [("truncated", "ends early"), ("not a model", "unexpected bytes")])
def test_a_damaged_model_file_is_named(kind: str, reason: str, tmp_path: Path) -> None:
    path = damaged(tmp_path, kind)
    with pytest.raises(ModelFileError, match=reason) as caught:
        ShapeModel.load(path, tmp_path / "models")
    assert caught.value.path == path
    assert not list((tmp_path / "models").glob("*.npz"))


def test_the_engine_falls_back_to_dlib_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: ShapeModel, faces
) -> None:
    path = damaged(tmp_path, "truncated")
    real = shapes.best_shape_model
    # The engine's own .dat stays good for dlib; only the cache is handed the damaged copy.
    monkeypatch.setattr(shapes, "best_shape_model", lambda _dat, cache: real(path, cache))
    with pytest.warns(RuntimeWarning, match=re.escape(str(path))):
        engine = facelib.Models(ModelSettings(tmp_path / "models"))
    assert engine.shapes is None
    pixels, box = faces[0]
    assert np.array_equal(facelib.outline(engine, pixels, dlib.rectangle(*box)), cached.predict(pixels, box))
