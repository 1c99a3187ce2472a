"""dlib's CNN face detector (MMOD), computed by onnxruntime instead of dlib-bin.

dlib-bin has no BLAS, so `cnn_face_detection_model_v1(path)(image, 1)` takes tens of
seconds a photo. This module reads the same network from `mmod_human_face_detector.dat`
(dlib's serialisation, read with facerec.dlib_format), rebuilds it as an ONNX graph
(facerec.onnx_graph) cached owner-only beside the descriptor's (facerec.model_cache), and
reproduces around it what dlib does in Python's `detector(image, upsample_num_times)`:

1. pyramid_up with pyramid_down<2> once per upsampling: a bilinear resize to
   (2*rows + 1) x (2*cols + 2) pixels (dlib/image_transforms/interpolation.h).
2. input_rgb_image_pyramid<pyramid_down<6>>: (pixel - mean) / 256 in float32, tiled with
   every level 5/6 the size of the one before, each level a float bilinear resize of the
   previous one, 10 px between levels and 11 px around them (dlib/dnn/input.h,
   compute_tiled_image_pyramid_details in dlib/image_transforms/image_pyramid.h). One small
   onnxruntime graph of any size does every resize (Resize in align_corners mode is dlib's
   x * (in - 1) / (out - 1) mapping; it rounds differently from dlib in the last bits,
   which moves scores by at most ~6e-4 on our photos).
3. The network: three 5x5 stride-2 convolutions (16, 32, 32 filters), three 5x5 ones
   (45 filters), each followed by batch norm (frozen: affine) and relu, then one 9x9
   convolution to a single score map. For speed (same scores but for float rounding) the
   45-channel layers are padded with zero channels to 48 and the 9x9 convolution runs
   as 81 one-tap maps summed, both so that onnxruntime's blocked kernels take them; and
   the network runs over the tiled image in bands of rows, each with the rows its edge
   scores read, so that the memory a run holds stays small enough to keep between runs.
4. loss_mmod's to_label: every output cell scoring above 0 is a detection window (80x80
   for this model, from the file) centred at 8*cell + 14 in the tiled image, mapped to
   the pyramid level nearest its centre and up to the image; detections sorted by score,
   and a box dropped when it overlaps a kept one (test_box_overlap with the file's
   thresholds); then each box mapped down through the upsampling.

Boxes come out as dlib's: inclusive pixel corners, rounded as dlib rounds.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facerec.dlib_format import (
    Affine,
    Conv,
    Reader,
    Slot,
    read_model_file,
    read_network,
)
from facerec.model_cache import cached_name, converted_file, converted_or_none, converted_session, open_session
from facerec.onnx_graph import GraphBuilder, add_op

# Part of the cache key: bump it when the graph we build changes.
CONVERTER_VERSION = 4
# The resize graph's cached file (it depends on no model file).
RESIZE_MODEL = "dlib_resize_image_v1.onnx"
# dlib's input_rgb_image_pyramid lays levels out 5/6 the size of the one before (pyramid_down<6>).
PYRAMID_RATE = 5.0 / 6.0
MIN_LEVEL_HEIGHT = 5  # compute_tiled_image_pyramid_details stops below this height
# Padding of the tiled pyramid, for files written before input_rgb_image_pyramid2 recorded it.
DEFAULT_PADDING, DEFAULT_OUTER_PADDING = 10, 11

# The network of dnn_mmod_face_detection_ex.cpp, from the input up: (filters, size, stride).
LAYOUT = ((16, 5, 2), (32, 5, 2), (32, 5, 2), (45, 5, 1), (45, 5, 1), (45, 5, 1))
HEAD = (1, 9, 1)
# onnxruntime's blocked convolution kernels take channels in blocks of 16 (8 without AVX-512)
CHANNEL_BLOCK = 16
END = np.iinfo(np.int64).max  # an ONNX Slice end meaning: to the end
# The network runs over the tiled pyramid in bands of about this many rows: the memory a run
# holds (kept by onnxruntime's arena, see FastDetector) shrinks with the band, and each band
# reruns the 188 rows its edge rows read. Measured on a 1920x1080 photo: peak 574 bytes a
# pixel at 3072 rows, 729 at 4096 (and 1261 in one piece), for 2% more time than 4096.
BAND_ROWS = 3072
# How long the sessions, and the memory their arenas keep, outlive the last detection (see FastDetector).
IDLE_RELEASE_S = 10.0


def _cell_to_input() -> tuple[int, int, int, int]:
    """(stride, offset, above, below): output cell c is centred on input pixel stride*c + offset and
    reads the input from stride*c - above to stride*c + below.

    dlib's con_::map_output_to_input, p*stride - padding + size/2, through every layer
    from the head down (stride-1 layers pad size/2, stride-2 ones not at all); a layer's
    window reaches from -padding to size - 1 - padding around p*stride.
    """
    stride, offset, low, high = 1, 0, 0, 0
    for _, size, step in (HEAD, *reversed(LAYOUT)):
        padding = size // 2 if step == 1 else 0
        stride = stride * step
        offset = offset * step - padding + size // 2
        low, high = low * step - padding, high * step - padding + size - 1
    return stride, offset, -low, high


# 8, 14, 80 and 108 for this network
CELL_STRIDE, CELL_OFFSET, REACH_ABOVE, REACH_BELOW = _cell_to_input()


def score_rows(rows: int) -> int:
    """How many rows the score map of an input of `rows` rows has (only the stride-2 layers shrink it)."""
    for _, size, step in LAYOUT:
        if step != 1:
            rows = (rows - size) // step + 1
    return rows


@dataclass(frozen=True)
class Band:
    """Input rows [first, end) give the score rows [first_score, end_score) exactly as the whole input would.

    A band's other score rows see its cut edges as zero padding, so they are left out.
    """

    first: int
    end: int
    first_score: int
    end_score: int

    @property
    def kept(self) -> slice:
        """The exact rows within the band's own score map."""
        offset = self.first // CELL_STRIDE
        return slice(self.first_score - offset, self.end_score - offset)


def bands(rows: int, band_rows: int) -> list[Band]:
    """The input's rows cut into bands of about band_rows rows, each with the rows around it its scores read."""
    total = score_rows(rows)
    count = max(1, math.ceil(total * CELL_STRIDE / band_rows))
    edges = [round(i * total / count) for i in range(count + 1)]
    return [
        Band(max(0, CELL_STRIDE * a - REACH_ABOVE), min(rows, CELL_STRIDE * (b - 1) + REACH_BELOW + 1), a, b)
        for a, b in zip(edges, edges[1:], strict=False)
    ]


@dataclass(frozen=True)
class Overlap:
    """dlib's test_box_overlap: boxes overlap when IoU, or the part of either one covered, is over a bound."""

    iou: float
    covered: float

    def __call__(self, a: np.ndarray, b: np.ndarray) -> bool:
        """a, b: inclusive integer boxes (left, top, right, bottom)."""
        width = min(a[2], b[2]) - max(a[0], b[0]) + 1
        height = min(a[3], b[3]) - max(a[1], b[1]) + 1
        if width <= 0 or height <= 0:
            return False
        inner = float(width * height)
        area_a = float((a[2] - a[0] + 1) * (a[3] - a[1] + 1))
        area_b = float((b[2] - b[0] + 1) * (b[3] - b[1] + 1))
        # dlib's (a+b).area(): the smallest box holding both
        outer = float((max(a[2], b[2]) - min(a[0], b[0]) + 1) * (max(a[3], b[3]) - min(a[1], b[1]) + 1))
        return inner / outer > self.iou or inner / area_a > self.covered or inner / area_b > self.covered


@dataclass(frozen=True)
class MmodOptions:
    windows: tuple[tuple[int, int], ...]  # (width, height) of each detector window
    nms: Overlap


@dataclass(frozen=True)
class Detector:
    """Everything the .dat file holds that detection needs."""

    options: MmodOptions
    mean: np.ndarray  # float32 (3,): avg_red, avg_green, avg_blue
    padding: int
    outer_padding: int
    ops: list  # Conv, Affine and Relu from the input up


@dataclass(frozen=True)
class Detection:
    """One face as dlib reports it: inclusive pixel corners and the detector's score."""

    left: int
    top: int
    right: int
    bottom: int
    score: float


# ----------------------------------------------------------------------------------------
# The .dat file.


def parse_detector(data: bytes, path: str | os.PathLike) -> Detector:
    """The MMOD network in `data` (the bytes of `path`), or ModelFileError."""
    reader = Reader(data, Path(path), "the detector")
    reader.expect_version([1], "add_loss_layer")
    reader.expect_name("loss_mmod_")
    options = _read_options(reader)
    (mean, padding, outer), ops = read_network(reader, detector_layout(), _read_input)
    return Detector(options, mean, padding, outer, ops)


def detector_layout() -> list[Slot]:
    """The network below its loss layer, top to bottom: the head, then (relu, batch norm, con) per layer."""
    con = [Slot("layer", "con_4", (filters, size, size, stride, stride)) for filters, size, stride in (HEAD, *LAYOUT)]
    relu, bn = Slot("layer", "relu_"), Slot("layer", "bn_con2")
    return [con[0]] + [slot for layer in reversed(con[1:]) for slot in (relu, bn, layer)]


def _read_options(reader: Reader) -> MmodOptions:
    """mmod_options as dlib writes them (version 1 to 4)."""
    version = reader.expect_version([1, 2, 3, 4], "mmod_options")
    windows = []
    # Version 1 held one window's size; later versions a list of (width, height[, label]).
    for _ in range(1 if version == 1 else reader.unsigned(8)):
        width, height = reader.unsigned(8), reader.unsigned(8)
        if version >= 3:
            reader.string()  # the window's label
        windows.append((width, height))
    if not windows or any(w <= 0 or h <= 0 for w, h in windows):
        raise reader.fail(f"bad detector windows {windows}")
    reader.real(), reader.real(), reader.real()  # loss per false alarm / missed target, truth match IoU
    nms = Overlap(reader.real(), reader.real())
    reader.real(), reader.real()  # overlaps_ignore: training only
    if version >= 2:
        reader.signed(4)  # use_image_pyramid
    if version >= 4:
        if reader.boolean():
            raise reader.fail("bounding-box regression is not supported")
        reader.real()
    return MmodOptions(tuple(windows), nms)


def _read_input(reader: Reader) -> tuple[np.ndarray, int, int]:
    name = reader.expect_name("input_rgb_image_pyramid", "input_rgb_image_pyramid2")
    mean = np.array([reader.real() for _ in range(3)], dtype=np.float32)
    if name.endswith("2"):
        return mean, reader.unsigned(8), reader.unsigned(8)
    return mean, DEFAULT_PADDING, DEFAULT_OUTER_PADDING


# ----------------------------------------------------------------------------------------
# The ONNX graph: the tiled pyramid (1, 3, rows, cols) in, the score map (1, 1, r, c) out.


def build_onnx(detector: Detector):
    from onnx import TensorProto, helper

    g = GraphBuilder()
    value = ("pyramid", (3, 0, 0))  # sizes vary per image; add_op's bookkeeping of them is unused
    *body, head = _channels_padded(detector.ops, CHANNEL_BLOCK)
    for op in body:
        value = add_op(g, op, value, {})
    _head(g, head, value[0], "scores")
    return g.model(
        "dlib_mmod_human_face_detector",
        [helper.make_tensor_value_info("pyramid", TensorProto.FLOAT, [1, 3, "rows", "cols"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, None, None])],
    )


def _channels_padded(ops: list, block: int) -> list:
    """The same network with every layer's channels padded with zeros to a multiple of `block`.

    onnxruntime runs a convolution in its blocked (NCHWc) kernels only when its channels are
    whole blocks; the 45-channel layers ran a fifth slower outside them. A padded channel's
    weights, bias and batch norm are zero, so it stays zero through the relu and adds
    nothing to the next layer: only float rounding differs.
    """
    padded, extra_in = [], 0
    for op in ops:
        if isinstance(op, Conv):
            filters = op.weights.shape[0]
            extra_out = 0 if op is ops[-1] else -filters % block
            weights = np.pad(op.weights, ((0, extra_out), (0, extra_in), (0, 0), (0, 0)))
            padded.append(Conv(weights, np.pad(op.bias, (0, extra_out)), op.stride, op.padding))
            extra_in = extra_out
        elif isinstance(op, Affine):
            pad = ((0, 0), (0, extra_in), (0, 0), (0, 0))
            padded.append(Affine(np.pad(op.gamma, pad), np.pad(op.beta, pad)))
        else:
            padded.append(op)
    return padded


def _head(g: GraphBuilder, op: Conv, value: str, output: str) -> str:
    """The 9x9 convolution to one score map, as a 1x1 convolution to 81 maps and their shifted sum.

    onnxruntime runs a convolution with one output channel outside its blocked kernels, at
    an eighth of their speed; 81 outputs (one per kernel tap) run in the blocked kernels, and
    adding the maps, each shifted by its tap, is cheap. Only float rounding differs.
    """
    _, channels, size, _ = op.weights.shape
    pad = op.padding[0]
    # map dy * size + dx holds tap (dy, dx) of every channel
    taps = op.weights[0].transpose(1, 2, 0).reshape(size * size, channels, 1, 1)
    maps = g.node("Conv", [value, g.constant(np.ascontiguousarray(taps), "taps")], kernel_shape=[1, 1])
    maps = g.node("Pad", [maps, _ints(g, 0, 0, pad, pad, 0, 0, pad, pad)])
    # the taps of one column dx (every size-th map), shifted along the columns: one map per row of taps
    by_row = g.node("Sum", [_shifted(g, maps, (dx, END, size), 3, dx, size) for dx in range(size)])
    summed = g.node("Sum", [_shifted(g, by_row, (dy, dy + 1, 1), 2, dy, size) for dy in range(size)])
    return g.node("Add", [summed, g.constant(op.bias.reshape(1, 1, 1, 1), "bias")], output)


def _ints(g: GraphBuilder, *values: int) -> str:
    return g.constant(np.array(values, dtype=np.int64), "ints")


def _shifted(g: GraphBuilder, value: str, channels: tuple[int, int, int], axis: int, shift: int, size: int) -> str:
    """The maps `channels` (start, end, step) of value, cut along `axis` to the window starting at `shift`.

    The window is the padded length less size - 1, so its end counts back from the end.
    """
    start, end, step = channels
    window_end = shift - (size - 1) if shift < size - 1 else END
    starts, ends = _ints(g, start, shift), _ints(g, end, window_end)
    return g.node("Slice", [value, starts, ends, _ints(g, 1, axis), _ints(g, step, 1)])


# ----------------------------------------------------------------------------------------
# dlib's image pyramid.


def _round(x):
    """std::round: halves away from zero (how dlib turns a drectangle into a rectangle)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def upsampled_size(rows: int, cols: int) -> tuple[int, int]:
    """pyramid_up's output size with pyramid_down<2>: rect_up of the image's rectangle, rounded."""
    bottom = _round((rows - 1 + 0.75) * 2)
    right = _round((cols - 1 + 1.25) * 2)
    return int(bottom) + 1, int(right) + 1


def level_sizes(rows: int, cols: int) -> list[tuple[int, int]]:
    """The pyramid's levels: find_pyramid_down_output_image_size for pyramid_down<6>, while 5 rows or more."""
    sizes = [(rows, cols)]
    while True:
        rows, cols = math.floor(PYRAMID_RATE * rows), math.floor(PYRAMID_RATE * cols)
        if rows * cols == 0 or rows < MIN_LEVEL_HEIGHT:
            return sizes
        sizes.append((rows, cols))


Level = tuple[int, int, int, int]  # (left, top, rows, cols) in the tiled image


def tile_layout(rows: int, cols: int, padding: int, outer: int) -> tuple[list[Level], int, int]:
    """compute_tiled_image_pyramid_details: where each level goes, and the tiled image's rows and cols.

    Levels go down a first column until the rest fits beside them, then back up the
    right-hand side, stopping before one would overlap the full-size image.
    """
    sizes = level_sizes(rows, cols)
    total_height = sum(r + padding for r, _ in sizes) - padding * 2
    height, prev_width = 0, 0
    for r, c in sizes:
        if c <= sizes[0][1] - prev_width - padding and (height - sizes[0][0]) * 2 >= total_height - sizes[0][0]:
            break
        height += r + padding
        prev_width = c
    height -= padding
    width = sizes[0][1]
    placed: list[Level] = []
    y, i = outer, 0
    while y < height + outer and i < len(sizes):
        placed.append((outer, y, *sizes[i]))
        y += sizes[i][0] + padding
        i += 1
    y -= padding
    first_bottom, first_right = outer + rows - 1, outer + cols - 1
    while i < len(sizes):
        r, c = sizes[i]
        right, bottom = outer + width - 1, y - 1
        left, top = right - (c - 1), bottom - (r - 1)
        if left <= first_right and top <= first_bottom and bottom >= outer:
            break
        placed.append((left, top, r, c))
        y -= r + padding
        i += 1
    return placed, height + outer * 2, width + outer * 2


@dataclass(frozen=True)
class Pyramid:
    """The tiled pyramid of one input size: how often it is upsampled, where each level goes, its rows and cols."""

    upsample: int
    levels: list[Level]
    rows: int
    cols: int

    @classmethod
    def of(cls, rows: int, cols: int, upsample: int, padding: int, outer: int) -> Pyramid:
        size = (rows, cols)
        for _ in range(upsample):
            size = upsampled_size(*size)
        return cls(upsample, *tile_layout(*size, padding, outer))

    def tiled(self, levels: list[np.ndarray], first: int = 0, end: int | None = None) -> np.ndarray:
        """Rows [first, end) of the tiled pyramid, (1, 3, rows, cols) float32, zero between levels as dlib leaves it."""
        end = self.rows if end is None else end
        data = np.zeros((1, 3, end - first, self.cols), dtype=np.float32)
        for (left, top, rows, cols), level in zip(self.levels, levels, strict=True):
            low, high = max(first, top), min(end, top + rows)
            if low < high:
                data[:, :, low - first : high - first, left : left + cols] = level[:, :, low - top : high - top]
        return data


def build_resize_onnx():
    """An onnx.ModelProto for dlib's bilinear resize_image of a (1, 3, rows, cols) float image to any size.

    Output pixel x samples the input at x * (in - 1) / (out - 1), which is ONNX Resize's
    align_corners mode. One graph of any size, so no session is made per image size.
    """
    from onnx import TensorProto, helper

    g = GraphBuilder()
    g.node(
        "Resize", ["image", "", "", "sizes"], "resized", mode="linear", coordinate_transformation_mode="align_corners"
    )
    return g.model(
        "dlib_resize_image",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "rows", "cols"]),
            helper.make_tensor_value_info("sizes", TensorProto.INT64, [4]),
        ],
        [helper.make_tensor_value_info("resized", TensorProto.FLOAT, [1, 3, "out_rows", "out_cols"])],
    )


# ----------------------------------------------------------------------------------------
# loss_mmod's detections.


def detections(
    scores: np.ndarray, rects: list[Level], detector: Detector, threshold: float = 0.0
) -> list[tuple[np.ndarray, float]]:
    """Boxes (float, tiled-pyramid level mapped to the input image) and scores after overlap suppression."""
    (width, height) = detector.options.windows[0]
    rs, cs = np.nonzero(scores > threshold)
    found = []
    for r, c in zip(rs.tolist(), cs.tolist(), strict=True):
        px, py = float(CELL_STRIDE * c + CELL_OFFSET), float(CELL_STRIDE * r + CELL_OFFSET)
        box = np.array([px - (width - 1) / 2, py - (height - 1) / 2, px + (width - 1) / 2, py + (height - 1) / 2])
        found.append((_to_image(box, (px, py), rects), float(scores[r, c])))
    found.sort(key=lambda d: d[1], reverse=True)
    kept: list[tuple[np.ndarray, float]] = []
    kept_int: list[np.ndarray] = []
    for box, score in found:
        as_int = _round(box)
        if any(detector.options.nms(k, as_int) for k in kept_int):
            continue
        kept.append((as_int, score))
        kept_int.append(as_int)
    return kept


def _to_image(box: np.ndarray, centre: tuple[float, float], rects: list[Level]) -> np.ndarray:
    """tiled_pyramid_to_image: the level nearest the box's centre, then point_up once per level."""
    x, y = centre
    best, best_distance = 0, math.inf
    for index, (left, top, rows, cols) in enumerate(rects):
        nx = min(max(x, left), left + cols - 1)
        ny = min(max(y, top), top + rows - 1)
        distance = math.hypot(x - nx, y - ny)
        if distance < best_distance:
            best, best_distance = index, distance
    left, top, _, _ = rects[best]
    box = box - np.array([left, top, left, top], dtype=np.float64)
    for _ in range(best):
        box = box / PYRAMID_RATE + 0.3
    return box


def _down_through_upsampling(box: np.ndarray, times: int) -> np.ndarray:
    """pyramid_down<2>::rect_down, `times` levels, then rounded to a dlib rectangle."""
    for _ in range(times):
        box = box / 2.0 - np.array([1.25, 0.75, 1.25, 0.75])
    return _round(box)


# ----------------------------------------------------------------------------------------
# The detector, run.


class FastDetector:
    """dlib's CNN face detector under onnxruntime: detect(pixels, upsample) -> [Detection].

    Its sessions keep onnxruntime's memory arena while photos keep coming: without it every
    run touches its working memory afresh, and on a 1.3 MP photo the page faults cost about
    a fifth of its time. An arena keeps its memory until its session goes, so the sessions
    are dropped IDLE_RELEASE_S after the last detection and made again (in milliseconds)
    for the next one.
    """

    def __init__(self, detector: Detector, model_path: Path, resize_path: Path, sessions: dict[Path, Any]) -> None:
        self.detector = detector
        self.model_path = model_path
        self.resize_path = resize_path
        self._sessions = sessions  # by model file: the network's and the resize graph's
        self._lock = threading.Lock()
        self._busy = 0
        self._release_timer: threading.Timer | None = None

    def _session(self, path: Path):
        """The session of one of our two models (made again after a release)."""
        with self._lock:
            if path not in self._sessions:
                self._sessions[path] = open_session(path)
            return self._sessions[path]

    def pyramid(self, rows: int, cols: int, upsample: int) -> Pyramid:
        """The tiled pyramid's layout for this input size."""
        d = self.detector
        return Pyramid.of(rows, cols, upsample, d.padding, d.outer_padding)

    def resize(self, image: np.ndarray, rows: int, cols: int) -> np.ndarray:
        """dlib's bilinear resize_image of a (1, 3, r, c) float32 image to (1, 3, rows, cols)."""
        sizes = np.array([1, 3, rows, cols], dtype=np.int64)
        return self._session(self.resize_path).run(["resized"], {"image": image, "sizes": sizes})[0]

    def level_arrays(self, pixels: np.ndarray, pyramid: Pyramid) -> list[np.ndarray]:
        """Every level of the pyramid of an RGB uint8 image, (1, 3, rows, cols) float32 each.

        The upsampled image is truncated to whole values, as dlib stores it in rgb_pixels.
        """
        value = np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)
        for _ in range(pyramid.upsample):
            value = np.floor(self.resize(value, *upsampled_size(*value.shape[2:])))
        value -= self.detector.mean.reshape(1, 3, 1, 1).astype(np.float32)
        value *= np.float32(1 / 256)
        levels = [value]
        for _, _, rows, cols in pyramid.levels[1:]:
            levels.append(self.resize(levels[-1], rows, cols))
        return levels

    def release(self) -> None:
        """Drop the sessions, and the memory their arenas hold, unless a detection is running."""
        with self._lock:
            if self._busy == 0:
                self._sessions.clear()

    def _hold(self) -> None:
        with self._lock:
            self._busy += 1
            if self._release_timer is not None:
                self._release_timer.cancel()
                self._release_timer = None

    def _let_go(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy == 0:
                self._release_timer = threading.Timer(IDLE_RELEASE_S, self.release)
                self._release_timer.daemon = True
                self._release_timer.start()

    @classmethod
    def load(cls, dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> FastDetector:
        """Read the .dat file, convert it once (cached in cache_dir, owner-only), open its sessions."""
        detector, conversions = cls._conversions(dat_path, cache_dir)
        (network, model_path), (resize, resize_path) = (converted_session(*c) for c in conversions)
        return cls(detector, model_path, resize_path, {model_path: network, resize_path: resize})

    @classmethod
    def convert(cls, dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> list[Path]:
        """The converted models' files in cache_dir, converted unless they are there already (set-up's step)."""
        return [converted_file(*c) for c in cls._conversions(dat_path, cache_dir)[1]]

    @staticmethod
    def _conversions(dat_path: str | os.PathLike, cache_dir: str | os.PathLike):
        """The .dat file's detector, and where its network and the resize graph are cached, with how to make each."""
        data = read_model_file(dat_path)
        detector = parse_detector(data, Path(dat_path))
        return detector, [
            (Path(cache_dir) / cache_name(data), lambda: build_onnx(detector).SerializeToString()),
            (Path(cache_dir) / RESIZE_MODEL, lambda: build_resize_onnx().SerializeToString()),
        ]

    def scores(self, pyramid: np.ndarray) -> np.ndarray:
        """The score map of a tiled pyramid, (rows, cols)."""
        return self._session(self.model_path).run(["scores"], {"pyramid": pyramid})[0][0, 0]

    def banded_scores(self, graph: Pyramid, levels: list[np.ndarray]) -> np.ndarray:
        """The score map of the tiled pyramid of `levels`, computed band by band (see BAND_ROWS)."""
        parts = []
        for band in bands(graph.rows, BAND_ROWS):
            parts.append(self.scores(graph.tiled(levels, band.first, band.end))[band.kept])
        return np.concatenate(parts)

    def detect(self, pixels: np.ndarray, upsample: int = 1) -> list[Detection]:
        """Faces in an RGB uint8 image as dlib's cnn_face_detection_model_v1(path)(pixels, upsample) finds them."""
        image = np.ascontiguousarray(pixels, dtype=np.uint8)
        self._hold()
        try:
            graph = self.pyramid(image.shape[0], image.shape[1], upsample)
            scores = self.banded_scores(graph, self.level_arrays(image, graph))
            found = detections(scores, graph.levels, self.detector)
        finally:
            self._let_go()
        out = []
        for box, score in found:
            left, top, right, bottom = (int(v) for v in _down_through_upsampling(box, upsample))
            out.append(Detection(left, top, right, bottom, score))
        return out


def cache_name(dat_bytes: bytes) -> str:
    """The cached network's file name: the converter version and a hash of the .dat file."""
    return cached_name("dlib_mmod_detector", CONVERTER_VERSION, hashlib.sha256(dat_bytes).hexdigest())


def dlib_detect(model, pixels: np.ndarray, upsample: int = 1) -> list[Detection]:
    """dlib's own CNN detector (a dlib.cnn_face_detection_model_v1), as Detections."""
    return [
        Detection(d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), float(d.confidence))
        for d in model(pixels, upsample)
    ]


def best_detector(dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> FastDetector | None:
    """The converted detector, converted into `cache_dir`, or None (dlib's own is then used) if it cannot load."""
    return converted_or_none(FastDetector.load, dat_path, cache_dir, "detector")
