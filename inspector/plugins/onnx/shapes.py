"""Shapes before a model is walked: the open dims of its inputs, and ONNX shape inference kept light.

Exporters write ``-1`` or ``0`` for "any size", and users give sizes with ``--input-shape``
(:mod:`inspector.model.input_shapes`); shape inference then works out every layer's shape without being handed the
bytes of large initializers.
"""

from __future__ import annotations

from collections.abc import Mapping

import onnx

from inspector.model.input_shapes import OPEN_BATCH, bind_dim_names, checked_shape
from inspector.plugins.onnx.type_shapes import shape_of

LIFTED_BYTES = 64 * 1024
"""Initializers larger than this are not handed to shape inference (see ``infer_shapes``)."""


def infer_shapes(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, bytes]]:
    """ONNX shape inference with data propagation, without handing it the bytes of large initializers.

    Inference needs their dims and types only (values only of small shape tensors), and serializing a large model
    for the C++ inference took most of the load time: large ``raw_data`` is lifted out, and returned beside the
    inferred model: the weights' only copy once ``proto`` (whose arena still holds their memory) is gone.
    """
    lifted = {}
    for tensor in proto.graph.initializer:
        if len(tensor.raw_data) > LIFTED_BYTES:
            lifted[tensor.name] = tensor.raw_data
            tensor.ClearField("raw_data")
    try:
        return onnx.shape_inference.infer_shapes(proto, data_prop=True), lifted
    except BaseException:  # put the weights back whatever happened, and let it go on
        _put_back(proto, lifted)
        raise


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
