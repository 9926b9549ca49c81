"""Built-in loader: ONNX files into the common model.

Weights are never read here: shapes come from initializer dims and shape inference, and each ``Weight`` reads
its bytes (embedded, a memory-mapped external file, or a constant computed by ``onnx.reference``) on first use.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx

from inspector.errors import LoadError
from inspector.hookspecs import hookimpl
from inspector.model.budget import DEFAULT_FOLD_MB, MAX_NESTING
from inspector.model.common import ConvLayer, DenseLayer, Layer, Model, TensorInfo, Weight
from inspector.model.findings import Finding
from inspector.model.layouts import onnx_conv_layout
from inspector.model.padding import AUTO_PAD_MODES, conv_pads, conv_transpose_pads
from inspector.options import Options
from inspector.plugins.onnx.attributes import NodeAttributes
from inspector.plugins.onnx.graph import RANDOM_OPS, GraphScope, Node, named_subgraphs
from inspector.plugins.onnx.onnx_errors import NOT_INFERRED, UNREADABLE
from inspector.plugins.onnx.shapes import infer_shapes, open_dims
from inspector.plugins.onnx.strings import non_utf8_string

CONV_OPS = {"Conv": "conv", "ConvInteger": "conv", "QLinearConv": "conv", "ConvTranspose": "conv_transpose"}
_WEIGHT_POSITIONS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "ConvInteger": (1, None), "QLinearConv": (3, 8)}
"""Where each conv op takes its weight and its bias (``None``: it has none)."""
MAX_PROTO_BYTES = 2**31 - 1
"""protobuf's limit for one message: larger ONNX files are not valid (big weights live in external data)."""
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK"


def _looks_like_onnx(path: Path) -> bool:
    if path.suffix.lower() == ".onnx":
        return True
    with path.open("rb") as stream:
        head = stream.read(8)
    return head[:1] == b"\x08" and not head.startswith((_HDF5_MAGIC, _ZIP_MAGIC))


@hookimpl(trylast=True)
def load_model(path: Path, options: Options) -> Model | None:
    """Read ``path`` when it is an ONNX file."""
    if not _looks_like_onnx(path):
        return None
    return read_onnx(path, options.input_shapes, options.max_fold_mb)


def read_onnx(
    path: Path, input_shapes: Mapping[str, tuple[int, ...]] | None = None, max_fold_mb: float = DEFAULT_FOLD_MB
) -> Model:
    """Read an ONNX file into the common model (raises ``LoadError`` for a broken file).

    ``input_shapes`` sets open dims of named graph inputs (:mod:`inspector.model.input_shapes`); ``max_fold_mb``
    bounds each constant computed from the graph's nodes (:mod:`inspector.model.budget`).
    """
    size = path.stat().st_size
    if size > MAX_PROTO_BYTES:
        raise LoadError(f"{path}: {size:,} bytes, past protobuf's 2 GiB limit for an ONNX file")
    try:
        proto = onnx.load_model(str(path), format="protobuf", load_external_data=False)
    except UNREADABLE as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "MaxDepth" in reason or isinstance(error, RecursionError):
            reason = f"messages nested deeper than protobuf allows, control flow nested too deep? {reason}"
        raise LoadError(f"{path}: not a readable ONNX model ({reason})") from None
    if not proto.HasField("graph"):
        raise LoadError(f"{path}: ONNX file has no graph")
    _check_nesting(proto.graph, str(path))
    bad_string = non_utf8_string(proto)
    if bad_string is not None:
        raise LoadError(f"{path}: {bad_string[0]} is {bad_string[1]!r}, not UTF-8 text")
    open_dims(proto, input_shapes or {})
    producer = f"{proto.producer_name} {proto.producer_version}".strip() or "unknown"
    notes: list[Finding] = []
    lifted: dict[str, bytes] = {}
    try:
        inferred, lifted = infer_shapes(proto)
    except NOT_INFERRED as error:
        inferred = proto
        notes.append(
            Finding(
                severity="warning",
                check="shape_inference",
                layer=None,
                message=f"ONNX shape inference failed, shapes are partly unknown: {str(error).splitlines()[0]}",
            )
        )
    del proto  # its memory holds a copy of the lifted weights; ``inferred`` and ``lifted`` hold all that is needed
    scope = GraphScope(
        inferred.graph,
        model_dir=path.parent,
        file_label=str(path),
        opsets=list(inferred.opset_import),
        stored=lifted,
        fold_limit_mb=max_fold_mb,
    )
    layers: list[Layer] = []
    _walk(scope, prefix="", layers=layers, taken={}, constants=set())
    initializer_names = {tensor.name for tensor in inferred.graph.initializer}
    return Model(
        path=str(path),
        format="onnx",
        producer=producer,
        inputs=tuple(
            TensorInfo(name=v.name, shape=scope.shape(v.name), dtype=scope.dtype(v.name))
            for v in inferred.graph.input
            if v.name not in initializer_names
        ),
        outputs=tuple(
            TensorInfo(name=v.name, shape=scope.shape(v.name), dtype=scope.dtype(v.name)) for v in inferred.graph.output
        ),
        layers=tuple(layers),
        notes=tuple(notes),
    )


def _check_nesting(graph: onnx.GraphProto, label: str) -> None:
    """Refuse control flow nested deeper than ``MAX_NESTING`` before anything recurses into it (shape inference)."""
    pending = [(graph, 0)]
    while pending:
        current, depth = pending.pop()
        if depth > MAX_NESTING:
            raise LoadError(f"{label}: control flow nested deeper than {MAX_NESTING} levels")
        pending.extend((body, depth + 1) for node in current.node for _, body in named_subgraphs(node))


def _unique(name: str, taken: dict[str, int]) -> str:
    """``name``, or ``name_1``, ``name_2``… when a layer already has it (``taken``: name → next suffix to try)."""
    count = taken.get(name, 0)
    candidate = name if count == 0 else f"{name}_{count}"
    while candidate in taken:
        count += 1
        candidate = f"{name}_{count}"
    taken[name] = count + 1
    taken.setdefault(candidate, 1)
    return candidate


def topological_order(nodes: list[Node], label: str) -> list[Node]:
    """The nodes in a valid order (the file's order where it is valid); a cycle, or a tensor two nodes produce,
    is a ``LoadError``."""
    producer: dict[str, int] = {}
    for index, node in enumerate(nodes):
        for output in node.outputs:
            if output and producer.setdefault(output, index) != index:
                first, second = nodes[producer[output]].proto, node.proto
                raise LoadError(
                    f"{label}: tensor {output!r} is produced by two nodes, {first.name or first.op_type!r} "
                    f"and {second.name or second.op_type!r}"
                )
    waiting = [0] * len(nodes)
    consumers: list[list[int]] = [[] for _ in nodes]
    for index, node in enumerate(nodes):
        for name in {i for i in node.inputs if i in producer}:
            waiting[index] += 1
            consumers[producer[name]].append(index)
    ready = [index for index, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(nodes[index])
        for consumer in consumers[index]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, consumer)
    if len(order) != len(nodes):
        stuck = next(node.proto for index, node in enumerate(nodes) if waiting[index] > 0)
        raise LoadError(
            f"{label}: the graph has a cycle through node {stuck.name or stuck.output[0]!r} ({stuck.op_type})"
        )
    return order


def _walk(scope: GraphScope, *, prefix: str, layers: list[Layer], taken: dict[str, int], constants: set[str]) -> None:
    """Append the layers of ``scope``'s graph and its bodies; ``constants``: tensors computed by constant nodes."""
    for index, node in enumerate(topological_order(scope.nodes, scope.file_label)):
        proto, outputs = node.proto, node.outputs
        own = proto.name or (outputs[0] if outputs and outputs[0] else f"{proto.op_type}_{index}")
        name = _unique(prefix + own, taken)
        layer = _layer(node, scope, name)
        bodies = named_subgraphs(proto)
        if not (isinstance(layer, ConvLayer) or bodies) and _computes_constant(proto.op_type, layer, scope, constants):
            layer = dataclasses.replace(layer, constant=True)
            constants.update(output for output in layer.outputs if output)
        layers.append(layer)
        for attribute_name, body in bodies:
            _walk(
                scope.child(body),
                prefix=f"{name}/{attribute_name}/",
                layers=layers,
                taken=taken,
                constants=set(constants),  # a body's own tensors stay in the body
            )


def _computes_constant(op: str, layer: Layer, scope: GraphScope, constants: set[str]) -> bool:
    """Whether the node of ``layer`` (no control flow) only computes a constant: every input is an initializer or a
    constant node's output (no graph input upstream), and it is not random."""
    if op in RANDOM_OPS:
        return False
    return all(not tensor or tensor in constants or scope.is_constant(tensor) for tensor in layer.inputs)


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


def _layer(node: Node, scope: GraphScope, name: str) -> Layer:
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
        conv = _conv_layer(proto, scope, common)
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
        return Layer(kind="batch_norm", weights=weights, **common)
    weights = {}
    folding = bool(outputs) and scope.is_constant(outputs[0])  # part of a constant subgraph, not a layer's math
    for tensor in inputs if not folding else ():
        if tensor and scope.is_constant(tensor) and scope.dtype(tensor).startswith(("float", "bfloat")):
            weight = _weight(scope, tensor, tensor, "")  # "": stored as is
            if weight is not None:
                weights[tensor] = weight
    return Layer(kind="other", weights=weights, **common)


def _conv_layer(node: onnx.NodeProto, scope: GraphScope, common: dict) -> ConvLayer | None:
    op = node.op_type
    kind = CONV_OPS[op]
    positions = _WEIGHT_POSITIONS[op]
    inputs = common["inputs"]
    weight_name = _input(inputs, positions[0])
    if scope.is_constant(weight_name):
        weight_shape = scope.constant(weight_name).shape or scope.shape(weight_name)
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
