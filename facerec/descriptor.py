"""dlib's 128-d face descriptor, computed by onnxruntime instead of dlib-bin.

dlib-bin is built without BLAS, so its ResNet takes some 100 ms a face. This module
reads the same network's weights from `dlib_face_recognition_resnet_model_v1.dat`
(dlib's own serialisation of `anet_type` from dlib's dnn_face_recognition_ex.cpp, read
with facerec.dlib_format), rebuilds it as an ONNX graph (facerec.onnx_graph), caches that
graph owner-only in a folder the caller names (facerec.model_cache), and runs it with
onnxruntime: the same numbers, several times sooner.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facerec.dlib_format import (
    FC_NO_BIAS,
    Op,
    Reader,
    Slot,
    read_model_file,
    read_network,
)
from facerec.model_cache import cached_name, converted_file, converted_or_none, converted_session
from facerec.onnx_graph import GraphBuilder, Value, add_op

# The network's input and output: aligned 150x150 RGB face chips in, 128 numbers a face out.
CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128
# Chips per onnxruntime call: larger batches gain little and cost memory.
BATCH_SIZE = 32
# Part of the cache key: bump it when the graph we build changes, so old caches are not used.
CONVERTER_VERSION = 1


# ----------------------------------------------------------------------------------------
# The network, as dnn_face_recognition_ex.cpp declares it, top (loss side) to bottom.


def _con(filters: int, size: int, stride: int) -> Slot:
    return Slot("layer", "con_4", (filters, size, size, stride, stride))


AFFINE = Slot("layer", "affine_")
RELU = Slot("layer", "relu_")


def _block(filters: int, stride: int) -> list[Slot]:
    # block = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
    return [AFFINE, _con(filters, 3, 1), RELU, AFFINE, _con(filters, 3, stride)]


def _ares(filters: int) -> list[Slot]:
    # relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>
    return [RELU, Slot("layer", "add_prev_", (1,)), *_block(filters, 1), Slot("tag", args=(1,))]


def _ares_down(filters: int) -> list[Slot]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>
    return [
        RELU,
        Slot("layer", "add_prev_", (2,)),
        Slot("layer", "avg_pool_2", (2, 2, 2, 2)),
        Slot("skip", args=(1,)),
        Slot("tag", args=(2,)),
        *_block(filters, 2),
        Slot("tag", args=(1,)),
    ]


def anet_layout() -> list[Slot]:
    """`anet_type` below its loss layer, top to bottom, ending with the layer on the input."""
    levels = [
        _ares_down(256),  # alevel0
        _ares(256) + _ares(256) + _ares_down(256),  # alevel1
        _ares(128) + _ares(128) + _ares_down(128),  # alevel2
        _ares(64) + _ares(64) + _ares(64) + _ares_down(64),  # alevel3
        _ares(32) + _ares(32) + _ares(32),  # alevel4
    ]
    head = [Slot("layer", "fc_2", (DESCRIPTOR_SIZE, FC_NO_BIAS)), Slot("layer", "avg_pool_2", (0, 0, 1, 1))]
    stem = [Slot("layer", "max_pool_2", (3, 3, 2, 2)), RELU, AFFINE, _con(32, 7, 2)]
    return head + [slot for level in levels for slot in level] + stem


@dataclass(frozen=True)
class InputImage:
    mean: np.ndarray  # float32 (3,): dlib's avg_red, avg_green, avg_blue
    rows: int
    cols: int


@dataclass(frozen=True)
class Network:
    input: InputImage
    ops: list[Op]  # bottom (next to the input) to top (under the loss)


# ----------------------------------------------------------------------------------------
# The .dat file.


def parse_network(data: bytes, path: str | os.PathLike) -> Network:
    """The face-recognition ResNet in `data` (the bytes of `path`), or ModelFileError."""
    reader = Reader(data, Path(path), "anet_type")
    _read_loss(reader)
    image, ops = read_network(reader, anet_layout(), _read_input)
    return Network(image, ops)


def _read_loss(reader: Reader) -> None:
    reader.expect_version([1], "add_loss_layer")
    if reader.expect_name("loss_metric_2", "loss_metric_") == "loss_metric_2":
        reader.real(), reader.real()  # margin and distance threshold: training only


def _read_input(reader: Reader) -> InputImage:
    reader.expect_name("input_rgb_image_sized")
    mean = np.array([reader.real() for _ in range(3)], dtype=np.float32)
    rows, cols = reader.unsigned(8), reader.unsigned(8)
    if (rows, cols) != (CHIP_SIZE, CHIP_SIZE):
        raise reader.fail(f"input size {rows}x{cols}, expected {CHIP_SIZE}x{CHIP_SIZE}")
    return InputImage(mean, rows, cols)


# ----------------------------------------------------------------------------------------
# The ONNX graph.


def build_onnx(network: Network):
    """An onnx.ModelProto: uint8 chips (N, 150, 150, 3) RGB in, float32 descriptors (N, 128) out."""
    from onnx import TensorProto, helper

    g = GraphBuilder()
    value = _input_tensor(g, network.input)
    tags: dict[int, Value] = {}
    for op in network.ops:
        value = add_op(g, op, value, tags)
    g.node("Identity", [value[0]], "descriptors")
    rows, cols = network.input.rows, network.input.cols
    return g.model(
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["batch", rows, cols, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["batch", value[1][0]])],
    )


def _input_tensor(g: GraphBuilder, image: InputImage) -> Value:
    """dlib's input_rgb_image_sized: (pixel - channel mean) / 256, as float32, channels first."""
    from onnx import TensorProto

    pixels = g.node("Cast", ["chips"], to=TensorProto.FLOAT)
    centred = g.node("Sub", [pixels, g.constant(image.mean.reshape(1, 1, 1, 3), "mean")])
    # 1/256 is a power of two, so this multiply equals dlib's division exactly.
    scaled = g.node("Mul", [centred, g.constant(np.array(1 / 256, dtype=np.float32), "scale")])
    return g.node("Transpose", [scaled], perm=[0, 3, 1, 2]), (3, image.rows, image.cols)


# ----------------------------------------------------------------------------------------
# The converted model, run.


class FastDescriptor:
    """dlib's ResNet descriptor under onnxruntime: describe(chips) -> (n, 128) float32."""

    def __init__(self, session: Any, model_path: Path) -> None:
        self.session = session
        self.model_path = model_path

    @classmethod
    def load(cls, dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> FastDescriptor:
        """Read the .dat file, convert it once (cached in cache_dir, owner-only), open a session."""
        return cls(*converted_session(*cls._conversion(dat_path, cache_dir)))

    @classmethod
    def convert(cls, dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> list[Path]:
        """The converted model's file in cache_dir, converted unless it is there already (set-up's step)."""
        return [converted_file(*cls._conversion(dat_path, cache_dir))]

    @staticmethod
    def _conversion(dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> tuple[Path, Callable[[], bytes]]:
        """Where the .dat file's converted model is cached, and how to convert it."""
        data = read_model_file(dat_path)
        return Path(cache_dir) / cache_name(data), lambda: build_onnx(parse_network(data, dat_path)).SerializeToString()

    def describe(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Descriptors of aligned 150x150 RGB uint8 face chips, one row each."""
        if not len(chips):
            return np.empty((0, DESCRIPTOR_SIZE), dtype=np.float32)
        batch = np.stack([_checked_chip(c) for c in chips])
        parts = [
            self.session.run(["descriptors"], {"chips": batch[i : i + BATCH_SIZE]})[0]
            for i in range(0, len(batch), BATCH_SIZE)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)


def cache_name(dat_bytes: bytes) -> str:
    """The cached model's file name: the converter version and a hash of the .dat file."""
    return cached_name("dlib_face_resnet", CONVERTER_VERSION, hashlib.sha256(dat_bytes).hexdigest())


def _checked_chip(chip: np.ndarray) -> np.ndarray:
    chip = np.asarray(chip)
    if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3) or chip.dtype != np.uint8:
        raise ValueError(f"a face chip must be {CHIP_SIZE}x{CHIP_SIZE}x3 uint8, not {chip.shape} {chip.dtype}")
    return chip


def best_describer(dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> FastDescriptor | None:
    """The fast descriptor, converted into `cache_dir`, or None (dlib's own is then used) if it cannot load."""
    return converted_or_none(FastDescriptor.load, dat_path, cache_dir, "descriptor")
