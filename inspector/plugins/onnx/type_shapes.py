"""The shape an ONNX tensor type declares, as the common model writes shapes."""

from __future__ import annotations

import onnx

from inspector.model.common import Shape


def shape_of(value_type: onnx.TypeProto) -> Shape | None:
    """A tensor type's shape: ints, symbolic names, ``"?"`` for unknown dims; ``None`` without a shape."""
    if not value_type.HasField("tensor_type"):
        return None
    tensor_type = value_type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims: list[int | str] = []
    for dim in tensor_type.shape.dim:
        value = dim.dim_value  # 0 when unset: only then is asking which field is set needed
        dims.append(value if value or dim.HasField("dim_value") else dim.dim_param or "?")
    return tuple(dims)
