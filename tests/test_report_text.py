"""The text report a person reads: constant nodes kept out of the table, a verdict line at the end of every report,
repeated findings on one line, `--findings`, numbers and nouns that agree, and no line ending in spaces.

Models are built here with onnx.helper; what the report must say follows from how each one was built.
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.cli.main import main
from inspector.hookspecs import hookimpl
from inspector.model.findings import Finding, examples, plural, times
from inspector.report.model_report import Report
from inspector.report.text import render_text
from tests.conftest import SAMPLES, report_json

CONSTANT_NODES = ["shape_c", "fill", "b_add", "b_reshape", "mm", "mm_add"]
"""The nodes of `constant_model` that only compute constants, as built."""
DATA_NODES = ["conv1", "conv2", "relu", "x_shape", "noise"]


def save(path, nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.save(model, path)
    return path


def tensor(name, shape, element=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, element, shape)


def constant_model(tmp_path):
    """conv1's weight is made by ConstantOfShape, conv2's bias by Add and Reshape of initializers; a MatMul and Add
    of initializers feed an output; Shape(x) and RandomNormal depend on a graph input or on chance."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.ones((1, 3), np.float32), "b_a"),
        numpy_helper.from_array(np.full((1, 3), 0.5, np.float32), "b_b"),
        numpy_helper.from_array(np.array([3], np.int64), "b_shape"),
        numpy_helper.from_array(rng.standard_normal((2, 2)).astype(np.float32), "ma"),
        numpy_helper.from_array(rng.standard_normal((2, 2)).astype(np.float32), "mb"),
    ]
    shape = helper.make_tensor("shape_value", TensorProto.INT64, [4], [2, 2, 3, 3])
    fill = helper.make_tensor("fill_value", TensorProto.FLOAT, [1], [0.25])
    nodes = [
        helper.make_node("Constant", [], ["w1_shape"], name="shape_c", value=shape),
        helper.make_node("ConstantOfShape", ["w1_shape"], ["w1"], name="fill", value=fill),
        helper.make_node("Conv", ["x", "w1"], ["y1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["b_a", "b_b"], ["b_sum"], name="b_add"),
        helper.make_node("Reshape", ["b_sum", "b_shape"], ["b2"], name="b_reshape"),
        helper.make_node("Conv", ["y1", "w2", "b2"], ["y2"], name="conv2"),
        helper.make_node("Relu", ["y2"], ["out"], name="relu"),
        helper.make_node("Shape", ["x"], ["xs"], name="x_shape"),
        helper.make_node("MatMul", ["ma", "mb"], ["m"], name="mm"),
        helper.make_node("Add", ["m", "ma"], ["m2"], name="mm_add"),
        helper.make_node("RandomNormal", [], ["r"], name="noise", shape=[2]),
    ]
    outputs = [tensor("out", None), tensor("xs", None, TensorProto.INT64), tensor("m2", None), tensor("r", None)]
    return save(tmp_path / "constants.onnx", nodes, [tensor("x", [1, 2, 6, 6])], outputs, inits)


def conv_model(tmp_path, weight, name="c.onnx"):
    """One Conv named ``c`` around ``weight`` (ONNX layout, float32), on a 1×C×8×8 input."""
    node = helper.make_node("Conv", ["x", "W"], ["y"], name="c")
    return save(
        tmp_path / name,
        [node],
        [tensor("x", [1, weight.shape[1], 8, 8])],
        [tensor("y", None)],
        [numpy_helper.from_array(weight.astype(np.float32), "W")],
    )


def inspect_text(capsys, *args):
    code = main([str(arg) for arg in args])
    return code, capsys.readouterr().out


def table_names(text):
    """The first column of the layer table: the lines between its rule and the totals line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("─")) + 1
    end = next(i for i, line in enumerate(lines) if line.startswith("Total params"))
    return [line.split()[0] for line in lines[start:end]]


# -- nodes that only compute constants ---------------------------------------------------------------------------


def test_the_loader_marks_nodes_that_only_compute_constants(tmp_path, manager):
    with inspector.load(constant_model(tmp_path), plugin_manager=manager) as model:
        assert sorted(layer.name for layer in model.layers if layer.constant) == sorted(CONSTANT_NODES)
        assert [layer.name for layer in model.conv_layers] == ["conv1", "conv2"]
        assert model["conv1"].weight.source.startswith("ConstantOfShape")  # its weight is still read
        assert model["conv2"].bias is not None


def test_the_table_and_totals_leave_constant_nodes_out(tmp_path, capsys):
    path = constant_model(tmp_path)
    code, text = inspect_text(capsys, path)
    assert code == 0
    assert table_names(text) == DATA_NODES
    totals = next(line for line in text.splitlines() if line.startswith("Total params"))
    assert "· 2 conv layers ·" in totals
    assert totals.endswith("· 6 nodes computing constants, not listed (--all-nodes lists them)")
    _, every = inspect_text(capsys, path, "--all-nodes")
    assert sorted(table_names(every)) == sorted(DATA_NODES + CONSTANT_NODES)
    assert "6 nodes computing constants" in every and "not listed" not in every


def test_json_keeps_every_node_marked(tmp_path, capsys):
    _, text = inspect_text(capsys, constant_model(tmp_path), "--format", "json")
    layers = report_json(text)["layers"]
    assert {layer["name"]: layer["constant"] for layer in layers} == {
        **dict.fromkeys(CONSTANT_NODES, True),
        **dict.fromkeys(DATA_NODES, False),
    }


def test_a_constant_node_inside_a_control_flow_body(tmp_path, manager):
    # The body's Constant, and its Mul with an outer initializer, are constants; its Add with the graph input is not.
    body = helper.make_graph(
        [
            helper.make_node("Constant", [], ["k"], name="k_c", value=numpy_helper.from_array(np.float32(2.0))),
            helper.make_node("Mul", ["k", "scale"], ["k2"], name="k_mul"),
            helper.make_node("Add", ["x", "k2"], ["then_out"], name="k_add"),
        ],
        "then",
        [],
        [tensor("then_out", None)],
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["else_out"], name="pass")], "else", [], [tensor("else_out", None)]
    )
    nodes = [helper.make_node("If", ["flag"], ["y"], name="branch", then_branch=body, else_branch=other)]
    inits = [numpy_helper.from_array(np.float32(3.0), "scale")]
    path = save(
        tmp_path / "if.onnx",
        nodes,
        [tensor("x", [2]), tensor("flag", [], TensorProto.BOOL)],
        [tensor("y", None)],
        inits,
    )
    with inspector.load(path, plugin_manager=manager) as model:
        marked = {layer.name.rsplit("/", 1)[-1]: layer.constant for layer in model.layers}
    assert marked == {"branch": False, "k_c": True, "k_mul": True, "k_add": False, "pass": False}


# -- the verdict line --------------------------------------------------------------------------------------------


def test_a_report_with_only_notes_ends_with_a_verdict(tmp_path, capsys):
    weight = np.random.default_rng(3).standard_normal((4, 2, 3, 3))
    weight[2] = weight[0]  # one repeat: a note
    code, text = inspect_text(capsys, conv_model(tmp_path, weight))
    assert code == 0
    assert text.splitlines()[-1] == "✔ all checks hold (1 note)"


def test_a_failing_report_ends_with_a_verdict_naming_the_counts(capsys):
    code, text = inspect_text(capsys, SAMPLES / "broken_grouped.onnx")
    assert code == 1 and text.splitlines()[-1] == "✘ checks failed: 2 errors"


def test_validate_layer_and_filter_reports_end_with_the_verdict(capsys):
    for args in (["--validate", "--seed", "1"], ["--layer", "conv2"], ["--filter", "conv2:3"]):
        code, text = inspect_text(capsys, SAMPLES / "seed.onnx", *args)
        assert code == 0 and text.splitlines()[-1] == "✔ all checks hold", args
    code, text = inspect_text(capsys, SAMPLES / "broken_grouped.onnx", "--layer", "ok")
    assert code == 1 and text.splitlines()[-1] == "✘ checks failed: 2 errors · 2 not listed"


def test_every_report_of_several_ends_with_its_verdict(capsys):
    _, text = inspect_text(capsys, SAMPLES / "seed.onnx", SAMPLES / "broken_grouped.onnx")
    verdicts = [line for line in text.splitlines() if line.startswith(("✔ all checks", "✘ checks failed"))]
    assert verdicts == ["✔ all checks hold", "✘ checks failed: 2 errors"]


# -- repeated findings -------------------------------------------------------------------------------------------


def test_513_equal_filters_are_512_repeats_on_one_line(tmp_path, capsys):
    weight = np.tile(np.random.default_rng(4).standard_normal((1, 2, 3, 3)), (513, 1, 1, 1))
    _, text = inspect_text(capsys, conv_model(tmp_path, weight))
    lines = [line for line in text.splitlines() if "[duplicate_filter]" in line]
    assert lines == ["i info    [duplicate_filter] c: 512 filters equal to filter 0 bit for bit: 1, 2, 3 … (509 more)"]
    _, document = inspect_text(capsys, conv_model(tmp_path, weight), "--format", "json")
    (finding,) = report_json(document)["findings"]
    assert finding["data"] == {"sets": [list(range(513))], "repeats": 512}


def test_a_set_of_three_is_two_repeats(tmp_path, manager):
    weight = np.random.default_rng(5).standard_normal((5, 2, 3, 3))
    weight[3] = weight[1] = weight[0]
    report = inspector.inspect_model(conv_model(tmp_path, weight), plugin_manager=manager)
    (finding,) = report.findings
    assert finding.data["repeats"] == 2 and finding.message == "2 filters equal to filter 0 bit for bit: 1, 3"


class RepeatingAnalyzer:
    """A third-party analyzer that says one thing per filter: five warnings and an error about layer c."""

    @hookimpl
    def analyze_model(self, model, options):
        notes = [Finding(severity="warning", check="toy", layer="c", message=f"filter {o} looks odd") for o in range(5)]
        return [*notes, Finding(severity="error", check="toy_error", layer="c", message="c is wrong")]


def test_findings_of_one_layer_and_kind_collapse_to_one_line(tmp_path, manager):
    manager.register(RepeatingAnalyzer(), name="repeating")
    weight = np.random.default_rng(6).standard_normal((2, 2, 3, 3))
    report = inspector.inspect_model(conv_model(tmp_path, weight), plugin_manager=manager)
    lines = render_text([report]).splitlines()
    examples_line = (
        "! warning [toy] c: 5 findings: filter 0 looks odd; filter 1 looks odd; filter 2 looks odd … (2 more)"
    )
    assert examples_line in lines
    assert lines[-1] == "✘ checks failed: 1 error, 5 warnings"
    explained = render_text([report], layer="c").splitlines()
    assert [line for line in explained if line.startswith("  ! ")] == [
        "  ! 5 findings: filter 0 looks odd; filter 1 looks odd; filter 2 looks odd … (2 more)"
    ]


@pytest.mark.parametrize(
    ("choice", "listed"), [("all", {"toy_error", "toy"}), ("warnings", {"toy_error", "toy"}), ("errors", {"toy_error"})]
)
def test_findings_flag_chooses_what_is_listed_not_the_verdict(tmp_path, manager, choice, listed):
    manager.register(RepeatingAnalyzer(), name="repeating")
    weight = np.random.default_rng(7).standard_normal((3, 2, 3, 3))
    weight[1] = weight[0]  # a note
    report = inspector.inspect_model(conv_model(tmp_path, weight), plugin_manager=manager)
    lines = render_text([report], findings=choice).splitlines()
    shown = {match.group(1) for line in lines if (match := re.match(r"^[✘!i] \w+ +\[(\w+)\]", line))}
    assert shown == listed | ({"duplicate_filter"} if choice == "all" else set())
    hidden = {"all": "", "warnings": " · 1 not listed", "errors": " · 6 not listed"}[choice]
    assert lines[-1] == f"✘ checks failed: 1 error, 5 warnings, 1 note{hidden}"
    assert report.exit_code == 1


def test_findings_flag_on_the_command_line(capsys):
    code, text = inspect_text(capsys, SAMPLES / "broken_grouped.onnx", "--findings", "errors")
    assert code == 1 and text.count("✘ error") == 2
    code, text = inspect_text(capsys, SAMPLES / "seed.onnx", "--findings", "warnings")
    assert code == 0 and text.splitlines()[-1] == "✔ all checks hold"
    assert main([str(SAMPLES / "seed.onnx"), "--findings", "some"]) == 2


# -- numbers and nouns -------------------------------------------------------------------------------------------


def test_helpers_agree_and_shorten():
    assert [plural(n, "conv layer") for n in (0, 1, 2, 12_000)] == [
        "0 conv layers",
        "1 conv layer",
        "2 conv layers",
        "12,000 conv layers",
    ]
    assert examples(list(range(1, 513))) == "1, 2, 3 … (509 more)" and examples([4]) == "4"
    assert [times(r) for r in (20.0, 9.56e32, 0.002, 16.0)] == ["20.0×", "9.6e+32×", "0.002×", "16.0×"]


def test_a_huge_int8_ratio_is_scientific_and_a_filter_left_no_level_is_dead(tmp_path, manager):
    weight = np.ones((2, 1, 3, 3))
    weight[1] *= 1e-33  # 1 / 1e-33 = 1e33 times smaller than filter 0: no int8 level left
    report = inspector.inspect_model(conv_model(tmp_path, weight), plugin_manager=manager)
    (finding,) = [f for f in report.findings if f.check == "int8_range"]
    assert "is 1e+33× channel 1's" in finding.message
    assert "rounding it to zero (a dead filter once quantized)" in finding.message
    assert finding.data["levels"] == 0


def test_counts_of_one_are_singular(tmp_path, capsys):
    weight = np.zeros((2, 1, 3, 3))
    weight[0] = 1.0  # filter 1 is dead
    path = conv_model(tmp_path, weight)
    _, text = inspect_text(capsys, path)
    assert "· 1 conv layer ·" in text
    assert "c: 1 of 2 filters is all zero (dead), so that output map is zero: output channel 1" in text
    single = conv_model(tmp_path, np.ones((1, 1, 3, 3)), "one.onnx")
    _, explained = inspect_text(capsys, single, "--layer", "c")
    assert "  input 1 map of 8×8 → output 1 map of 6×6" in explained
    assert "  1 filter, each 1×3×3, one per output map." in explained
    assert "each output map sums all 1 input map," in explained
    _, shown = inspect_text(capsys, single, "--filter", "c:0")
    assert "reads input map 0," in shown


# -- layout ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("terminal", [False, True])
def test_no_line_ends_in_spaces_and_columns_stay_aligned(tmp_path, manager, terminal):
    path = constant_model(tmp_path)
    report = inspector.inspect_model(path, plugin_manager=manager)
    text = render_text([report], terminal=terminal, all_nodes=True)
    assert ("\x1b[" in text) == terminal  # colour codes on a terminal only
    assert not re.search(r"[ \t]+(\x1b\[[0-9;]*m)*$", text, re.MULTILINE)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()
    heading = next(line for line in plain if line.startswith("layer"))
    rows = plain[plain.index(heading) + 2 : plain.index(heading) + 2 + len(report.model.layers)]
    column = heading.index("input → output")
    assert all(row[column - 3 : column] == "   " and row[column] != " " for row in rows)
    conv_rows = [row for row in rows if row.split()[1] == "Conv"]
    assert {len(row) for row in conv_rows} == {len(heading)}  # MACs right-aligned under its heading


def test_a_report_object_renders_without_the_command_line(tmp_path, manager):
    path = constant_model(tmp_path)
    report = Report.build(inspector.load(path, plugin_manager=manager), [])
    assert render_text([report]).splitlines()[-1] == "✔ all checks hold"
