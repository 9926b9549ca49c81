"""ONNX graphs that make no sense: impossible conv attributes, cycles, twice-produced tensors, control flow
nested hundreds deep, unknown ops and domains, and graphs too large for a slow loader."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.hostile.case import Case, case
from tests.hostile.onnx_build import conv_file, graph_file, weight
from tests.hostile.onnx_wire import nested_if_model
from tests.hostile.outcome import CHECK_FAILS, LOAD_ERROR, OK, OK_WITH_WARNING

ATTRIBUTES = {
    "group-zero": ({"group": 0}, "group"),
    "group-negative": ({"group": -2}, "group"),
    "group-huge": ({"group": 1 << 62}, "group"),
    "stride-zero": ({"strides": [0, 1]}, "strides"),
    "stride-negative": ({"strides": [-1, -1]}, "strides"),
    "stride-zero-same-upper": ({"strides": [0, 0], "auto_pad": "SAME_UPPER"}, "strides"),
    "dilation-zero": ({"dilations": [0, 1]}, "dilations"),
    "dilation-negative": ({"dilations": [1, -3]}, "dilations"),
    "dilation-zero-same-lower": ({"dilations": [0, 0], "auto_pad": "SAME_LOWER"}, "dilations"),
    "kernel-contradicts-weight": ({"kernel_shape": [5, 5]}, "kernel_shape"),
    "kernel-wrong-rank": ({"kernel_shape": [3, 3, 3]}, "kernel"),
    "kernel-zero": ({"kernel_shape": [0, 3]}, "kernel"),
    "kernel-huge": ({"kernel_shape": [1 << 40, 1 << 40]}, "kernel"),
    "strides-wrong-rank": ({"strides": [1, 1, 1]}, "strides"),
    "pads-negative": ({"pads": [-1, -1, 0, 0]}, "pads"),
    "pads-wrong-length": ({"pads": [1, 1, 1]}, "pads"),
    "auto-pad-unknown": ({"auto_pad": "SOMETIMES"}, "auto_pad"),
}
"""Conv attributes no computation can have, and the word the failed check names."""


def _attribute_cases() -> list[Case]:
    cases = [
        case(f"onnx/attribute/{name}", lambda folder, a=attributes: conv_file(folder, **a), CHECK_FAILS, match)
        for name, (attributes, match) in ATTRIBUTES.items()
    ]
    cases += [
        case(
            "onnx/attribute/group-is-text",
            _typed_attribute("group", helper.make_attribute("group", "two")),
            LOAD_ERROR,
            "group",
        ),
        case(
            "onnx/attribute/strides-is-int",
            _typed_attribute("strides", helper.make_attribute("strides", 2)),
            LOAD_ERROR,
            "strides",
        ),
        case(
            "onnx/attribute/zero-filters",
            lambda folder: conv_file(folder, w=weight((0, 2, 3, 3))),
            OK,
        ),
        case(
            "onnx/attribute/zero-input-channels",
            lambda folder: conv_file(folder, w=weight((4, 0, 3, 3))),
            CHECK_FAILS,
            "channels",
        ),
        case(
            "onnx/attribute/input-dims-negative", lambda folder: conv_file(folder, in_shape=[1, 2, -5, 8]), ANY_REPORT
        ),
        case("onnx/attribute/input-dims-huge", lambda folder: conv_file(folder, in_shape=[1, 2, 1 << 40, 1 << 40]), OK),
        case("onnx/attribute/transpose-output-shape-negative", _transpose_output_shape([-5, -5]), ANY_REPORT),
        case("onnx/attribute/transpose-output-shape-huge", _transpose_output_shape([1 << 40, 1 << 40]), ANY_REPORT),
    ]
    return cases


ANY_REPORT = frozenset({CHECK_FAILS, OK, OK_WITH_WARNING})
"""A report of any kind: the file is readable, whether its shapes add up is for the checks to say."""


def _typed_attribute(name: str, attribute: onnx.AttributeProto):
    def build(folder: Path) -> Path:
        path = conv_file(folder)
        model = onnx.load(path)
        conv = model.graph.node[-1]
        conv.attribute.append(attribute)
        onnx.save(model, path)
        return path

    return build


def _transpose_output_shape(output_shape: list[int]):
    def build(folder: Path) -> Path:
        node = helper.make_node(
            "ConvTranspose", ["x", "w"], ["y"], name="up", output_shape=output_shape, strides=[2, 2]
        )
        return graph_file(folder, [node], [weight((2, 4, 3, 3))])

    return build


def _relu(source: str, target: str, name: str = "") -> onnx.NodeProto:
    return helper.make_node("Relu", [source], [target], name=name or target)


def _graph_case(name: str, nodes, expected, match: str = "", initializers=(), **model) -> Case:
    return case(f"onnx/graph/{name}", lambda folder: graph_file(folder, nodes, initializers, **model), expected, match)


def _if_with_cycle() -> onnx.NodeProto:
    body = helper.make_graph(
        [_relu("b", "a"), _relu("a", "b")], "loop", [], [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)]
    )
    other = helper.make_graph(
        [_relu("x", "c")], "plain", [], [helper.make_tensor_value_info("c", TensorProto.FLOAT, None)]
    )
    return helper.make_node("If", ["flag"], ["y"], name="branch", then_branch=body, else_branch=other)


def _same_name_nodes(count: int) -> list[onnx.NodeProto]:
    names = ["x", *(f"t{i}" for i in range(count - 1)), "y"]
    return [_relu(a, b, name="relu") for a, b in itertools.pairwise(names)]


def _nested(depth: int, op: str = "If"):
    def build(folder: Path) -> Path:
        path = folder / "model.onnx"
        path.write_bytes(nested_if_model(depth, op))
        return path

    return build


def _tensor_as_model(folder: Path) -> Path:
    path = folder / "model.onnx"
    path.write_bytes(numpy_helper.from_array(np.ones((4, 4), np.float32), "w").SerializeToString())
    return path


def _graph_cases() -> list[Case]:
    flag = numpy_helper.from_array(np.array(True), "flag")
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    return [
        _graph_case(
            "cycle", [_relu("b", "a", "first"), _relu("a", "b", "second"), _relu("x", "y")], LOAD_ERROR, "cycle"
        ),
        _graph_case(
            "self-loop", [helper.make_node("Add", ["x", "s"], ["s"], name="self"), _relu("s", "y")], LOAD_ERROR, "cycle"
        ),
        _graph_case("cycle-in-if-branch", [_if_with_cycle()], LOAD_ERROR, "cycle", [flag]),
        _graph_case(
            "output-produced-twice", [_relu("x", "y", "one"), _relu("x", "y", "two")], LOAD_ERROR, "produced by"
        ),
        _graph_case(
            "tensor-produced-twice",
            [_relu("x", "t", "one"), _relu("x", "t", "two"), _relu("t", "y")],
            LOAD_ERROR,
            "produced by",
        ),
        _graph_case("12000-nodes-one-name", _same_name_nodes(12000), OK),
        _graph_case("empty", [], OK),
        _graph_case("unknown-op", [helper.make_node("FancyConv", ["x", "w"], ["y"], name="fancy")], OK, "", [weight()]),
        _graph_case(
            "unknown-domain",
            [helper.make_node("Backdoor", ["x"], ["y"], name="evil", domain="com.evil")],
            OK,
            opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)],
        ),
        _graph_case(
            "conv-in-unknown-domain",
            [helper.make_node("Conv", ["x", "w"], ["y"], name="c", domain="com.evil")],
            ANY_REPORT,
            "",
            [weight()],
        ),
        _graph_case(
            "opset-from-the-future", [conv], ANY_REPORT, "", [weight()], opset_imports=[helper.make_opsetid("", 999)]
        ),
        _graph_case("no-opset", [conv], ANY_REPORT, "", [weight()], opset_imports=[]),
        _graph_case("weight-is-a-graph-input", [helper.make_node("Conv", ["x", "x"], ["y"], name="c")], ANY_REPORT),
        _graph_case("conv-without-weight", [helper.make_node("Conv", ["x"], ["y"], name="c")], ANY_REPORT),
        _graph_case(
            "node-without-outputs", [helper.make_node("Relu", ["x"], [], name="r"), _relu("x", "y")], ANY_REPORT
        ),
        case("onnx/graph/no-graph", _no_graph, LOAD_ERROR, "no graph"),
        case("onnx/graph/tensor-file-as-model", _tensor_as_model, LOAD_ERROR),
        case("onnx/nesting/if-20-deep", _nested(20), OK),
        case("onnx/nesting/if-40-deep", _nested(40), LOAD_ERROR, "nested"),
        case("onnx/nesting/if-300-deep", _nested(300), LOAD_ERROR, "nested"),
        case("onnx/nesting/loop-300-deep", _nested(300, "Loop"), LOAD_ERROR, "nested"),
    ]


def _no_graph(folder: Path) -> Path:
    path = folder / "model.onnx"
    onnx.save(onnx.ModelProto(ir_version=8, producer_name="nothing"), path)
    return path


def cases() -> list[Case]:
    """Every ONNX graph and attribute case."""
    return [*_attribute_cases(), *_graph_cases()]
