"""Built-in loader: ONNX files into the common model.

Weights are not read here (but a folded conv weight whose shape only its values tell): shapes come from initializer
dims and shape inference, and each ``Weight`` reads its bytes (embedded, a memory-mapped external file, or a
constant computed by ``onnx.reference``) on first use.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping
from pathlib import Path

import onnx

from inspector.errors import LoadError, first_line
from inspector.hookspecs import hookimpl
from inspector.model.budget import DEFAULT_FOLD_MB, MAX_NESTING
from inspector.model.common import ConvLayer, Layer, Model, TensorInfo
from inspector.model.findings import Finding
from inspector.options import Options
from inspector.plugins.onnx.attributes import undefined_attributes
from inspector.plugins.onnx.graph import RANDOM_OPS, GraphScope, Node, named_subgraphs
from inspector.plugins.onnx.layers import CONV_OPS, node_layer, not_a_conv_layer
from inspector.plugins.onnx.onnx_errors import NOT_INFERRED, UNREADABLE
from inspector.plugins.onnx.shapes import infer_shapes, open_dims
from inspector.plugins.onnx.strings import non_utf8_string

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
        reason = first_line(error)
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
        inferred, lifted, skipped = infer_shapes(proto)
        if skipped is not None:
            notes.append(Finding(severity="warning", check="shape_inference", layer=None, message=skipped))
    except NOT_INFERRED as error:
        inferred = proto
        notes.append(
            Finding(
                severity="warning",
                check="shape_inference",
                layer=None,
                message=f"ONNX shape inference failed, shapes are partly unknown: {first_line(error)}",
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
    _walk(scope, prefix="", layers=layers, taken={}, constants=set(), notes=notes)
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


def _walk(
    scope: GraphScope,
    *,
    prefix: str,
    layers: list[Layer],
    taken: dict[str, int],
    constants: set[str],
    notes: list[Finding],
) -> None:
    """Append the layers of ``scope``'s graph and its bodies; ``constants``: tensors computed by constant nodes;
    ``notes``: findings about nodes that cannot be layers of their kind."""
    for index, node in enumerate(topological_order(scope.nodes, scope.file_label)):
        proto, outputs = node.proto, node.outputs
        own = proto.name or (outputs[0] if outputs and outputs[0] else f"{proto.op_type}_{index}")
        name = _unique(prefix + own, taken)
        for tensor in node.inputs:
            if tensor and not scope.provides(tensor):
                raise LoadError(
                    f"{scope.file_label}: node {own!r} ({proto.op_type}) reads tensor {tensor!r}, which no node, "
                    "initializer or graph input provides"
                )
        layer = node_layer(node, scope, name, notes)
        if proto.domain in ("", "ai.onnx"):
            notes += [_undefined_attribute(proto.op_type, name, a) for a in undefined_attributes(proto, scope.version)]
        if proto.op_type in CONV_OPS and proto.domain in ("", "ai.onnx") and not isinstance(layer, ConvLayer):
            notes.append(not_a_conv_layer(proto.op_type, layer))
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
                notes=notes,
            )


def _undefined_attribute(op: str, layer: str, attribute: str) -> Finding:
    message = f"{op} has no attribute {attribute!r} (onnx.checker and onnxruntime refuse the node)"
    return Finding(severity="error", check="attributes", layer=layer, message=message)


def _computes_constant(op: str, layer: Layer, scope: GraphScope, constants: set[str]) -> bool:
    """Whether the node of ``layer`` (no control flow) only computes a constant: every input is an initializer or a
    constant node's output (no graph input upstream), and it is not random."""
    if op in RANDOM_OPS:
        return False
    return all(not tensor or tensor in constants or scope.is_constant(tensor) for tensor in layer.inputs)
