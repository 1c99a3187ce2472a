"""dlib's model files: its serialisation (dlib/serialize.h, dlib/float_details.h, dlib/dnn/tensor.h) and the
layers of its networks as their serialize functions write them (dlib/dnn/layers.h).

A network's .dat file is a nested dlib serialisation: the loss layer first, then every layer's version
number from the top of the network down to the input, then the input layer and each layer's details from
the bottom up. Tags and skips carry no details, and add_prev names no tag, so the wiring comes from the
network's C++ type: each network (facerec.descriptor, facerec.detector) gives its layout as Slots, and the
file must match it layer for layer, as dlib itself requires when it deserialises into that type.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

FC_NO_BIAS = 1  # dlib's fc_bias_mode for fc_no_bias
InputLayer = TypeVar("InputLayer")


class ModelFileError(ValueError):
    """The .dat file is not a dlib model we can read (corrupt or truncated)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def read_model_file(dat_path: str | os.PathLike) -> bytes:
    """A dlib .dat file's bytes, or ModelFileError saying why they cannot be read."""
    try:
        return Path(dat_path).read_bytes()
    except OSError as exc:
        raise ModelFileError(dat_path, f"cannot read the model file: {exc}") from exc


# ----------------------------------------------------------------------------------------
# The layers, as read.


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
class Slot:
    """One level of a network's C++ type: an add_layer (with the name dlib writes for it), a tag or a skip."""

    kind: str  # "layer", "tag" or "skip"
    name: str = ""  # for layers: the version string that starts their details
    args: tuple[int, ...] = ()  # template arguments the file must agree with


# ----------------------------------------------------------------------------------------
# dlib's encodings.


class Reader:
    """dlib's binary encodings, read from bytes; every failure is a ModelFileError.

    `network` names the C++ type the file must match, for the errors that say it does not.
    """

    def __init__(self, data: bytes, path: Path, network: str) -> None:
        self.data = data
        self.pos = 0
        self.path = path
        self.network = network

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
            # dlib's pre-2013 text format; no model of these networks uses it.
            raise self.fail("floating-point number in dlib's old text format")
        mantissa, exponent = self.signed(8), self.signed(2)
        specials = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        if exponent in specials:
            return specials[exponent]
        return math.ldexp(float(mantissa), exponent)

    def tensor(self) -> np.ndarray:
        """A resizable_tensor (version 2): n, k, nr, nc, then little-endian IEEE float32s."""
        shape = self.tensor_shape("tensor", 2)
        count = math.prod(shape)
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        return self.tensor_shape("alias_tensor", 1)

    def tensor_shape(self, kind: str, version: int) -> tuple[int, int, int, int]:
        """n, k, nr, nc of a tensor whose serialization starts with `version`."""
        found = self.signed(4)
        if found != version:
            raise self.fail(f"unsupported {kind} version {found}")
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

    def expect_args(self, what: str, found: tuple[int, ...], expected: tuple[int, ...]) -> None:
        if found != expected:
            raise self.fail(f"{what} layer with arguments {found}, {self.network} has {expected}")

    def expect_end(self) -> None:
        if self.pos != len(self.data):
            raise self.fail("unexpected bytes after the network")


# ----------------------------------------------------------------------------------------
# A network's layers: their versions top down, then (after the input layer) their details bottom up.


def read_network(
    reader: Reader, layout: list[Slot], read_input: Callable[[Reader], InputLayer]
) -> tuple[InputLayer, list[Op]]:
    """The network below the loss layer, to the file's end: its input layer (`read_input`: each network has
    its own) and its layers, bottom to top, every weight finite."""
    versions = read_versions(reader, layout)
    input_layer = read_input(reader)
    ops = read_layers(reader, layout, versions)
    reader.expect_end()
    check_finite(ops, reader)
    return input_layer, ops


def read_versions(reader: Reader, layout: list[Slot]) -> list[int]:
    """The version of each level of `layout` (top to bottom, ending with the layer on the input)."""
    return [_read_slot_version(reader, slot, last=i == len(layout) - 1) for i, slot in enumerate(layout)]


def _read_slot_version(reader: Reader, slot: Slot, last: bool) -> int:
    if slot.kind != "layer":
        return reader.expect_version([1], f"add_{slot.kind}_layer")
    # The add_layer holding the input layer has its own, later, versions.
    return reader.expect_version([2, 3] if last else [1, 2], "add_layer")


def read_layers(reader: Reader, layout: list[Slot], versions: list[int]) -> list[Op]:
    """Each level's details, bottom (next to the input) to top, after the input layer's."""
    ops: list[Op] = []
    for slot, version in reversed(list(zip(layout, versions, strict=True))):
        ops.append(_read_slot_details(reader, slot, version, bottom=not ops))
    return ops


def _read_slot_details(reader: Reader, slot: Slot, version: int, bottom: bool) -> Op:
    if slot.kind == "tag":
        return Tag(slot.args[0])
    if slot.kind == "skip":
        return Skip(slot.args[0])
    op = _LAYER_READERS[slot.name](reader, slot.args)
    _skip_layer_state(reader, version, bottom)
    return op


def _skip_layer_state(reader: Reader, version: int, bottom: bool) -> None:
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


def check_finite(ops: list[Op], reader: Reader) -> None:
    for index, op in enumerate(ops):
        arrays = [v for v in vars(op).values() if isinstance(v, np.ndarray)]
        if any(not np.isfinite(a).all() for a in arrays):
            raise ModelFileError(
                reader.path, f"layer {index} from the input ({type(op).__name__}) has non-finite weights"
            )


# ----------------------------------------------------------------------------------------
# Each layer's details, checked against its template arguments.


def _default_padding(stride: tuple[int, int], size: tuple[int, int]) -> tuple[int, ...]:
    """The padding dlib's con_ and pool templates default to: half the window where the stride is 1."""
    return tuple(0 if s != 1 else k // 2 for s, k in zip(stride, size, strict=True))


def _read_con(reader: Reader, args: tuple[int, ...]) -> Conv:
    """con_<filters, rows, cols, stride_y, stride_x> = args."""
    reader.expect_name("con_4")
    params = reader.tensor().ravel()
    filters, rows, cols = reader.signed(8), reader.signed(8), reader.signed(8)
    stride = (reader.signed(4), reader.signed(4))
    padding = (reader.signed(4), reader.signed(4))
    reader.expect_args("con", (filters, rows, cols, *stride), args)
    # As dlib's con_ deserialiser: the padding must be the template's default.
    expected = _default_padding(stride, (rows, cols))
    if padding != expected:
        raise reader.fail(f"con padding {padding}, expected {expected}")
    weight_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        reader.real()
    if weight_shape[0] != filters or weight_shape[2:] != (rows, cols) or math.prod(bias_shape) != filters:
        raise reader.fail(f"con filter shape {weight_shape} does not fit {filters} {rows}x{cols} filters")
    weights, bias = _split(reader, params, weight_shape, bias_shape)
    return Conv(weights, bias.reshape(filters), stride, padding)


def _read_affine(reader: Reader, args: tuple[int, ...]) -> Affine:
    reader.expect_name("affine_")
    params = reader.tensor().ravel()
    gamma_shape, beta_shape = reader.alias_tensor(), reader.alias_tensor()
    mode = reader.signed(4)
    if mode not in (0, 1) or gamma_shape != beta_shape or gamma_shape[0] != 1:
        raise reader.fail(f"bad affine layer (mode {mode}, gamma {gamma_shape}, beta {beta_shape})")
    gamma, beta = _split(reader, params, gamma_shape, beta_shape)
    # CONV_MODE's alias is (1, k, 1, 1), FC_MODE's (1, k, nr, nc): both broadcast over NCHW.
    return Affine(gamma, beta)


def _read_bn(reader: Reader, args: tuple[int, ...]) -> Affine:
    """A batch-norm layer, frozen as dlib's affine_ does when it loads one: x * g + b."""
    reader.expect_name("bn_con2")
    params = reader.tensor().ravel()
    gamma_shape, beta_shape = reader.alias_tensor(), reader.alias_tensor()
    reader.tensor(), reader.tensor()  # means, invstds of the last training batch
    running_means, running_variances = reader.tensor(), reader.tensor()
    reader.unsigned(8), reader.unsigned(8)  # num_updates, running_stats_window_size
    for _ in range(4):
        reader.real()
    eps = np.float32(reader.real())
    gamma, beta = _split(reader, params, gamma_shape, beta_shape)
    g = (gamma.ravel() / np.sqrt(running_variances.ravel() + eps)).astype(np.float32)
    b = (beta.ravel() - g * running_means.ravel()).astype(np.float32)
    return Affine(g.reshape(1, -1, 1, 1), b.reshape(1, -1, 1, 1))


def _read_relu(reader: Reader, args: tuple[int, ...]) -> Relu:
    reader.expect_name("relu_")
    return Relu()


def _read_add_prev(reader: Reader, args: tuple[int, ...]) -> AddPrev:
    """add_prev<tag> = args: the tag is in the type only."""
    reader.expect_name("add_prev_")
    return AddPrev(args[0])


def _read_pool(name: str, reader: Reader, args: tuple[int, ...]) -> Pool:
    """avg_pool_ or max_pool_<rows, cols, stride_y, stride_x> = args."""
    reader.expect_name(name)
    rows, cols = reader.signed(8), reader.signed(8)
    stride = (reader.signed(4), reader.signed(4))
    padding = (reader.signed(4), reader.signed(4))
    reader.expect_args(name, (rows, cols, *stride), args)
    expected = _default_padding(stride, (rows, cols))
    if padding != expected:
        raise reader.fail(f"pool padding {padding}, expected {expected}")
    return Pool(name.startswith("avg"), (rows, cols), stride, padding)


def _read_fc(reader: Reader, args: tuple[int, ...]) -> Dense:
    """fc_<outputs, bias_mode> = args."""
    reader.expect_name("fc_2")
    outputs, inputs = reader.unsigned(8), reader.unsigned(8)
    params = reader.tensor().ravel()
    weight_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
    bias_mode = reader.signed(4)
    for _ in range(4):
        reader.real()
    reader.expect_args("fc", (outputs, bias_mode), args)
    if weight_shape != (inputs, outputs, 1, 1):
        raise reader.fail(f"fc weight shape {weight_shape} does not fit {inputs} inputs, {outputs} outputs")
    if bias_mode == FC_NO_BIAS:
        return Dense(_split(reader, params, weight_shape)[0].reshape(inputs, outputs), None)
    weights, bias = _split(reader, params, weight_shape, bias_shape)
    return Dense(weights.reshape(inputs, outputs), bias.reshape(outputs))


_LAYER_READERS: dict[str, Callable[[Reader, tuple[int, ...]], Op]] = {
    "con_4": _read_con,
    "affine_": _read_affine,
    "bn_con2": _read_bn,
    "relu_": _read_relu,
    "add_prev_": _read_add_prev,
    "avg_pool_2": partial(_read_pool, "avg_pool_2"),
    "max_pool_2": partial(_read_pool, "max_pool_2"),
    "fc_2": _read_fc,
}


def _split(reader: Reader, params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Cut a layer's flat parameter tensor into its alias tensors, in order."""
    sizes = [math.prod(s) for s in shapes]
    if sum(sizes) != params.size:
        raise reader.fail(f"{params.size} parameters for tensors of shapes {shapes}")
    cuts = np.cumsum([0, *sizes])
    return [params[a:b].reshape(s) for a, b, s in zip(cuts[:-1], cuts[1:], shapes, strict=True)]
