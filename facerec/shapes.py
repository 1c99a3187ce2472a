"""dlib's 68-point shape predictor in numpy, from a cached copy of its trees.

dlib-bin takes 0.37 s to read shape_predictor_68_face_landmarks.dat (99 MB of
floats in dlib's portable encoding) in every process that finds a face: a
quarter of a cold `check`. The same cascade read once (at set-up) into plain
arrays loads in milliseconds and predicts as dlib's `shape_predictor` does
(dlib/image_processing/shape_predictor.h): for each of the cascade's levels,
the similarity transform from the mean shape to the current one places the
level's 400 sample pixels, whose grey values steer 500 regression trees of
depth 4, whose leaves are summed into the shape in the trees' order.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from facerec import paths
from facerec.dlib_format import ModelFileError, Reader, read_model_file
from facerec.model_cache import cached_name, converted_or_none

CONVERTER_VERSION = 1
PAD = 8  # zero bytes after the file's, so that its last integers can be read as eight-byte words
DIGESTS = "digests.json"
ARRAYS = ("initial", "anchors", "deltas", "features", "thresholds", "leaves")


@dataclass(frozen=True)
class ShapeModel:
    """A shape predictor's cascade as arrays: L levels of T trees of depth D over F sample pixels, P points."""

    initial: np.ndarray  # (P, 2) float32: the mean shape, in the face box's unit square
    anchors: np.ndarray  # (L, F) int: the point each sample pixel is placed from
    deltas: np.ndarray  # (L, F, 2) float32: the sample pixel's offset from its point, in the mean shape
    features: np.ndarray  # (L, T, 2**D - 1, 2) int: the two sample pixels each split compares
    thresholds: np.ndarray  # (L, T, 2**D - 1) float32
    leaves: np.ndarray  # (L, T, 2**D, 2P) float32: what each leaf adds to the shape

    @classmethod
    def load(cls, dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> ShapeModel:
        """The model of the .dat file, from its copy in cache_dir (made first if it is not there, or damaged)."""
        cached = cls.convert(dat_path, cache_dir)[0]
        try:
            return cls.from_bytes(cached.read_bytes())
        except Exception:  # noqa: BLE001 - a damaged cache file (any of numpy's and zipfile's errors): convert again
            paths.write_private(cached, parse_shape_predictor(read_model_file(dat_path), dat_path).to_bytes())
            return cls.from_bytes(cached.read_bytes())

    @classmethod
    def convert(cls, dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> list[Path]:
        """The model's copy in cache_dir, made unless it is there already (set-up's step), and the file
        that remembers the model file's digest."""
        cached = Path(cache_dir) / cache_name(model_digest(Path(dat_path), Path(cache_dir)))
        if not cached.is_file():
            model = parse_shape_predictor(read_model_file(dat_path), dat_path)
            paths.write_private(cached, model.to_bytes())
        return [cached, Path(cache_dir) / DIGESTS]

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, **{name: getattr(self, name) for name in ARRAYS})
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShapeModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(*(arrays[name] for name in ARRAYS))

    def predict(self, pixels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The points of the face in `box` (left, top, right, bottom, inclusive) of an RGB uint8 image, as
        (P, 2) int pixels: what dlib.shape_predictor(path)(pixels, dlib.rectangle(*box)) finds."""
        left, top, right, bottom = box
        origin = np.array([left, top], dtype=np.float64)
        size = np.array([right - left, bottom - top], dtype=np.float64)
        _, trees, splits, _ = self.features.shape
        first_split, first_leaf = np.arange(trees) * splits, np.arange(trees) * (splits + 1)
        shape = self.initial
        rows = np.empty((trees + 1, self.leaves.shape[3]), dtype=np.float32)
        for level in range(len(self.leaves)):
            turn = similarity(self.initial, shape).astype(np.float32)
            placed = self.deltas[level] @ turn.T + shape[self.anchors[level]]
            grey = _grey_at(pixels, _rounded(placed * size + origin))
            pairs, thresholds = self.features[level].reshape(-1, 2), self.thresholds[level].reshape(-1)
            node = np.zeros(trees, dtype=np.int64)
            while node[0] < splits:  # every tree is full: all reach their leaves together
                at = first_split + node
                pair = pairs[at]
                node = 2 * node + 2 - (grey[pair[:, 0]] - grey[pair[:, 1]] > thresholds[at])
            rows[0] = shape.reshape(-1)
            np.take(
                self.leaves[level].reshape(trees * (splits + 1), -1), first_leaf + node - splits, axis=0, out=rows[1:]
            )
            # Summed down the rows, in the trees' order as dlib adds them, so that float32 rounds alike.
            shape = rows.sum(axis=0).reshape(-1, 2)
        return _rounded(shape * size + origin)


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x2 part (scale and rotation) of the least-squares similarity transform from `source` points to
    `target`'s, in double precision: dlib's find_similarity_transform (Umeyama's), whose SVD of the 2x2
    covariance comes, for a proper rotation, to this closed form."""
    source, target = source.astype(np.float64), target.astype(np.float64)
    source, target = source - source.mean(axis=0), target - target.mean(axis=0)
    spread = (source**2).sum()
    if not spread:
        return np.eye(2)
    cos = (source * target).sum() / spread
    sin = (source[:, 0] * target[:, 1] - source[:, 1] * target[:, 0]).sum() / spread
    return np.array([[cos, -sin], [sin, cos]])


def _rounded(points: np.ndarray) -> np.ndarray:
    """Whole pixels, rounded as dlib turns a vector<double> into a point (halves up)."""
    return np.floor(points + 0.5).astype(np.int64)


def _grey_at(pixels: np.ndarray, points: np.ndarray) -> np.ndarray:
    """dlib's get_pixel_intensity of an RGB pixel (the channels' integer mean) at each (x, y); 0 outside."""
    height, width = pixels.shape[:2]
    x, y = points[:, 0], points[:, 1]
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    grey = np.zeros(len(points), dtype=np.float32)
    chosen = pixels[y[inside], x[inside]].astype(np.int32)
    grey[inside] = chosen.sum(axis=1) // 3
    return grey


def best_shape_model(dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> ShapeModel | None:
    """The cached shape model, or None (dlib's own is then used) if it cannot load."""
    return converted_or_none(ShapeModel.load, dat_path, cache_dir, "landmarks")


def cache_name(digest: str) -> str:
    return cached_name("dlib_shape_predictor", CONVERTER_VERSION, digest, ".npz")


def model_digest(dat_path: Path, cache_dir: Path) -> str:
    """The SHA-256 of a model file, remembered in cache_dir by its path, size and time of change: hashing
    the 99 MB file would cost each process 0.14 s of the 0.37 s the cache saves."""
    memo = cache_dir / DIGESTS
    stat = dat_path.stat()
    key = f"{dat_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if not isinstance(known.get(key), str):
        known[key] = hashlib.sha256(read_model_file(dat_path)).hexdigest()
        paths.write_private(memo, json.dumps(known, indent=1).encode())
    return known[key]


# dlib's serialisation of a shape_predictor (version 1): the initial shape, the forests (per level, per
# tree: the splits' two pixel indices and threshold, then the leaves' shape vectors), the anchors, the deltas.


def parse_shape_predictor(data: bytes, path: str | os.PathLike) -> ShapeModel:
    """The shape predictor in `data` (the bytes of `path`), or ModelFileError saying what is wrong."""
    reader = _Reader(data, Path(path))
    if reader.integer() != 1:
        raise ModelFileError(path, "not a dlib shape predictor (unexpected version)")
    initial = reader.column()
    reader.expect_columns(len(initial))
    levels = [[_tree(reader) for _ in range(reader.integer())] for _ in range(reader.integer())]
    anchors = [[reader.integer() for _ in range(reader.integer())] for _ in range(reader.integer())]
    deltas = [[(reader.real(), reader.real()) for _ in range(reader.integer())] for _ in range(reader.integer())]
    if reader.pos != len(data):
        raise reader.fail("unexpected bytes after the shape predictor")
    try:
        model = ShapeModel(
            initial=np.asarray(initial, dtype=np.float32).reshape(-1, 2),
            anchors=np.asarray(anchors, dtype=np.int64),
            deltas=np.asarray(deltas, dtype=np.float32),
            features=np.asarray([[tree[0] for tree in level] for level in levels], dtype=np.int64),
            thresholds=np.asarray([[tree[1] for tree in level] for level in levels], dtype=np.float32),
            leaves=np.asarray([[tree[2] for tree in level] for level in levels], dtype=np.float32),
        )
    except ValueError as exc:  # ragged: trees of different depths, levels of different sizes
        raise ModelFileError(path, f"not a shape predictor of full trees: {exc}") from None
    _check(model, path)
    return model


def _tree(reader: _Reader) -> tuple[list[tuple[int, int]], list[float], list[list[float]]]:
    splits = [(reader.integer(), reader.integer(), reader.real()) for _ in range(reader.integer())]
    leaves = [reader.column() for _ in range(reader.integer())]
    return [(a, b) for a, b, _ in splits], [t for _, _, t in splits], leaves


def _check(model: ShapeModel, path: str | os.PathLike) -> None:
    levels, trees, splits, _ = model.features.shape
    points = len(model.initial)
    if model.leaves.shape != (levels, trees, splits + 1, 2 * points) or (splits + 1) & splits:
        raise ModelFileError(path, f"trees of {splits} splits and leaves {model.leaves.shape[2:]} do not fit")
    samples = model.anchors.shape[1]
    if model.deltas.shape != (levels, samples, 2) or model.features.max() >= samples or model.anchors.max() >= points:
        raise ModelFileError(path, "a split or a sample pixel points outside the model")


class _Reader(Reader):
    """dlib's portable integers and floats (dlib/serialize.h, dlib/float_details.h), read faster than
    facerec.dlib_format's reader does.

    The 68-point model holds 16 million numbers, nearly all in its leaves: columns of one size, each
    after the same header. Read one by one in Python they take 10 s; `expect_columns` finds every
    such header at once and reads all the columns after them together, a number's place at a time,
    which takes about a second. A header met inside other data is a candidate that is never asked for.
    """

    def __init__(self, data: bytes, path: Path) -> None:
        super().__init__(data, path, "shape_predictor")
        self._columns: dict[int, tuple[int, np.ndarray]] = {}

    def integer(self) -> int:
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise self.fail("the file ends early")
        control = data[pos]
        size = control & 0x0F
        if size == 0 or size > 8 or pos + 1 + size > len(data):
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(data[pos + 1 : pos + 1 + size], "little")
        self.pos = pos + 1 + size
        return -value if control & 0x80 else value

    def real(self) -> float:
        """An int64 mantissa and an int16 exponent: mantissa * 2**exponent."""
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's codes for inf, -inf and nan: no trained model holds them
            raise self.fail("a non-finite number")
        return math.ldexp(float(mantissa), exponent)

    def column(self) -> list[float] | np.ndarray:
        """A matrix<float,0,1>: its rows and columns (negated in dlib's current format), then its values."""
        if self.pos in self._columns:
            self.pos, values = self._columns[self.pos]
            return values
        rows, cols = self.integer(), self.integer()
        if rows < 0:
            rows, cols = -rows, -cols
        if cols != 1 or rows <= 0:
            raise self.fail(f"expected a column vector, not {rows}x{cols}")
        return [self.real() for _ in range(rows)]

    def expect_columns(self, rows: int) -> None:
        """Read at once every column of `rows` numbers after the current position (see the class)."""
        size = (rows.bit_length() + 7) // 8
        header = np.frombuffer(bytes([0x80 | size]) + rows.to_bytes(size, "little") + b"\x81\x01", np.uint8)
        data = np.frombuffer(self.data + bytes(PAD), np.uint8)
        tail = data[self.pos : len(data) - PAD]
        matches = np.ones(len(tail) - len(header) + 1, dtype=bool)
        for offset, byte in enumerate(header):
            matches &= tail[offset : offset + len(matches)] == byte
        starts = self.pos + np.flatnonzero(matches)
        # In chunks of a few MB: arrays of the whole file's numbers would spend their time in page faults.
        for chunk in np.array_split(starts, max(1, len(starts) * rows // 500_000)):
            ends, values, good = _read_reals(data, chunk + len(header), rows)
            self._columns.update(
                (int(s), (int(e), v)) for s, e, v in zip(chunk[good], ends[good], values[good], strict=True)
            )


def _read_reals(data: np.ndarray, starts: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` reals from each start in `data` (the file's bytes and PAD zeros): where each run ends,
    their values (len(starts), count) as float32, and whether each run is well formed. A run from a
    false start, or with a number no trained model holds, is not: such a column, if it is one, is
    then read one by one, which says where it goes wrong."""
    last = len(data) - PAD - 1
    # A column's numbers side by side, so that reading them goes through the file in order.
    fields = np.empty((2, len(starts), count), dtype=np.int64)
    pos = starts.copy()
    for place in range(count):
        for part in (0, 1):  # the mantissa, then the exponent
            fields[part, :, place] = pos
            pos = pos + 1 + (data[np.minimum(pos, last)] & 0x0F)
    (mantissa, whole), (exponent, short) = _integers(data, fields[0], 8), _integers(data, fields[1], 2)
    good = (whole & short & (exponent < 32000)).all(axis=1)
    values = np.ldexp(mantissa.astype(np.float64), exponent.astype(np.int32)).astype(np.float32)
    return pos, values, good


def _integers(data: np.ndarray, at: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The signed integers whose control bytes are at `at` in `data` (the file's bytes and PAD zeros), and
    whether each is one of at most `width` bytes inside the file."""
    last = len(data) - PAD - 1
    control = data[np.minimum(at, last)]
    size = (control & 0x0F).astype(np.uint64)
    good = (size > 0) & (size <= width) & (at + size.astype(np.int64) <= last)
    # The eight bytes after each control byte as one little-endian word, cut to the integer's size.
    words = sliding_window_view(data, 8)
    raw = np.ascontiguousarray(words[np.minimum(at + 1, last)]).view("<u8")[..., 0]
    keep = np.where(size >= 8, np.uint64(2**64 - 1), (np.uint64(1) << (np.uint64(8) * np.minimum(size, 7))) - 1)
    signed = (raw & keep).astype(np.int64)
    return np.where(control & 0x80, -signed, signed), good
