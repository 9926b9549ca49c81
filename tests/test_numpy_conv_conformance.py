"""The NumPy engine against the ONNX conformance data: backend node tests and pytorch-converted models.

Expected outputs come from the ONNX test data, never from the engine.  Single-node models are evaluated by
calling the engine with the node's attributes (``auto_pad`` resolved by :mod:`inspector.model.padding`); the few
node tests whose graph wraps a ``Conv`` in other operators (the expanded ``CausalConvWithState`` functions)
run through ``onnx.reference`` with its ``Conv`` replaced by the engine.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from onnx.backend.test.loader import load_model_tests
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

from inspector.engine.numpy_conv import conv, conv_integer, conv_transpose
from inspector.model.padding import conv_pads, conv_transpose_pads

CONV_OPS = ("Conv", "ConvTranspose", "ConvInteger")
FLOAT32_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}  # the backend runner allows rtol=1e-3, atol=1e-7
PYTORCH_CONVERTED = Path(onnx.__file__).parent / "backend" / "test" / "data" / "pytorch-converted"


def run_conv_node(op_type: str, inputs: list[np.ndarray], attributes: dict) -> np.ndarray:
    """Evaluate one ONNX convolution node with the engine (unset attributes may be missing or None)."""
    attrs = {name: value for name, value in attributes.items() if value is not None}
    auto_pad = attrs.get("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    x, w = inputs[0], inputs[1]
    rank = x.ndim - 2
    if "kernel_shape" in attrs:
        assert tuple(attrs["kernel_shape"]) == w.shape[2:]
    strides = list(attrs.get("strides", [1] * rank))
    dilations = list(attrs.get("dilations", [1] * rank))
    pads = attrs.get("pads")
    groups = int(attrs.get("group", 1))
    if op_type == "ConvTranspose":
        output_padding = list(attrs.get("output_padding", [0] * rank))
        output_shape = attrs.get("output_shape")
        if auto_pad != "NOTSET":
            pads = conv_transpose_pads(
                auto_pad, x.shape[2:], w.shape[2:], strides, dilations, output_padding, output_shape
            )
        bias = inputs[2] if len(inputs) > 2 else None
        return conv_transpose(
            x, w, bias, strides=strides, dilations=dilations, pads=pads, groups=groups,
            output_padding=output_padding, output_shape=output_shape,
        )  # fmt: skip
    if auto_pad != "NOTSET":
        pads = conv_pads(auto_pad, x.shape[2:], w.shape[2:], strides, dilations)
    if op_type == "ConvInteger":
        zero_points = [*inputs[2:], None, None][:2]
        return conv_integer(x, w, *zero_points, strides=strides, dilations=dilations, pads=pads, groups=groups)
    bias = inputs[2] if len(inputs) > 2 else None
    return conv(x, w, bias, strides=strides, dilations=dilations, pads=pads, groups=groups)


class EngineConv(OpRun):
    """``onnx.reference``'s Conv replaced by the engine (used only inside multi-operator graphs)."""

    op_domain = ""
    calls = 0

    def _run(self, *inputs, **attributes):
        EngineConv.calls += 1
        return (run_conv_node("Conv", [i for i in inputs if i is not None], attributes),)


EngineConv.__name__ = "Conv"  # onnx.reference keys new_ops by class name


def evaluate(model: onnx.ModelProto, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of ``model``: the engine alone for a single convolution node, else the patched evaluator."""
    graph = model.graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    values = dict(initializers)
    values.update(zip([i.name for i in graph.input if i.name not in initializers], feeds, strict=True))
    if len(graph.node) == 1:
        node = graph.node[0]
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        return [run_conv_node(node.op_type, [values[name] for name in node.input if name], attributes)]
    assert {n.op_type for n in graph.node} & set(CONV_OPS) == {"Conv"}
    calls = EngineConv.calls
    evaluator = ReferenceEvaluator(model, new_ops=[EngineConv])
    outputs = evaluator.run(None, {name: values[name] for name in evaluator.input_names})
    assert EngineConv.calls > calls, "the engine did not run"
    return outputs


def _node_cases() -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    params = []
    for case in cases:
        if any(node.op_type in CONV_OPS for node in case.model.graph.node):
            for i, data_set in enumerate(case.data_sets):
                suffix = f"-{i}" if len(case.data_sets) > 1 else ""
                params.append(pytest.param(case, data_set, id=case.name + suffix))
    return params


NODE_CASES = _node_cases()
PYTORCH_CASES = sorted(
    p.name for pattern in ("test_Conv*", "test_ConvTranspose*") for p in PYTORCH_CONVERTED.glob(pattern)
)


def test_suites_found() -> None:
    assert len(NODE_CASES) >= 30
    assert len(set(PYTORCH_CASES)) >= 28


@pytest.mark.parametrize(("case", "data_set"), NODE_CASES)
def test_onnx_node_case(case, data_set) -> None:
    inputs, expected = data_set
    outputs = evaluate(case.model, list(inputs))
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        tolerance = FLOAT32_TOLERANCE if want.dtype == np.float32 else {"rtol": case.rtol, "atol": case.atol}
        np.testing.assert_allclose(got, want, **tolerance)


@pytest.mark.parametrize("name", sorted(set(PYTORCH_CASES)))
def test_pytorch_converted_case(name: str) -> None:
    folder = PYTORCH_CONVERTED / name
    model = onnx.load(folder / "model.onnx")
    data = folder / "test_data_set_0"
    feeds = [numpy_helper.to_array(onnx.load_tensor(p)) for p in sorted(data.glob("input_*.pb"))]
    expected = [numpy_helper.to_array(onnx.load_tensor(p)) for p in sorted(data.glob("output_*.pb"))]
    (got,) = evaluate(model, feeds)
    assert got.dtype == expected[0].dtype and got.shape == expected[0].shape
    np.testing.assert_allclose(got, expected[0], **FLOAT32_TOLERANCE)
