"""Shapes before a model is walked: the open dims of its inputs, and ONNX shape inference kept light.

Exporters write ``-1`` or ``0`` for "any size", and users give sizes with ``--input-shape``
(:mod:`inspector.model.input_shapes`); shape inference then works out every layer's shape without being handed the
bytes of large initializers.
"""

from __future__ import annotations

from collections.abc import Mapping

import onnx

from inspector.model.input_shapes import OPEN_BATCH, bind_dim_names, checked_shape
from inspector.plugins.onnx.graph import named_subgraphs
from inspector.plugins.onnx.type_shapes import shape_of

LIFTED_BYTES = 64 * 1024
"""Initializers larger than this are not handed to shape inference (see ``infer_shapes``)."""
PROPAGATING_OPS = frozenset({"Add", "Cast", "Concat", "Gather", "Mul", "Slice", "Squeeze", "Sub", "Unsqueeze"})
"""The ops whose data ONNX shape inference propagates, ``Shape`` and ``Size`` left out (their output is short)."""
MAX_PROPAGATED = 1 << 18
"""Values data propagation may expand (about 25 MB and 0.07 s of ONNX's time)."""


def infer_shapes(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, bytes], str | None]:
    """ONNX shape inference, with data propagation where it stays small, without the bytes of large initializers.

    Inference needs their dims and types only (values only of small shape tensors), and serializing a large model
    for the C++ inference took most of the load time: large ``raw_data`` is lifted out, and returned beside the
    inferred model: the weights' only copy once ``proto`` (whose arena still holds their memory) is gone.

    Data propagation (what makes ``Reshape(x, Concat(Shape(y)…))`` known) expands each 1-D tensor it passes value
    by value, in ONNX's C++ (some 100 bytes and 0.25 µs a value): a 1-D tensor of 10⁸ elements would take 7 GB.
    So inference first runs without it; the values the propagating ops would expand are counted from those shapes,
    and it runs again with propagation only when there are any and at most ``MAX_PROPAGATED`` of them.  The third
    item says why propagation was skipped (``None`` when it was not).
    """
    lifted = {}
    for tensor in proto.graph.initializer:
        if len(tensor.raw_data) > LIFTED_BYTES:
            lifted[tensor.name] = tensor.raw_data
            tensor.ClearField("raw_data")
    try:
        plain = onnx.shape_inference.infer_shapes(proto)
        count, largest = propagated_values(plain)
        if count == 0:
            return plain, lifted, None
        if count > MAX_PROPAGATED:
            note = (
                f"shapes inferred without data propagation, which would expand {count:,} values (limit "
                f"{MAX_PROPAGATED:,}; the most, tensor {largest!r}): shapes the graph computes may be unknown"
            )
            return plain, lifted, note
        return onnx.shape_inference.infer_shapes(proto, data_prop=True), lifted, None
    except BaseException:  # put the weights back whatever happened, and let it go on
        _put_back(proto, lifted)
        raise


def propagated_values(model: onnx.ModelProto) -> tuple[int, str]:
    """How many values data propagation would expand (the known lengths of the 1-D and scalar inputs of the ops
    that propagate data, in every graph), and the tensor holding the most of them."""
    count, largest, most = 0, "", -1
    pending = [model.graph]
    while pending:
        graph = pending.pop()
        read: list[str] = []  # the inputs of the propagating nodes, in order
        for node in graph.node:
            pending.extend(body for _, body in named_subgraphs(node))
            if node.op_type in PROPAGATING_OPS and node.domain in ("", "ai.onnx"):
                read.extend(node.input)
        if not read:
            continue
        wanted = set(read)
        lengths = {tensor.name: tuple(tensor.dims) for tensor in graph.initializer if tensor.name in wanted}
        for value in [*graph.input, *graph.value_info, *graph.output]:
            if value.name in wanted and value.name not in lengths:
                lengths[value.name] = shape_of(value.type)
        for tensor in read:
            shape = lengths.get(tensor)
            size = shape[0] if shape is not None and len(shape) == 1 and isinstance(shape[0], int) else 1
            count += size
            if size > most:
                largest, most = tensor, size
    return count, largest


def _put_back(proto: onnx.ModelProto, lifted: dict[str, bytes]) -> None:
    for tensor in proto.graph.initializer:
        if tensor.name in lifted:
            tensor.raw_data = lifted[tensor.name]


def open_dims(proto: onnx.ModelProto, input_shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Graph inputs get the given sizes; their ``-1``, ``0`` and unset dims become open ones.

    Exporters write ``-1`` or ``0`` for "any size"; left in, shape inference would compute layer shapes from them.
    An open batch dim (dim 0) is named ``N``, so that it carries through every layer's shape; a dim name sized in
    one input has that size in every input.  With sizes given, the shapes the file records for outputs and
    intermediate tensors (written for other sizes) are dropped, for shape inference to work them out again.
    """
    initializers = {tensor.name for tensor in proto.graph.initializer}
    inputs = [v for v in proto.graph.input if v.name not in initializers and v.type.HasField("tensor_type")]
    named: dict[str, int] = {}
    for value in inputs:
        if value.name in input_shapes:
            declared = shape_of(value.type)
            given = checked_shape(value.name, declared, input_shapes[value.name], f"--input-shape {value.name}")
            bind_dim_names(named, declared, given, value.name)
    for value in inputs:
        shape = value.type.tensor_type.shape
        if value.name in input_shapes:
            shape.ClearField("dim")
            for size in input_shapes[value.name]:
                shape.dim.add().dim_value = size
            continue
        for axis, dim in enumerate(shape.dim):
            if dim.dim_param in named:
                dim.dim_value = named[dim.dim_param]
            elif not dim.dim_param and not dim.dim_value > 0:
                if axis == 0:
                    dim.dim_param = OPEN_BATCH
                else:
                    dim.Clear()
    if input_shapes:
        del proto.graph.value_info[:]
        for value in proto.graph.output:
            value.type.tensor_type.ClearField("shape")
    for value in [*proto.graph.output, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else ():
            if dim.HasField("dim_value") and dim.dim_value < 0:
                dim.Clear()
