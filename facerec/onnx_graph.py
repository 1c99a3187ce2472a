"""ONNX graphs of dlib's layers (facerec.dlib_format): a builder of nodes and constants, and each layer as nodes.

onnx is imported when a graph is built (at set-up, or when a converted model is missing), never to run one.
"""

from __future__ import annotations

import numpy as np

from facerec.dlib_format import AddPrev, Affine, Conv, Dense, Op, Pool, Relu, Skip, Tag

# Opset 17 has every operator used here; IR 8 is the version that goes with it.
OPSET = 17
IR_VERSION = 8


class GraphBuilder:
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
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facerec")
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model


Value = tuple[str, tuple[int, int, int]]  # (name, (channels, rows, cols))


def add_op(g: GraphBuilder, op: Op, value: Value, tags: dict[int, Value]) -> Value:
    """The nodes of one layer on `value`; `tags` holds the values tag layers marked, for skips and add_prev."""
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


def _conv(g: GraphBuilder, op: Conv, value: Value) -> Value:
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


def _pool(g: GraphBuilder, op: Pool, value: Value) -> Value:
    name, (channels, rows, cols) = value
    if op.window == (0, 0):  # dlib's *_pool_everything: one window over the whole input
        return g.node("GlobalAveragePool" if op.average else "GlobalMaxPool", [name]), (channels, 1, 1)
    (wy, wx), (sy, sx), (py, px) = op.window, op.stride, op.padding
    attrs = {"kernel_shape": [wy, wx], "strides": [sy, sx], "pads": [py, px, py, px]}
    if op.average:
        # dlib averages over the part of each window inside the image (cuDNN's
        # exclude-padding mode); the descriptor's average pools have no padding anyway.
        out = g.node("AveragePool", [name], count_include_pad=0, **attrs)
    else:
        out = g.node("MaxPool", [name], **attrs)
    return out, (channels, _out_size(rows, wy, sy, py), _out_size(cols, wx, sx, px))


def _add_prev(g: GraphBuilder, a: Value, b: Value) -> Value:
    """dlib's add_prev: the sum over the larger shape, each input zero-padded at its far end.

    In the descriptor's network the down-sampling blocks add a 3x3 convolution output to a 4x4
    pooled input (8x8 halved), and 64 or 128 channels to 32 or 64.
    """
    shape = tuple(max(x, y) for x, y in zip(a[1], b[1], strict=True))
    return g.node("Add", [_pad_to(g, a, shape), _pad_to(g, b, shape)]), shape  # type: ignore[return-value]


def _pad_to(g: GraphBuilder, value: Value, shape: tuple[int, ...]) -> str:
    name, own = value
    if own == shape:
        return name
    after = [0] + [want - have for want, have in zip(shape, own, strict=True)]
    pads = np.array([0, 0, 0, 0, *after], dtype=np.int64)
    return g.node("Pad", [name, g.constant(pads, "pads")], mode="constant")


def _dense(g: GraphBuilder, op: Dense, value: Value) -> Value:
    flat = g.node("Flatten", [value[0]], axis=1)  # dlib's fc reads each sample as k*nr*nc values
    out = g.node("MatMul", [flat, g.constant(op.weights, "weights")])
    if op.bias is not None:
        out = g.node("Add", [out, g.constant(op.bias, "fc_bias")])
    return out, (op.weights.shape[1], 1, 1)
