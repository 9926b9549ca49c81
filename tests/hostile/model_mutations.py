"""A hypothesis strategy that turns a valid one-conv ONNX model toward the hostile classes, one edit at a time:
dims whose product overflows or vanishes, weights folded through ops that hide their shape, huge declared inputs,
extreme attributes, external data through symlink loops, chains, pipes and long names, and names that would drive
the terminal."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from tests.hostile.corpus_names import HOSTILE
from tests.hostile.onnx_build import conv_file, external, weight

EDGE_DIMS = (0, 1, 2, 3, 8, 2**31, 2**40, 2**62, -1, -(2**62))
"""Dims that vanish, overflow or are negative, among ordinary ones."""
HIDING_OPS = ("Abs", "Neg", "Identity", "Max", "Where")
"""Ops a folded shape goes through, which whole-graph shape inference may not see through."""
LOCATIONS = ("w.bin", "loop.bin", "chain0.bin", "pipe.bin", "../outside.bin", "w" * 300, "w.bin/x.bin")
"""External data locations: valid, a symlink loop, a chain of links, a pipe, an escape, too long, through a file."""

Edit = Callable[[onnx.ModelProto, Path], None]
dims = st.lists(st.sampled_from(EDGE_DIMS), min_size=1, max_size=5)


def _conv(model: onnx.ModelProto) -> onnx.NodeProto:
    return next(node for node in model.graph.node if node.op_type == "Conv")


def _stored_weight(model: onnx.ModelProto) -> onnx.TensorProto | None:
    """The conv's weight initializer, if an earlier edit left it stored inline."""
    return next((t for t in model.graph.initializer if t.name == "w" and t.HasField("raw_data")), None)


def _weight_dims(chosen: list[int]) -> Edit:
    def edit(model: onnx.ModelProto, folder: Path) -> None:
        tensor = _stored_weight(model)
        if tensor is None:
            return
        tensor.ClearField("dims")
        tensor.dims.extend(chosen)

    return edit


def _hidden_shape(op: str, chosen: list[int]) -> Edit:
    """The weight becomes ``ConstantOfShape(op(shape))``."""

    def edit(model: onnx.ModelProto, folder: Path) -> None:
        if _stored_weight(model) is None:
            return
        shape = np.array(chosen, np.int64)
        inputs = {"Max": [shape, np.ones_like(shape)], "Where": [shape >= 0, shape, -shape]}.get(op, [shape])
        names = [f"s{index}" for index in range(len(inputs))]
        model.graph.initializer.extend(numpy_helper.from_array(v, n) for v, n in zip(inputs, names, strict=True))
        kept = [t for t in model.graph.initializer if t.name != "w"]
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept)
        nodes = [
            helper.make_node(op, names, ["shape"], name="hide"),
            helper.make_node("ConstantOfShape", ["shape"], ["w"]),
        ]
        for node in reversed(nodes):
            model.graph.node.insert(0, node)

    return edit


def _input_dims(chosen: list[int]) -> Edit:
    def edit(model: onnx.ModelProto, folder: Path) -> None:
        shape = model.graph.input[0].type.tensor_type.shape
        shape.ClearField("dim")
        for size in chosen:
            shape.dim.add().dim_value = size

    return edit


def _attribute(name: str, values: list[int]) -> Edit:
    def edit(model: onnx.ModelProto, folder: Path) -> None:
        conv = _conv(model)
        kept = [a for a in conv.attribute if a.name != name]
        del conv.attribute[:]
        conv.attribute.extend([*kept, helper.make_attribute(name, values)])

    return edit


def _external(location: str) -> Edit:
    def edit(model: onnx.ModelProto, folder: Path) -> None:
        tensor = _stored_weight(model)
        if tensor is None:
            return
        data = tensor.raw_data
        external(tensor, location)
        (folder.parent / "outside.bin").write_bytes(data)
        if location == "w.bin" or location == "w.bin/x.bin":
            (folder / "w.bin").write_bytes(data)
        elif location == "loop.bin":
            (folder / "loop.bin").symlink_to("loop.bin")
        elif location == "chain0.bin":
            (folder / "w.bin").write_bytes(data)
            for index in range(50):
                (folder / f"chain{index}.bin").symlink_to("w.bin" if index == 49 else f"chain{index + 1}.bin")
        elif location == "pipe.bin":
            os.mkfifo(folder / "pipe.bin")

    return edit


def _names(text: str, where: str) -> Edit:
    def edit(model: onnx.ModelProto, folder: Path) -> None:
        if where == "producer":
            model.producer_name = text
        else:
            _conv(model).name = f"conv{text}"

    return edit


edits = st.one_of(
    dims.map(_weight_dims),
    st.builds(_hidden_shape, st.sampled_from(HIDING_OPS), dims),
    dims.map(_input_dims),
    st.builds(_attribute, st.sampled_from(("kernel_shape", "strides", "dilations", "pads")), dims),
    st.sampled_from(LOCATIONS).map(_external),
    st.builds(_names, st.sampled_from(sorted(HOSTILE.values())), st.sampled_from(("producer", "node"))),
)


@st.composite
def mutated_models(draw: st.DrawFn) -> Callable[[Path], Path]:
    """A builder of a one-conv model (``folder/model.onnx``) after one to three edits toward the hostile classes."""
    chosen = draw(st.lists(edits, min_size=1, max_size=3))

    def build(folder: Path) -> Path:
        path = conv_file(folder, w=weight())
        model = onnx.load(path)
        for edit in chosen:
            edit(model, folder)
        model.graph.ClearField("value_info")
        onnx.save(model, path)
        return path

    return build
