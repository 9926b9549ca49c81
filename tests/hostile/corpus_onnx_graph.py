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
    "group-zero": ({"group": 0}, "error [groups] conv: group must be"),
    "group-negative": ({"group": -2}, "error [groups] conv: group must be"),
    "group-huge": ({"group": 1 << 62}, "error [groups] conv: input channels C=2 are not divisible by group"),
    "stride-zero": ({"strides": [0, 1]}, "error [strides] conv: strides must be"),
    "stride-negative": ({"strides": [-1, -1]}, "error [strides] conv: strides must be"),
    "stride-zero-same-upper": ({"strides": [0, 0], "auto_pad": "SAME_UPPER"}, "error [strides] conv: strides must be"),
    "dilation-zero": ({"dilations": [0, 1]}, "error [dilations] conv: dilations must be"),
    "dilation-negative": ({"dilations": [1, -3]}, "error [dilations] conv: dilations must be"),
    "dilation-zero-same-lower": (
        {"dilations": [0, 0], "auto_pad": "SAME_LOWER"},
        "error [dilations] conv: dilations must be",
    ),
    "kernel-contradicts-weight": ({"kernel_shape": [5, 5]}, "error [kernel] conv: kernel_shape [5, 5]"),
    "kernel-wrong-rank": ({"kernel_shape": [3, 3, 3]}, "error [kernel] conv: weight shape [4, 2, 3, 3]"),
    "kernel-zero": ({"kernel_shape": [0, 3]}, "error [kernel] conv: kernel_shape [0, 3]"),
    "kernel-huge": ({"kernel_shape": [1 << 40, 1 << 40]}, "error [kernel] conv: kernel_shape [1099511627776"),
    "strides-wrong-rank": ({"strides": [1, 1, 1]}, "error [strides] conv: strides [1, 1, 1]"),
    "pads-negative": ({"pads": [-1, -1, 0, 0]}, "error [pads] conv: pads must be"),
    "pads-wrong-length": ({"pads": [1, 1, 1]}, "error [pads] conv: pads [1, 1, 1]"),
    "auto-pad-unknown": ({"auto_pad": "SOMETIMES"}, "error [auto_pad] conv: auto_pad must be one of"),
}
"""Conv attributes no computation can have, and the error finding that says so."""
ONE_CONV = "1 layers (1 conv), 72 params"
"""The report's summary of ``conv_file``: its one Conv and the 72 values of its weight."""


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
            "node 'conv' (Conv): attribute 'group' is 'two', not an integer",
        ),
        case(
            "onnx/attribute/strides-is-int",
            _typed_attribute("strides", helper.make_attribute("strides", 2)),
            LOAD_ERROR,
            "node 'conv' (Conv): attribute 'strides' is 2, not a list of integers",
        ),
        case(
            "onnx/attribute/zero-filters",
            lambda folder: conv_file(folder, w=weight((0, 2, 3, 3))),
            OK,
            "1 layers (1 conv), 0 params",
        ),
        case(
            "onnx/attribute/zero-input-channels",
            lambda folder: conv_file(folder, w=weight((4, 0, 3, 3))),
            CHECK_FAILS,
            "error [channels] conv: the input has 2 channels",
        ),
        # a negative input dim is read as an open one (as -1 is by exporters, and as onnxruntime runs it)
        case(
            "onnx/attribute/input-dims-negative",
            lambda folder: conv_file(folder, in_shape=[1, 2, -5, 8]),
            OK,
            ONE_CONV,
        ),
        case(
            "onnx/attribute/input-dims-huge",
            lambda folder: conv_file(folder, in_shape=[1, 2, 1 << 40, 1 << 40]),
            OK,
            ONE_CONV,
            validate=LOAD_ERROR,
            validate_match="validation input 'x' (float32) of shape [1, 2, 1099511627776, 1099511627776] needs",
        ),
        *(
            case(
                f"onnx/attribute/input-declared-huge-{side}",
                lambda folder, side=side: conv_file(folder, in_shape=[1, 2, side, side]),
                OK,
                ONE_CONV,
                validate=LOAD_ERROR,
                validate_match=f"validation input 'x' (float32) of shape [1, 2, {side}, {side}] needs {size}, past the "
                "limit of 256 MiB (--max-capture-mb raises it)",
            )
            for side, size in ((20000, "3,051.8 MiB"), (40000, "12,207 MiB"))
        ),
        case(
            "onnx/attribute/transpose-output-shape-negative",
            _transpose_output_shape([-5, -5]),
            CHECK_FAILS,
            "error [output_shape] up: output_shape [-5, -5] cannot come from a 8×8 input: axis 0 gives 1 to 17 outputs",
        ),
        case(
            "onnx/attribute/transpose-output-shape-huge",
            _transpose_output_shape([1 << 40, 1 << 40]),
            CHECK_FAILS,
            "error [output_shape] up: output_shape [1099511627776, 1099511627776] cannot come from a 8×8 input",
        ),
    ]
    return cases


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


def _graph_case(name: str, nodes, expected: str, match: str, initializers=(), known_bug: str = "", **model) -> Case:
    build = lambda folder: graph_file(folder, nodes, initializers, **model)  # noqa: E731
    return case(f"onnx/graph/{name}", build, expected, match, known_bug=known_bug)


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
            "cycle",
            [_relu("b", "a", "first"), _relu("a", "b", "second"), _relu("x", "y")],
            LOAD_ERROR,
            "the graph has a cycle through node 'first' (Relu)",
        ),
        _graph_case(
            "self-loop",
            [helper.make_node("Add", ["x", "s"], ["s"], name="self"), _relu("s", "y")],
            LOAD_ERROR,
            "the graph has a cycle through node 'self' (Add)",
        ),
        _graph_case(
            "cycle-in-if-branch", [_if_with_cycle()], LOAD_ERROR, "the graph has a cycle through node 'a'", [flag]
        ),
        _graph_case(
            "output-produced-twice",
            [_relu("x", "y", "one"), _relu("x", "y", "two")],
            LOAD_ERROR,
            "tensor 'y' is produced by two nodes, 'one' and 'two'",
        ),
        _graph_case(
            "tensor-produced-twice",
            [_relu("x", "t", "one"), _relu("x", "t", "two"), _relu("t", "y")],
            LOAD_ERROR,
            "tensor 't' is produced by two nodes, 'one' and 'two'",
        ),
        _graph_case("12000-nodes-one-name", _same_name_nodes(12000), OK, "12000 layers (0 conv), 0 params"),
        _graph_case("empty", [], OK, "0 layers (0 conv), 0 params"),
        # an op nobody knows is listed as a layer of its own, never interpreted
        _graph_case(
            "unknown-op",
            [helper.make_node("FancyConv", ["x", "w"], ["y"], name="fancy")],
            OK,
            "1 layers (0 conv), 72 params",
            [weight()],
        ),
        _graph_case(
            "unknown-domain",
            [helper.make_node("Backdoor", ["x"], ["y"], name="evil", domain="com.evil")],
            OK,
            "1 layers (0 conv), 0 params",
            opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)],
        ),
        # a Conv of another domain is not ONNX's Conv; the domain's missing opset import is said
        _graph_case(
            "conv-in-unknown-domain",
            [helper.make_node("Conv", ["x", "w"], ["y"], name="c", domain="com.evil")],
            OK_WITH_WARNING,
            "No opset import for domain com.evil",
            [weight()],
        ),
        _graph_case(
            "opset-from-the-future", [conv], OK, ONE_CONV, [weight()], opset_imports=[helper.make_opsetid("", 999)]
        ),
        _graph_case("no-opset", [conv], OK_WITH_WARNING, "No opset import for domain", [weight()], opset_imports=[]),
        _graph_case(
            "input-nothing-provides",
            [_relu("x", "h"), helper.make_node("Add", ["h", "ghost"], ["y"], name="plus")],
            LOAD_ERROR,
            "node 'plus' (Add) reads tensor 'ghost', which no node, initializer or graph input provides",
        ),
        _graph_case(
            "attribute-the-op-does-not-define",
            [helper.make_node("Conv", ["x", "w"], ["y"], name="c", padding=[1, 1, 1, 1])],
            CHECK_FAILS,
            "error [attributes] c: Conv has no attribute 'padding' (onnx.checker and onnxruntime refuse the node)",
            [weight()],
        ),
        _graph_case(
            "weight-is-a-graph-input",
            [helper.make_node("Conv", ["x", "x"], ["y"], name="c")],
            OK_WITH_WARNING,
            "warning [params] c: weight is computed at run time",
        ),
        _graph_case(
            "conv-without-weight",
            [helper.make_node("Conv", ["x"], ["y"], name="c")],
            CHECK_FAILS,
            "error [params] c: the Conv node has no weight input, which ONNX requires",
        ),
        _graph_case(
            "node-without-outputs",
            [helper.make_node("Relu", ["x"], [], name="r"), _relu("x", "y")],
            OK_WITH_WARNING,
            "warning [shape_inference] ONNX shape inference failed",
        ),
        case("onnx/graph/no-graph", _no_graph, LOAD_ERROR, "ONNX file has no graph"),
        case("onnx/graph/tensor-file-as-model", _tensor_as_model, LOAD_ERROR, "not a readable ONNX model"),
        case("onnx/nesting/if-20-deep", _nested(20), OK, "41 layers (0 conv), 0 params"),
        case("onnx/nesting/if-40-deep", _nested(40), LOAD_ERROR, "nested deeper than protobuf allows"),
        case("onnx/nesting/if-300-deep", _nested(300), LOAD_ERROR, "nested deeper than protobuf allows"),
        case("onnx/nesting/loop-300-deep", _nested(300, "Loop"), LOAD_ERROR, "nested deeper than protobuf allows"),
    ]


def _no_graph(folder: Path) -> Path:
    path = folder / "model.onnx"
    onnx.save(onnx.ModelProto(ir_version=8, producer_name="nothing"), path)
    return path


def cases() -> list[Case]:
    """Every ONNX graph and attribute case."""
    return [*_attribute_cases(), *_graph_cases()]
