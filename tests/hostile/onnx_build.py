"""Small ONNX models for the hostile corpus: one conv whose weight, attributes or neighbours are changed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import save_model

IN_SHAPE = [1, 2, 8, 8]


def weight(shape: Sequence[int] = (4, 2, 3, 3), name: str = "w") -> TensorProto:
    """A float32 initializer of ``shape`` filled with small distinct values."""
    values = np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    return numpy_helper.from_array(values, name)


def with_dims(tensor: TensorProto, dims: Sequence[int]) -> TensorProto:
    """``tensor`` claiming ``dims`` while keeping its stored bytes."""
    tensor.ClearField("dims")
    tensor.dims.extend(dims)
    return tensor


def external(tensor: TensorProto, location: str, **fields: str) -> TensorProto:
    """``tensor`` with its bytes moved to external data at ``location`` (the bytes are dropped)."""
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, **fields}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def conv_file(
    folder: Path,
    *,
    w: TensorProto | None = None,
    extra_nodes: Sequence[onnx.NodeProto] = (),
    initializers: Sequence[TensorProto] = (),
    in_shape: Sequence[int] | None = IN_SHAPE,
    computed: bool = False,
    **attributes: object,
) -> Path:
    """``folder/model.onnx``: ``extra_nodes`` then one ``Conv`` named ``conv`` reading ``x`` and ``w``.

    ``w`` is the initializer ``w`` (a default weight when ``None``), or, when ``computed``, an output of
    ``extra_nodes``.
    """
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attributes)
    inits = [*([] if computed else [weight() if w is None else w]), *initializers]
    return save_model(
        folder / "model.onnx",
        [*extra_nodes, conv],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )


def graph_file(
    folder: Path, nodes: Sequence[onnx.NodeProto], initializers: Sequence[TensorProto] = (), **model
) -> Path:
    """``folder/model.onnx`` from ``nodes`` reading ``x`` and writing ``y``; ``model`` sets ModelProto fields."""
    graph = helper.make_graph(
        list(nodes),
        "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, IN_SHAPE)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=list(initializers),
    )
    opsets = model.pop("opset_imports", [helper.make_opsetid("", 17)])
    proto = helper.make_model(graph, opset_imports=opsets)
    proto.ir_version = 8
    for key, value in model.items():
        setattr(proto, key, value)
    path = folder / "model.onnx"
    onnx.save(proto, path)
    return path
