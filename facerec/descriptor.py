"""dlib's 128-d face descriptor, computed by onnxruntime instead of dlib-bin.

dlib-bin is built without BLAS, so its ResNet takes some 100 ms a face. This module
reads the same network's weights from `dlib_face_recognition_resnet_model_v1.dat`
(dlib's own serialisation of `anet_type` from dlib's dnn_face_recognition_ex.cpp),
rebuilds it as an ONNX graph, caches that graph owner-only in a folder the caller
names, and runs it with onnxruntime: the same numbers, several times sooner.

The .dat file is a nested dlib serialisation: the loss layer first, then every
layer's version number from the top of the network down to the input, then the
input layer and each layer's details from the bottom up. Tags and skips carry no
details, and add_prev names no tag, so the wiring comes from `anet_type` as written
in dlib's example; the file must match that layout layer for layer, as dlib itself
requires when it deserialises into `anet_type`.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facerec import paths

CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128
# Chips per onnxruntime call: larger batches gain little and cost memory.
BATCH_SIZE = 32
# Part of the cache key: bump it when the graph we build changes, so old caches are not used.
CONVERTER_VERSION = 1
FC_NO_BIAS = 1  # dlib's fc_bias_mode for fc_no_bias


class ModelFileError(ValueError):
    """The .dat file is not a dlib face-recognition ResNet we can read (corrupt or truncated)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


# ----------------------------------------------------------------------------------------
# The network, as dnn_face_recognition_ex.cpp declares it, top (loss side) to bottom.


@dataclass(frozen=True)
class Slot:
    """One level of `anet_type`: an add_layer (with the name dlib writes for it), a tag or a skip."""

    kind: str  # "layer", "tag" or "skip"
    name: str = ""  # for layers: the version string that starts their details
    args: tuple[int, ...] = ()  # template arguments the file must agree with


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


# ----------------------------------------------------------------------------------------
# The operations we read, bottom to top.


@dataclass(frozen=True)
class InputImage:
    mean: np.ndarray  # float32 (3,): dlib's avg_red, avg_green, avg_blue
    rows: int
    cols: int


@dataclass(frozen=True)
class Conv:
    weights: np.ndarray  # float32 (filters, channels, rows, cols)
    bias: np.ndarray  # float32 (filters,)
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    gamma: np.ndarray  # float32, broadcastable to NCHW: (1, k, 1, 1) or (1, k, nr, nc)
    beta: np.ndarray


@dataclass(frozen=True)
class Relu:
    pass


@dataclass(frozen=True)
class Pool:
    average: bool  # else max
    window: tuple[int, int]  # (0, 0): the whole input
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrev:
    tag: int


@dataclass(frozen=True)
class Tag:
    tag: int


@dataclass(frozen=True)
class Skip:
    tag: int


@dataclass(frozen=True)
class Dense:
    weights: np.ndarray  # float32 (inputs, outputs)
    bias: np.ndarray | None


Op = Conv | Affine | Relu | Pool | AddPrev | Tag | Skip | Dense


@dataclass(frozen=True)
class Network:
    input: InputImage
    ops: list[Op]  # bottom (next to the input) to top (under the loss)


# ----------------------------------------------------------------------------------------
# dlib's serialisation (dlib/serialize.h, dlib/float_details.h, dlib/dnn/tensor.h).


class _Reader:
    """dlib's binary encodings, read from bytes; every failure is a ModelFileError."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def fail(self, reason: str) -> ModelFileError:
        return ModelFileError(self.path, f"{reason} (at byte {self.pos} of {len(self.data)})")

    def take(self, count: int) -> bytes:
        if count > len(self.data) - self.pos:
            raise self.fail("the file ends early")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def signed(self, width: int) -> int:
        """A signed integer: a control byte (0x80 = negative, low nibble = byte count), then LE bytes."""
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > width:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def unsigned(self, width: int) -> int:
        control = self.take(1)[0]
        size = control & 0x8F  # dlib masks the three reserved bits only
        if size == 0 or size > width:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        return int.from_bytes(self.take(size), "little")

    def string(self) -> str:
        return self.take(self.unsigned(8)).decode("latin-1")

    def boolean(self) -> bool:
        value = self.take(1)
        if value not in (b"0", b"1"):
            raise self.fail(f"bad boolean {value!r}")
        return value == b"1"

    def real(self) -> float:
        """A float or double: an int64 mantissa and an int16 exponent, value = mantissa * 2**exponent."""
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            # dlib's pre-2013 text format; no model of this network uses it.
            raise self.fail("floating-point number in dlib's old text format")
        mantissa, exponent = self.signed(8), self.signed(2)
        specials = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        if exponent in specials:
            return specials[exponent]
        return math.ldexp(float(mantissa), exponent)

    def tensor(self) -> np.ndarray:
        """A resizable_tensor (version 2): n, k, nr, nc, then little-endian IEEE float32s."""
        version = self.signed(4)
        if version != 2:
            raise self.fail(f"unsupported tensor version {version}")
        shape = tuple(self.signed(8) for _ in range(4))
        if min(shape) < 0:
            raise self.fail(f"negative tensor dimension {shape}")
        count = math.prod(shape)
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        version = self.signed(4)
        if version != 1:
            raise self.fail(f"unsupported alias_tensor version {version}")
        shape = tuple(self.signed(8) for _ in range(4))
        if min(shape) < 0:
            raise self.fail(f"negative tensor dimension {shape}")
        return shape  # type: ignore[return-value]

    def expect_version(self, allowed: Sequence[int], what: str) -> int:
        version = self.signed(4)
        if version not in allowed:
            raise self.fail(f"unexpected {what} version {version}")
        return version

    def expect_name(self, *allowed: str) -> str:
        start = self.pos
        try:
            name = self.string()
        except ModelFileError:
            self.pos = start
            raise self.fail(f"expected {' or '.join(allowed)}") from None
        if name not in allowed:
            self.pos = start
            raise self.fail(f"expected {' or '.join(allowed)}, found {name[:40]!r}")
        return name


def parse_network(data: bytes, path: str | os.PathLike) -> Network:
    """The face-recognition ResNet in `data` (the bytes of `path`), or ModelFileError."""
    reader = _Reader(data, Path(path))
    _read_loss(reader)
    layout = anet_layout()
    versions = [_read_slot_version(reader, slot, last=i == len(layout) - 1) for i, slot in enumerate(layout)]
    image = _read_input(reader)
    ops: list[Op] = []
    for slot, version in reversed(list(zip(layout, versions, strict=True))):
        ops.append(_read_slot_details(reader, slot, version, bottom=not ops))
    if reader.pos != len(data):
        raise reader.fail("unexpected bytes after the network")
    _check_finite(ops, reader)
    return Network(image, ops)


def _read_loss(reader: _Reader) -> None:
    reader.expect_version([1], "add_loss_layer")
    if reader.expect_name("loss_metric_2", "loss_metric_") == "loss_metric_2":
        reader.real(), reader.real()  # margin and distance threshold: training only


def _read_slot_version(reader: _Reader, slot: Slot, last: bool) -> int:
    if slot.kind != "layer":
        return reader.expect_version([1], f"add_{slot.kind}_layer")
    # The add_layer holding the input layer has its own, later, versions.
    return reader.expect_version([2, 3] if last else [1, 2], "add_layer")


def _read_input(reader: _Reader) -> InputImage:
    reader.expect_name("input_rgb_image_sized")
    mean = np.array([reader.real() for _ in range(3)], dtype=np.float32)
    rows, cols = reader.unsigned(8), reader.unsigned(8)
    if (rows, cols) != (CHIP_SIZE, CHIP_SIZE):
        raise reader.fail(f"input size {rows}x{cols}, expected {CHIP_SIZE}x{CHIP_SIZE}")
    return InputImage(mean, rows, cols)


def _read_slot_details(reader: _Reader, slot: Slot, version: int, bottom: bool) -> Op:
    if slot.kind == "tag":
        return Tag(slot.args[0])
    if slot.kind == "skip":
        return Skip(slot.args[0])
    op = _LAYER_READERS[slot.name](reader, slot)
    _skip_layer_state(reader, version, bottom)
    return op


def _skip_layer_state(reader: _Reader, version: int, bottom: bool) -> None:
    """add_layer's training state after the details: three flags and cached tensors."""
    for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, get_output_..._disabled
        reader.boolean()
    reader.tensor(), reader.tensor()  # x_grad, cached_output
    if bottom:
        reader.tensor()  # grad_final
        if version >= 3:
            reader.unsigned(4)  # _sample_expansion_factor
    elif version >= 2:
        reader.tensor()  # params_grad


def _read_con(reader: _Reader, slot: Slot) -> Conv:
    reader.expect_name("con_4")
    params = reader.tensor().ravel()
    filters, rows, cols = reader.signed(8), reader.signed(8), reader.signed(8)
    stride = (reader.signed(4), reader.signed(4))
    padding = (reader.signed(4), reader.signed(4))
    _check_args(reader, "con", (filters, rows, cols, *stride), slot.args)
    # As dlib's con_ deserialiser: the padding must be the template's default.
    expected = tuple(0 if s != 1 else k // 2 for s, k in zip(stride, (rows, cols), strict=True))
    if padding != expected:
        raise reader.fail(f"con padding {padding}, expected {expected}")
    weight_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        reader.real()
    if weight_shape[0] != filters or weight_shape[2:] != (rows, cols) or math.prod(bias_shape) != filters:
        raise reader.fail(f"con filter shape {weight_shape} does not fit {filters} {rows}x{cols} filters")
    weights, bias = _split(reader, params, weight_shape, bias_shape)
    return Conv(weights, bias.reshape(filters), stride, padding)


def _read_affine(reader: _Reader, slot: Slot) -> Affine:
    reader.expect_name("affine_")
    params = reader.tensor().ravel()
    gamma_shape, beta_shape = reader.alias_tensor(), reader.alias_tensor()
    mode = reader.signed(4)
    if mode not in (0, 1) or gamma_shape != beta_shape or gamma_shape[0] != 1:
        raise reader.fail(f"bad affine layer (mode {mode}, gamma {gamma_shape}, beta {beta_shape})")
    gamma, beta = _split(reader, params, gamma_shape, beta_shape)
    # CONV_MODE's alias is (1, k, 1, 1), FC_MODE's (1, k, nr, nc): both broadcast over NCHW.
    return Affine(gamma, beta)


def _read_relu(reader: _Reader, slot: Slot) -> Relu:
    reader.expect_name("relu_")
    return Relu()


def _read_add_prev(reader: _Reader, slot: Slot) -> AddPrev:
    reader.expect_name("add_prev_")
    return AddPrev(slot.args[0])


def _read_pool(reader: _Reader, slot: Slot) -> Pool:
    name = reader.expect_name(slot.name)
    rows, cols = reader.signed(8), reader.signed(8)
    stride = (reader.signed(4), reader.signed(4))
    padding = (reader.signed(4), reader.signed(4))
    _check_args(reader, name, (rows, cols, *stride), slot.args)
    expected = tuple(0 if s != 1 else k // 2 for s, k in zip(stride, (rows, cols), strict=True))
    if padding != expected:
        raise reader.fail(f"pool padding {padding}, expected {expected}")
    return Pool(name.startswith("avg"), (rows, cols), stride, padding)


def _read_fc(reader: _Reader, slot: Slot) -> Dense:
    reader.expect_name("fc_2")
    outputs, inputs = reader.unsigned(8), reader.unsigned(8)
    params = reader.tensor().ravel()
    weight_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
    bias_mode = reader.signed(4)
    for _ in range(4):
        reader.real()
    _check_args(reader, "fc", (outputs, bias_mode), slot.args)
    if weight_shape != (inputs, outputs, 1, 1):
        raise reader.fail(f"fc weight shape {weight_shape} does not fit {inputs} inputs, {outputs} outputs")
    if bias_mode == FC_NO_BIAS:
        return Dense(_split(reader, params, weight_shape)[0].reshape(inputs, outputs), None)
    weights, bias = _split(reader, params, weight_shape, bias_shape)
    return Dense(weights.reshape(inputs, outputs), bias.reshape(outputs))


_LAYER_READERS = {
    "con_4": _read_con,
    "affine_": _read_affine,
    "relu_": _read_relu,
    "add_prev_": _read_add_prev,
    "avg_pool_2": _read_pool,
    "max_pool_2": _read_pool,
    "fc_2": _read_fc,
}


def _check_args(reader: _Reader, what: str, found: tuple[int, ...], expected: tuple[int, ...]) -> None:
    if found != expected:
        raise reader.fail(f"{what} layer with arguments {found}, anet_type has {expected}")


def _split(reader: _Reader, params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Cut a layer's flat parameter tensor into its alias tensors, in order."""
    sizes = [math.prod(s) for s in shapes]
    if sum(sizes) != params.size:
        raise reader.fail(f"{params.size} parameters for tensors of shapes {shapes}")
    cuts = np.cumsum([0, *sizes])
    return [params[a:b].reshape(s) for a, b, s in zip(cuts[:-1], cuts[1:], shapes, strict=True)]


def _check_finite(ops: list[Op], reader: _Reader) -> None:
    for index, op in enumerate(ops):
        arrays = [v for v in vars(op).values() if isinstance(v, np.ndarray)]
        if any(not np.isfinite(a).all() for a in arrays):
            raise ModelFileError(
                reader.path, f"layer {index} from the input ({type(op).__name__}) has non-finite weights"
            )


# ----------------------------------------------------------------------------------------
# The ONNX graph.


class _GraphBuilder:
    """Nodes and constants of an ONNX graph, with the NCHW shape (less the batch) of each value."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.constants: list = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def constant(self, array: np.ndarray, hint: str) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.constants.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        from onnx import helper

        output = output or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def model(self, name: str, inputs: list, outputs: list):
        """A checked onnx.ModelProto of the nodes so far, with these value infos in and out."""
        import onnx
        from onnx import helper

        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.constants)
        # Opset 17 has every operator used here; IR 8 is the version that goes with it.
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="facerec")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


Value = tuple[str, tuple[int, int, int]]  # (name, (channels, rows, cols))


def build_onnx(network: Network):
    """An onnx.ModelProto: uint8 chips (N, 150, 150, 3) RGB in, float32 descriptors (N, 128) out."""
    from onnx import TensorProto, helper

    g = _GraphBuilder()
    value = _input_tensor(g, network.input)
    tags: dict[int, Value] = {}
    for op in network.ops:
        value = _apply(g, op, value, tags)
    g.node("Identity", [value[0]], "descriptors")
    rows, cols = network.input.rows, network.input.cols
    return g.model(
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["batch", rows, cols, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["batch", value[1][0]])],
    )


def _input_tensor(g: _GraphBuilder, image: InputImage) -> Value:
    """dlib's input_rgb_image_sized: (pixel - channel mean) / 256, as float32, channels first."""
    from onnx import TensorProto

    pixels = g.node("Cast", ["chips"], to=TensorProto.FLOAT)
    centred = g.node("Sub", [pixels, g.constant(image.mean.reshape(1, 1, 1, 3), "mean")])
    # 1/256 is a power of two, so this multiply equals dlib's division exactly.
    scaled = g.node("Mul", [centred, g.constant(np.array(1 / 256, dtype=np.float32), "scale")])
    return g.node("Transpose", [scaled], perm=[0, 3, 1, 2]), (3, image.rows, image.cols)


def _apply(g: _GraphBuilder, op: Op, value: Value, tags: dict[int, Value]) -> Value:
    name, shape = value
    if isinstance(op, Tag):
        tags[op.tag] = value
        return value
    if isinstance(op, Skip):
        return tags[op.tag]
    if isinstance(op, Relu):
        return g.node("Relu", [name]), shape
    if isinstance(op, Affine):
        scaled = g.node("Mul", [name, g.constant(op.gamma, "gamma")])
        return g.node("Add", [scaled, g.constant(op.beta, "beta")]), shape
    if isinstance(op, Conv):
        return _conv(g, op, value)
    if isinstance(op, Pool):
        return _pool(g, op, value)
    if isinstance(op, AddPrev):
        return _add_prev(g, value, tags[op.tag])
    return _dense(g, op, value)


def _out_size(size: int, window: int, stride: int, padding: int) -> int:
    # dlib's (and ONNX's floor-mode) output size: 1 + (in + 2*pad - window) / stride
    return 1 + (size + 2 * padding - window) // stride


def _conv(g: _GraphBuilder, op: Conv, value: Value) -> Value:
    name, (_, rows, cols) = value
    filters, _, k_rows, k_cols = op.weights.shape
    (sy, sx), (py, px) = op.stride, op.padding
    out = g.node(
        "Conv",
        [name, g.constant(op.weights, "filters"), g.constant(op.bias, "bias")],
        kernel_shape=[k_rows, k_cols],
        strides=[sy, sx],
        pads=[py, px, py, px],
    )
    return out, (filters, _out_size(rows, k_rows, sy, py), _out_size(cols, k_cols, sx, px))


def _pool(g: _GraphBuilder, op: Pool, value: Value) -> Value:
    name, (channels, rows, cols) = value
    if op.window == (0, 0):  # dlib's *_pool_everything: one window over the whole input
        return g.node("GlobalAveragePool" if op.average else "GlobalMaxPool", [name]), (channels, 1, 1)
    (wy, wx), (sy, sx), (py, px) = op.window, op.stride, op.padding
    attrs = {"kernel_shape": [wy, wx], "strides": [sy, sx], "pads": [py, px, py, px]}
    if op.average:
        # dlib averages over the part of each window inside the image (cuDNN's
        # exclude-padding mode); this model's average pools have no padding anyway.
        out = g.node("AveragePool", [name], count_include_pad=0, **attrs)
    else:
        out = g.node("MaxPool", [name], **attrs)
    return out, (channels, _out_size(rows, wy, sy, py), _out_size(cols, wx, sx, px))


def _add_prev(g: _GraphBuilder, a: Value, b: Value) -> Value:
    """dlib's add_prev: the sum over the larger shape, each input zero-padded at its far end.

    In this network the down-sampling blocks add a 3x3 convolution output to a 4x4
    pooled input (8x8 halved), and 64 or 128 channels to 32 or 64.
    """
    shape = tuple(max(x, y) for x, y in zip(a[1], b[1], strict=True))
    return g.node("Add", [_pad_to(g, a, shape), _pad_to(g, b, shape)]), shape  # type: ignore[return-value]


def _pad_to(g: _GraphBuilder, value: Value, shape: tuple[int, ...]) -> str:
    name, own = value
    if own == shape:
        return name
    after = [0] + [want - have for want, have in zip(shape, own, strict=True)]
    pads = np.array([0, 0, 0, 0, *after], dtype=np.int64)
    return g.node("Pad", [name, g.constant(pads, "pads")], mode="constant")


def _dense(g: _GraphBuilder, op: Dense, value: Value) -> Value:
    flat = g.node("Flatten", [value[0]], axis=1)  # dlib's fc reads each sample as k*nr*nc values
    out = g.node("MatMul", [flat, g.constant(op.weights, "weights")])
    if op.bias is not None:
        out = g.node("Add", [out, g.constant(op.bias, "fc_bias")])
    return out, (op.weights.shape[1], 1, 1)


# ----------------------------------------------------------------------------------------
# The cached model and its session.


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


def read_model_file(dat_path: str | os.PathLike) -> bytes:
    """A dlib .dat file's bytes, or ModelFileError saying why they cannot be read."""
    try:
        return Path(dat_path).read_bytes()
    except OSError as exc:
        raise ModelFileError(dat_path, f"cannot read the model file: {exc}") from exc


def converted_file(model_path: Path, convert: Callable[[], bytes]) -> Path:
    """The converted model cached at model_path, converted (and cached owner-only) when it is not there."""
    paths.private_dir(model_path.parent)
    if not model_path.is_file():
        paths.write_private(model_path, convert())
    return model_path


def converted_session(model_path: Path, convert: Callable[[], bytes]) -> tuple[Any, Path]:
    """A session on the converted model cached at model_path, converting (and caching owner-only) when needed.

    A damaged cache file (a crash mid-write before writes were atomic, a full disk) is converted again.
    """
    converted_file(model_path, convert)
    try:
        return _session(model_path), model_path
    except Exception:  # a damaged cache file: convert again
        paths.write_private(model_path, convert())
    return _session(model_path), model_path


def cache_name(dat_bytes: bytes) -> str:
    """The cached model's file name: the converter version and a hash of the .dat file."""
    digest = hashlib.sha256(dat_bytes).hexdigest()[:20]
    return f"dlib_face_resnet_v{CONVERTER_VERSION}_{digest}.onnx"


def _checked_chip(chip: np.ndarray) -> np.ndarray:
    chip = np.asarray(chip)
    if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3) or chip.dtype != np.uint8:
        raise ValueError(f"a face chip must be {CHIP_SIZE}x{CHIP_SIZE}x3 uint8, not {chip.shape} {chip.dtype}")
    return chip


def _session(model: Path | bytes):
    """An onnxruntime session on both cores, of a model file or a serialised model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning workers wait on a busy core: with the camera, the GUI or another process
    # on one of two cores, one face took 23 ms spinning and 12 ms not (4.1 vs 3.8 ms idle).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def best_describer(dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> FastDescriptor | None:
    """The fast descriptor, converted into `cache_dir`, or None (dlib's own is then used) if it cannot load."""
    return converted_or_none(FastDescriptor.load, dat_path, cache_dir, "descriptor")


def converted_or_none(
    load: Callable[[str | os.PathLike, str | os.PathLike], Any],
    dat_path: str | os.PathLike,
    cache_dir: str | os.PathLike,
    what: str,
) -> Any:
    """A converted dlib model loaded from its .dat, or None when it cannot load.

    Any failure to load warns (naming the file, through the error) and returns None: the converted
    models are an optimisation and must never stop the engine.
    """
    try:
        return load(dat_path, cache_dir)
    except Exception as exc:  # noqa: BLE001 - any failure means: use dlib's own
        warnings.warn(f"fast face {what} unavailable, using dlib's: {exc}", RuntimeWarning, stacklevel=3)
        return None
