"""The fast descriptor (facerec.descriptor) against dlib's own, on every face of ../shared/faces."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import numpy as np
import pytest

from facerec import descriptor
from facerec import faces as facelib
from facerec.descriptor import FastDescriptor
from facerec.dlib_format import ModelFileError
from facerec.settings import ModelSettings, load
from tests.conftest import FACES_DIR, photo_paths

# dlib's and onnxruntime's float32 sums differ in order only; measured gap ~3e-7.
TOLERANCE = 1e-4


def dat_path() -> Path:
    import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location())


@pytest.fixture(scope="module")
def engine(loaded_models) -> facelib.Models:
    return loaded_models


@pytest.fixture(scope="module")
def chips(engine: facelib.Models, found_faces) -> dict[str, list[np.ndarray]]:
    """The aligned chip of every face the engine finds, by image path relative to FACES_DIR."""
    found: dict[str, list[np.ndarray]] = {relative: [] for relative in photo_paths()}
    for face in found_faces:
        shape = engine.predictor(face.pixels, engine.dlib.rectangle(*face.box))
        chip = engine.dlib.get_face_chip(face.pixels, shape, descriptor.CHIP_SIZE, facelib.CHIP_PADDING)
        found[face.photo].append(chip)
    return found


@pytest.fixture(scope="module")
def all_chips(chips: dict[str, list[np.ndarray]]) -> list[np.ndarray]:
    return [chip for image in chips.values() for chip in image]


@pytest.fixture(scope="module")
def dlib_reference(engine: facelib.Models, all_chips: list[np.ndarray]) -> np.ndarray:
    resnet = engine.dlib.face_recognition_model_v1(str(dat_path()))
    return np.array([np.asarray(v) for v in resnet.compute_face_descriptor(all_chips)], dtype=np.float32)


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> FastDescriptor:
    return FastDescriptor.load(dat_path(), tmp_path_factory.mktemp("models"))


def test_every_test_photo_gives_faces(chips: dict[str, list[np.ndarray]]) -> None:
    assert chips, f"no photos under {FACES_DIR}"
    assert all(faces for faces in chips.values()), [name for name, faces in chips.items() if not faces]
    assert len(chips["groups/obama_and_biden_2.jpg"]) == 3


def test_batch_matches_dlib(fast: FastDescriptor, all_chips: list[np.ndarray], dlib_reference: np.ndarray) -> None:
    vectors = fast.describe(all_chips)
    assert vectors.shape == (len(all_chips), 128) and vectors.dtype == np.float32
    assert np.abs(vectors - dlib_reference).max() <= TOLERANCE


def test_each_face_alone_matches_dlib(
    fast: FastDescriptor, all_chips: list[np.ndarray], dlib_reference: np.ndarray
) -> None:
    for chip, expected in zip(all_chips, dlib_reference, strict=True):
        assert np.abs(fast.describe([chip])[0] - expected).max() <= TOLERANCE


def test_more_faces_than_one_batch(fast: FastDescriptor, all_chips: list[np.ndarray]) -> None:
    many = (all_chips * (descriptor.BATCH_SIZE // len(all_chips) + 2))[: descriptor.BATCH_SIZE + 3]
    vectors = fast.describe(many)
    assert vectors.shape == (len(many), 128)
    assert np.abs(vectors[descriptor.BATCH_SIZE :] - fast.describe(many[descriptor.BATCH_SIZE :])).max() <= 1e-6


def test_engine_describes_with_the_fast_path(
    engine: facelib.Models, all_chips: list[np.ndarray], dlib_reference: np.ndarray
) -> None:
    if engine.choice.descriptor == "fast":
        assert isinstance(engine.fast, FastDescriptor)
    one = facelib.describe_chips(all_chips[:1], engine)
    batch = facelib.describe_chips(all_chips, engine)
    assert len(one) == 1 and len(batch) == len(all_chips)
    assert np.abs(one[0] - dlib_reference[0]).max() <= TOLERANCE
    assert np.abs(np.stack(batch) - dlib_reference).max() <= TOLERANCE


def test_no_chips_no_descriptors(fast: FastDescriptor) -> None:
    assert fast.describe([]).shape == (0, 128)


def test_wrong_chip_is_refused(fast: FastDescriptor) -> None:
    with pytest.raises(ValueError, match="150x150x3 uint8"):
        fast.describe([np.zeros((100, 100, 3), dtype=np.uint8)])


# ---- damaged model files


def corrupt_copy(folder: Path) -> Path:
    """The model with one layer's name changed: a file dlib would refuse too."""
    data = dat_path().read_bytes()
    path = folder / "corrupt.dat"
    path.write_bytes(data.replace(b"relu_", b"relx_", 1))
    return path


def truncated_copy(folder: Path) -> Path:
    data = dat_path().read_bytes()
    path = folder / "truncated.dat"
    path.write_bytes(data[: len(data) // 2])
    return path


DAMAGED = {"corrupt": (corrupt_copy, "expected relu_"), "truncated": (truncated_copy, "ends early")}


@pytest.mark.parametrize("kind", DAMAGED)
def test_damaged_model_file_is_named(kind: str, tmp_path: Path) -> None:
    make, reason = DAMAGED[kind]
    path = make(tmp_path)
    with pytest.raises(ModelFileError, match=reason) as caught:
        FastDescriptor.load(path, tmp_path / "models")
    assert caught.value.path == path and str(path) in str(caught.value)
    assert not list((tmp_path / "models").glob("*.onnx"))


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="missing.dat"):
        FastDescriptor.load(tmp_path / "missing.dat", tmp_path / "models")


@pytest.mark.parametrize("kind", DAMAGED)
def test_engine_falls_back_to_dlib_with_a_warning(
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    all_chips: list[np.ndarray],
    dlib_reference: np.ndarray,
) -> None:
    path = DAMAGED[kind][0](tmp_path)
    real = descriptor.best_describer
    # The engine's own .dat stays good for dlib; only the fast path is handed the damaged copy.
    monkeypatch.setattr(descriptor, "best_describer", lambda _dat, cache: real(path, cache))
    with pytest.warns(RuntimeWarning, match=re.escape(str(path))):
        engine = facelib.Models(ModelSettings(tmp_path / "models"))
    assert engine.fast is None
    vectors = facelib.describe_chips(all_chips[:3], engine)
    # Bit-identical to dlib: the descriptors came from dlib's own network.
    assert np.array_equal(np.stack(vectors), dlib_reference[:3])


def test_dlib_chosen_by_the_settings(tmp_path: Path, recwarn) -> None:
    settings = load(env_file=None, environ={"FACEREC_DESCRIPTOR": "dlib", "FACEREC_MODEL_DIR": str(tmp_path)})
    engine = facelib.Models(settings.models)
    assert engine.fast is None and not recwarn.list
    assert not list(tmp_path.glob("dlib_face_resnet*"))  # nothing converted that is not used


# ---- the converted model's cache


def test_cache_is_private_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = FastDescriptor.load(dat_path(), tmp_path / "models")
    before = first.model_path.stat()
    assert stat.S_IMODE(before.st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "models").stat().st_mode) == 0o700

    def never(*_args, **_kwargs):
        raise AssertionError("the cached model was rebuilt")

    monkeypatch.setattr(descriptor, "parse_network", never)
    monkeypatch.setattr(descriptor, "build_onnx", never)
    second = FastDescriptor.load(dat_path(), tmp_path / "models")
    after = second.model_path.stat()
    assert second.model_path == first.model_path
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [first.model_path.name]


def test_damaged_cache_is_rebuilt(tmp_path: Path, all_chips: list[np.ndarray], dlib_reference: np.ndarray) -> None:
    first = FastDescriptor.load(dat_path(), tmp_path)
    first.model_path.write_bytes(b"not a model")
    again = FastDescriptor.load(dat_path(), tmp_path)
    assert stat.S_IMODE(again.model_path.stat().st_mode) == 0o600
    assert np.abs(again.describe(all_chips[:1])[0] - dlib_reference[0]).max() <= TOLERANCE


def test_cache_key_follows_the_model_file() -> None:
    data = dat_path().read_bytes()
    assert descriptor.cache_name(data) == descriptor.cache_name(bytes(data))
    assert descriptor.cache_name(data) != descriptor.cache_name(data[:-1] + bytes([data[-1] ^ 1]))
