"""Computing a constant from the graph nodes that produce it, one node at a time, each output sized first.

A weight may be built by nodes (``ConstantOfShape``, ``Expand``, ``Reshape`` of constants…).  Shape inference over
the whole subgraph cannot always see through them (``ConstantOfShape(Abs(shape))`` has an unknown shape until
``Abs`` has run), so sizes are decided from the values themselves: before each node runs, its inputs are known
arrays, its output shapes are inferred from them (small ones as initializers, whose values shape inference reads;
no data propagation, which would expand a long 1-D input value by value), and each output is checked against the
budget (:mod:`inspector.model.budget`).  An output whose size cannot be told before running is refused, except
for ops whose output is never larger than an input (``NonZero``, ``Unique``…) and sequence ops (a sequence of
their inputs or of their parts, or a part of a sequence: no larger than all their inputs).  ``Identity`` passes
its input on; other nodes run in ``onnx.reference``.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from inspector.errors import LoadError, first_line
from inspector.model.budget import check_allocation
from inspector.plugins.onnx.onnx_errors import NOT_COMPUTED, NOT_INFERRED
from inspector.plugins.onnx.type_shapes import shape_of

Value = np.ndarray | list[np.ndarray]
"""What a node computes: a tensor, or a sequence of tensors."""

FLAG = "--max-fold-mb"
SHAPE_DATA = 64
"""Inputs of up to this many elements take part in shape inference as values (shape tensors); larger ones by type."""
BOUNDED_BY_INPUT = frozenset({"NonZero", "Unique", "Compress"})
"""Ops whose output shape depends on values, but whose every output holds at most rank × the elements of their
largest input (``NonZero``: one index per dim of each element), of at most 8 bytes each."""


def fold(
    nodes: list[onnx.NodeProto],
    feeds: dict[str, np.ndarray],
    name: str,
    opsets: list[onnx.OperatorSetIdProto],
    limit_mb: float,
    label: str,
) -> np.ndarray:
    """The value of tensor ``name``, computed by ``nodes`` (in order) from ``feeds``; ``label`` names it in errors.

    Every tensor computed on the way is sized before it is made; past ``limit_mb`` MiB the fold is refused with a
    ``LoadError`` naming the tensor, its size and ``--max-fold-mb``.  ``label`` starts every error
    ("<file>: cannot compute constant 'w'").
    """
    _refuse_external_attributes(nodes, label)
    values: dict[str, Value] = dict(feeds)
    remaining_uses = _uses(nodes)
    for node in nodes:
        inputs = [values[tensor] if tensor else None for tensor in node.input]
        if node.op_type == "Identity" and len(inputs) == 1 and inputs[0] is not None:
            outputs = inputs  # passed on as it is: nothing to size, nothing to run (chains of them are common)
        else:
            _check_outputs(node, inputs, opsets, limit_mb, label)
            outputs = _run(node, inputs, opsets, label)
        for tensor, value in zip(node.output, outputs, strict=False):
            if tensor:
                check_allocation(f"{label}: tensor {tensor!r} ({node.op_type})", (nbytes(value),), 1, limit_mb, FLAG)
                values[tensor] = value
        for tensor in node.input:
            remaining_uses[tensor] -= 1
            if remaining_uses[tensor] == 0 and tensor != name:
                values.pop(tensor, None)  # no later node needs it
    return np.asarray(values[name])


def nbytes(value: Value) -> int:
    """Bytes held by a tensor or a sequence of tensors."""
    return sum(item.nbytes for item in value) if isinstance(value, list) else value.nbytes


def _uses(nodes: list[onnx.NodeProto]) -> dict[str, int]:
    """How many inputs of ``nodes`` read each tensor."""
    counts: dict[str, int] = {}
    for node in nodes:
        for tensor in node.input:
            counts[tensor] = counts.get(tensor, 0) + 1
    return counts


def _refuse_external_attributes(nodes: list[onnx.NodeProto], label: str) -> None:
    """A node holding external data in an attribute would make ``onnx.reference`` read a file itself."""
    for node in nodes:
        for attribute in node.attribute:
            tensors = [attribute.t, *attribute.tensors, attribute.sparse_tensor.values, attribute.sparse_tensor.indices]
            if any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors):
                raise LoadError(f"{label}: node {node.name or node.op_type!r} holds external data in an attribute")


def _one_node_model(
    node: onnx.NodeProto, inputs: list[Value | None], opsets: list[onnx.OperatorSetIdProto], *, as_data: bool
) -> onnx.ModelProto:
    """``node`` alone, its known tensor inputs as initializers (all of them, or with ``as_data`` False only the
    small ones, the others typed graph inputs of their exact shape); sequences are typed graph inputs."""
    initializers, graph_inputs = [], []
    for tensor, value in zip(node.input, inputs, strict=False):
        if not tensor or value is None:
            continue
        if isinstance(value, list):
            element = helper.np_dtype_to_tensor_dtype(value[0].dtype) if value else onnx.TensorProto.FLOAT
            shapes = {item.shape for item in value}
            shape = next(iter(shapes)) if len(shapes) == 1 else None
            graph_inputs.append(helper.make_tensor_sequence_value_info(tensor, element, shape))
        elif not as_data and value.size > SHAPE_DATA:
            dtype = helper.np_dtype_to_tensor_dtype(value.dtype)
            graph_inputs.append(helper.make_tensor_value_info(tensor, dtype, value.shape))
        else:
            initializers.append(numpy_helper.from_array(value, tensor))
    graph = helper.make_graph(
        [node],
        "fold",
        graph_inputs,
        [helper.make_empty_tensor_value_info(tensor) for tensor in node.output if tensor],
        initializer=initializers,
    )
    return helper.make_model(graph, opset_imports=opsets)


def _check_outputs(
    node: onnx.NodeProto,
    inputs: list[Value | None],
    opsets: list[onnx.OperatorSetIdProto],
    limit_mb: float,
    label: str,
) -> None:
    """Size every output of ``node`` from its known inputs before it runs, against ``limit_mb``."""
    try:
        inferred = onnx.shape_inference.infer_shapes(
            _one_node_model(node, inputs, opsets, as_data=False), strict_mode=True
        )
    except NOT_INFERRED as error:
        reason = first_line(error).rsplit("[ShapeInferenceError] ", 1)[-1]  # onnx nests its own prefixes
        raise LoadError(f"{label}: node {node.name or node.op_type!r} ({node.op_type}): {reason}") from None
    shapes = {value.name: value.type for value in inferred.graph.output}
    arrays = [value for value in inputs if isinstance(value, np.ndarray)]
    for tensor in node.output:
        if not tensor:
            continue
        value_type = shapes.get(tensor)
        dims = shape_of(value_type) if value_type is not None else None
        itemsize = _itemsize(value_type)
        if dims is not None and all(isinstance(dim, int) for dim in dims):
            check_allocation(f"{label}: tensor {tensor!r} ({node.op_type})", dims, itemsize, limit_mb, FLAG)
        elif node.op_type in BOUNDED_BY_INPUT:
            bound = (max([1] + [v.ndim for v in arrays]), max([0] + [v.size for v in arrays]))
            check_allocation(f"{label}: tensor {tensor!r} ({node.op_type}, at most)", bound, 8, limit_mb, FLAG)
        elif any(isinstance(value, list) for value in inputs) or (
            value_type is not None and value_type.HasField("sequence_type")
        ):  # a sequence made of (parts of) its inputs, or a part of a sequence
            total = sum(nbytes(value) for value in inputs if value is not None)
            check_allocation(f"{label}: sequence {tensor!r} ({node.op_type})", (total,), 1, limit_mb, FLAG)
        else:
            raise LoadError(f"{label}: the size of tensor {tensor!r} ({node.op_type}) cannot be told before it is made")


def _itemsize(value_type: onnx.TypeProto | None) -> int:
    if value_type is None or not value_type.HasField("tensor_type"):
        return 8
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(value_type.tensor_type.elem_type)).itemsize
    except (KeyError, TypeError, ValueError):
        return 8


def _run(
    node: onnx.NodeProto, inputs: list[Value | None], opsets: list[onnx.OperatorSetIdProto], label: str
) -> list[Value]:
    """``node``'s outputs computed by ``onnx.reference`` (converting an old opset up where it lacks a kernel)."""
    from onnx.reference import ReferenceEvaluator

    model = _one_node_model(node, inputs, opsets, as_data=True)
    try:
        try:
            evaluator = ReferenceEvaluator(model)
        except RuntimeError as error:
            if "No implementation for operator" not in str(error):
                raise
            latest = onnx.defs.onnx_opset_version()
            evaluator = ReferenceEvaluator(onnx.version_converter.convert_version(model, latest))
        sequences = {
            tensor: value for tensor, value in zip(node.input, inputs, strict=False) if isinstance(value, list)
        }
        outputs = evaluator.run([tensor for tensor in node.output if tensor], sequences)
    except NOT_COMPUTED as error:
        raise LoadError(f"{label}: node {node.name or node.op_type!r} ({node.op_type}): {first_line(error)}") from None
    produced = iter(value if isinstance(value, list) else np.asarray(value) for value in outputs)
    return [next(produced) if tensor else np.empty(0) for tensor in node.output]
