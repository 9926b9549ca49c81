"""One ONNX node as a layer of the common model: conv and dense layers with their weights, the rest as ``other``.

Weights are never read here (except a folded conv weight whose shape only its values tell): each ``Weight`` reads
its bytes on first use.
"""

from __future__ import annotations

import numpy as np
import onnx

from inspector.errors import LoadError
from inspector.model.common import ConvLayer, DenseLayer, Layer, Weight
from inspector.model.findings import Finding
from inspector.model.layouts import onnx_conv_layout
from inspector.model.padding import AUTO_PAD_MODES, conv_pads, conv_transpose_pads
from inspector.plugins.onnx.attributes import NodeAttributes
from inspector.plugins.onnx.graph import GraphScope, Node

CONV_OPS = {"Conv": "conv", "ConvInteger": "conv", "QLinearConv": "conv", "ConvTranspose": "conv_transpose"}
_WEIGHT_POSITIONS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "ConvInteger": (1, None), "QLinearConv": (3, 8)}
"""Where each conv op takes its weight and its bias (``None``: it has none)."""


def _input(inputs: tuple[str, ...], position: int) -> str:
    return inputs[position] if len(inputs) > position else ""


def _weight(scope: GraphScope, tensor: str, role: str, layout: str, *, trainable: bool = True) -> Weight | None:
    if not tensor or not scope.is_constant(tensor):
        return None
    info = scope.constant(tensor)
    shape = info.shape if info.shape is not None else tuple(np.shape(info.read()))
    return Weight(
        role=role,
        source=info.source,
        native_shape=shape,
        native_layout=layout,
        dtype=info.dtype,
        trainable=trainable,
        read_native=info.read,
    )


def _dequantized(weight: Weight | None, scale: Weight | None, zero_point: Weight | None, where: str) -> Weight | None:
    """A ``QLinearConv`` weight as real numbers, ``(W - zero_point) * scale`` per output channel."""
    if weight is None or scale is None:
        return weight
    channels = weight.native_shape[0] if weight.native_shape else 1
    for part in (scale, zero_point):
        if part is not None and part.size not in (1, channels):
            raise LoadError(
                f"{where}: {part.source!r} holds {part.size} values; a weight of {channels} output channels "
                f"needs 1 or {channels}"
            )

    def read() -> np.ndarray:
        integers = weight.native.astype(np.float32)
        broadcast = (-1,) + (1,) * (integers.ndim - 1)
        offset = 0.0 if zero_point is None else zero_point.native.astype(np.float32).reshape(broadcast)
        return (integers - offset) * scale.native.astype(np.float32).reshape(broadcast)

    return Weight(
        role=weight.role,
        source=f"{weight.source} (dequantized)",
        native_shape=weight.native_shape,
        native_layout=weight.native_layout,
        dtype="float32",
        trainable=weight.trainable,
        read_native=read,
        parts=tuple(part for part in (weight, scale, zero_point) if part is not None),
    )


def node_layer(node: Node, scope: GraphScope, name: str, notes: list[Finding]) -> Layer:
    """The layer of ``node`` named ``name``; findings about a conv node that cannot be a conv layer go to ``notes``."""
    proto, inputs, outputs, op = node.proto, node.inputs, node.outputs, node.proto.op_type
    standard = proto.domain in ("", "ai.onnx")
    common = dict(
        name=name,
        source_op=op if standard else f"{proto.domain}.{op}",
        inputs=inputs,
        outputs=outputs,
        input_shape=scope.shape(inputs[0]) if inputs else None,
        output_shape=scope.shape(outputs[0]) if outputs else None,
    )
    if standard and op in CONV_OPS:
        conv = _conv_layer(proto, scope, common, notes)
        if conv is not None:
            return conv
    if standard and op in ("Gemm", "MatMul"):
        dense = _dense_layer(proto, scope, common)
        if dense is not None:
            return dense
    if standard and op == "BatchNormalization":
        roles = [("scale", True), ("B", True), ("mean", False), ("var", False)]
        weights = {
            role: w
            for position, (role, trainable) in enumerate(roles, start=1)
            if (w := _weight(scope, _input(inputs, position), role, "C", trainable=trainable)) is not None
        }
        stated = [a.f for a in proto.attribute if a.name == "epsilon" and a.type == onnx.AttributeProto.FLOAT]
        return Layer(kind="batch_norm", weights=weights, epsilon=stated[0] if stated else 1e-5, **common)
    weights = {}
    folding = bool(outputs) and scope.is_constant(outputs[0])  # part of a constant subgraph, not a layer's math
    for tensor in inputs if not folding else ():
        if tensor and scope.is_constant(tensor) and scope.dtype(tensor).startswith(("float", "bfloat")):
            weight = _weight(scope, tensor, tensor, "")  # "": stored as is
            if weight is not None:
                weights[tensor] = weight
    return Layer(kind="other", weights=weights, **common)


def _conv_layer(node: onnx.NodeProto, scope: GraphScope, common: dict, notes: list[Finding]) -> ConvLayer | None:
    op = node.op_type
    kind = CONV_OPS[op]
    positions = _WEIGHT_POSITIONS[op]
    inputs = common["inputs"]
    weight_name = _input(inputs, positions[0])
    if scope.is_constant(weight_name):
        constant = scope.constant(weight_name)
        weight_shape = constant.shape or scope.shape(weight_name)
        if weight_shape is None or not all(isinstance(d, int) for d in weight_shape):  # folded, not inferred:
            weight_shape = tuple(np.shape(constant.read()))  # its values tell (within --max-fold-mb)
    else:
        weight_shape = scope.shape(weight_name) if weight_name else None
    if weight_shape is None or len(weight_shape) < 3 or not all(isinstance(d, int) for d in weight_shape):
        return None
    rank = len(weight_shape) - 2
    layout = onnx_conv_layout(rank, transposed=kind == "conv_transpose") if rank <= 3 else ""
    weight = _weight(scope, weight_name, "W", layout)
    bias = _weight(scope, _input(inputs, positions[1]), "B", "O") if positions[1] is not None else None
    if op == "QLinearConv":
        weight = _dequantized(
            weight,
            _weight(scope, _input(inputs, 4), "w_scale", "O"),
            _weight(scope, _input(inputs, 5), "w_zero_point", "O"),
            scope.file_label,
        )
    attributes = NodeAttributes(node, scope.file_label)
    groups = attributes.integer("group", 1)
    kernel_shape = attributes.integers("kernel_shape", weight_shape[2:])
    strides = attributes.integers("strides", (1,) * rank)
    dilations = attributes.integers("dilations", (1,) * rank)
    output_padding = attributes.integers("output_padding", (0,) * rank)
    auto_pad = attributes.text("auto_pad", "NOTSET") or "NOTSET"
    input_shape = common["input_shape"]
    pads: tuple[int, ...] | None = attributes.integers("pads", (0,) * (2 * rank))
    target = attributes.integers("output_shape", ())[-rank:] if "output_shape" in attributes else None
    if auto_pad != "NOTSET" or (kind == "conv_transpose" and target is not None):
        spatial = tuple(input_shape[2:]) if input_shape is not None and len(input_shape) == rank + 2 else None
        known_spatial = spatial if spatial is not None and all(isinstance(d, int) for d in spatial) else None
        geometry = (kernel_shape, strides, dilations, output_padding, *([] if target is None else [target]))
        if (
            known_spatial is None
            or auto_pad.upper() not in AUTO_PAD_MODES
            or any(len(values) != rank for values in geometry)
            or min(strides + dilations) < 1
        ):
            pads = None  # unknown, or not computable: the parameter check names what is wrong
        elif kind == "conv":
            pads = conv_pads(auto_pad, known_spatial, kernel_shape, strides, dilations)
        elif target is not None and (reason := _unreachable_output(target, known_spatial, geometry)) is not None:
            notes.append(Finding(severity="error", check="output_shape", layer=common["name"], message=reason))
            pads = None
        else:
            pads = conv_transpose_pads(
                auto_pad, known_spatial, kernel_shape, strides, dilations, output_padding, target
            )
    channel = input_shape[1] if input_shape is not None and len(input_shape) > 1 else None
    if kind == "conv":
        in_channels = channel if isinstance(channel, int) else weight_shape[1] * groups
        out_channels = weight_shape[0]
    else:
        in_channels = channel if isinstance(channel, int) else weight_shape[0]
        out_channels = weight_shape[1] * groups
    return ConvLayer(
        kind=kind,
        weights={w.role: w for w in (weight, bias) if w is not None},
        rank=rank,
        in_channels=in_channels,
        out_channels=out_channels,
        groups=groups,
        kernel_shape=kernel_shape,
        strides=strides,
        dilations=dilations,
        pads=pads,
        output_padding=output_padding if kind == "conv_transpose" else None,
        auto_pad=auto_pad,
        quantized=op in ("ConvInteger", "QLinearConv"),
        weight=weight,
        bias=bias,
        **common,
    )


def _unreachable_output(
    target: tuple[int, ...], spatial: tuple[int, ...], geometry: tuple[tuple[int, ...], ...]
) -> str | None:
    """Why a ``ConvTranspose``'s ``output_shape`` cannot be made from its input, or ``None`` when it can: each axis
    gives from 1 to ``stride·(in−1) + output_padding + dilation·(k−1) + 1`` outputs, less its pads."""
    kernel, strides, dilations, output_padding = geometry[:4]
    for j, (out, n, k, s, d, extra) in enumerate(
        zip(target, spatial, kernel, strides, dilations, output_padding, strict=True)
    ):
        full = s * (n - 1) + extra + d * (k - 1) + 1
        if not 1 <= out <= full:
            return (
                f"output_shape {list(target)} cannot come from a {'×'.join(map(str, spatial))} input: axis {j} "
                f"gives 1 to {full:,} outputs (stride {s}, kernel {k}, dilation {d}, output_padding {extra})"
            )
    return None


def _dense_layer(node: onnx.NodeProto, scope: GraphScope, common: dict) -> DenseLayer | None:
    weight_name = _input(common["inputs"], 1)
    if not scope.is_constant(weight_name):
        return None
    transposed = node.op_type == "Gemm" and NodeAttributes(node, scope.file_label).integer("transB", 0) == 1
    weight = _weight(scope, weight_name, "W", "OI" if transposed else "IO")
    if weight is None or len(weight.native_shape) != 2:
        return None
    out_features, in_features = weight.shape
    bias = _weight(scope, _input(common["inputs"], 2), "C", "O") if node.op_type == "Gemm" else None
    return DenseLayer(
        kind="dense",
        weights={w.role: w for w in (weight, bias) if w is not None},
        in_features=in_features,
        out_features=out_features,
        weight=weight,
        bias=bias,
        **common,
    )


def not_a_conv_layer(op: str, layer: Layer) -> Finding:
    """What a conv node whose weight is missing, or of a shape unknown until the model runs, is told."""
    weight = _input(layer.inputs, _WEIGHT_POSITIONS[op][0])
    if not weight:
        message = f"the {op} node has no weight input, which ONNX requires: it cannot compute"
        return Finding(severity="error", check="params", layer=layer.name, message=message)
    message = f"weight is computed at run time ({weight!r}), of a shape known only then: not checked as a conv layer"
    return Finding(severity="warning", check="params", layer=layer.name, message=message)
