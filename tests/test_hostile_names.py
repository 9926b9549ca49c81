"""Names from a file cannot drive the terminal: control, C1, DEL, bidi and format characters in a producer, node,
tensor, input, metadata or Keras layer name reach stdout and stderr only as visible escapes (``\\x1b``), in the
plain and the rich text report, ``--layer``, ``--filter``, validation, JUnit XML (well-formed) and error lines;
JSON keeps every name exact.

The models are built here with onnx.helper and h5py; each name's visible form is written out by hand.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.report.text import render_text
from inspector.report.visible import visible
from tests.hostile.corpus_names import named_keras
from tests.test_progress import _run as run_on_terminal

NODE = "conv\x1b[2J\x1b]0;title\x07\x9b31m\u202e\x7f\r\nfake\x00[bold]:warning:"
NODE_SHOWN = r"conv\x1b[2J\x1b]0;title\x07\x9b31m\u202e\x7f\r\nfake\x00[bold]:warning:"
SECOND = "second\x1b[2J\u202e\u2066\u200b\ufeff\n[/]"
"""A name without NUL, which a command line cannot carry."""
SECOND_SHOWN = r"second\x1b[2J\u202e\u2066\u200b\ufeff\n[/]"
INPUT = "image\x1b[31m\x85"
INPUT_SHOWN = r"image\x1b[31m\x85"
PRODUCER = "maker\x1b]0;owned\x07"
PRODUCER_SHOWN = r"maker\x1b]0;owned\x07"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
"""What must never reach the terminal raw: C0 controls but the newline, DEL, C1 controls, the bidi controls, zero-width
characters and line or paragraph separators."""
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
"""The colour codes of the rich report on a terminal, its own."""


def hostile_model(path, *, group: int = 1):
    """x → conv ``NODE`` (4 filters) → conv ``SECOND`` (3 filters, ``group``) → y; every name, the producer, the
    metadata and the doc strings hostile."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), f"w1{NODE}")
    w2 = numpy_helper.from_array(rng.standard_normal((3, 4, 3, 3)).astype(np.float32), f"w2{SECOND}")
    nodes = [
        helper.make_node("Conv", [INPUT, w1.name], [f"mid{NODE}"], name=NODE, doc_string=NODE),
        helper.make_node("Conv", [f"mid{NODE}", w2.name], [f"y{SECOND}"], name=SECOND, group=group),
    ]
    graph = helper.make_graph(
        nodes,
        f"graph{NODE}",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info(f"y{SECOND}", TensorProto.FLOAT, None)],
        initializer=[w1, w2],
        doc_string=NODE,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10, doc_string=NODE)
    model.producer_name, model.producer_version = PRODUCER, "1"
    helper.set_model_props(model, {f"key{NODE}": f"value{SECOND}"})
    onnx.save(model, path)
    return path


def inspect(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def assert_nothing_raw(*texts: str) -> None:
    for text in texts:
        assert not RAW.search(text), f"a raw control character reaches the terminal: {text!r}"


@pytest.fixture
def model(tmp_path):
    return hostile_model(tmp_path / "hostile.onnx")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J", r"\x1b[2J"),
        ("\x1b]0;title\x07", r"\x1b]0;title\x07"),
        ("a\x9bb\x85", r"a\x9bb\x85"),
        ("\x7f\x00", r"\x7f\x00"),
        ("\u202eexe.pdf", r"\u202eexe.pdf"),
        ("\u2066\u2069\u200b\ufeff\u061c", r"\u2066\u2069\u200b\ufeff\u061c"),
        ("line\nnext\rover\ttab", r"line\nnext\rover\ttab"),
        ("\u2028\u2029", r"\u2028\u2029"),
        ("\ud800", r"\ud800"),
        ("conv_1/BiasAdd:0 × é 中 \\x1b [bold]", "conv_1/BiasAdd:0 × é 中 \\x1b [bold]"),
    ],
    ids=["clear", "title", "c1", "del-nul", "bidi", "format", "whitespace", "separators", "surrogate", "printable"],
)
def test_visible_writes_what_drives_a_terminal_as_escapes_and_keeps_the_rest(text, shown):
    assert visible(text).encode("utf-8", "surrogatepass") == shown.encode()  # bytes: a report never holds a surrogate


def test_the_plain_report_shows_every_name_visible(model):
    result = inspect(model)
    assert result.returncode == 0, result.stderr
    assert_nothing_raw(result.stdout, result.stderr)
    assert f"producer {PRODUCER_SHOWN} 1)" in result.stdout
    assert f"inputs: {INPUT_SHOWN} 1×2×8×8 float32" in result.stdout
    lines = result.stdout.splitlines()
    rows = [line for line in lines if line.startswith((NODE_SHOWN, SECOND_SHOWN))]
    assert len(rows) == 2 and rows[0].index("   Conv   ") == rows[1].index("   Conv   ")  # columns stay aligned
    assert result.stdout.count("\n") == len(lines)  # no name added a line


@pytest.mark.parametrize("findings", ["all", "errors"])
def test_the_rich_report_has_only_its_own_colour_codes(tmp_path, findings):
    """On a terminal, names with markup stay literal and a failing layer's name is shown visible, in red."""
    report = inspector.inspect_model(hostile_model(tmp_path / "broken.onnx", group=2))
    text = render_text([report], terminal=True, findings=findings)
    plain = COLOUR.sub("", text)
    assert "\x1b" not in plain
    assert_nothing_raw(plain.replace("\x1b", ""))
    assert f"{SECOND_SHOWN}: " in plain and "[bold]:warning:" in plain and "[/]" in plain
    assert f"{SECOND_SHOWN}" in plain.split("✘ error")[1]  # the error finding names the layer


def test_json_keeps_every_name_exact_and_writes_no_raw_character(model):
    result = inspect(model, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert_nothing_raw(result.stdout, result.stderr)
    document = json.loads(result.stdout)
    assert [layer["name"] for layer in document["layers"]] == [NODE, SECOND]
    assert document["model"]["inputs"][0]["name"] == INPUT
    assert document["model"]["producer"] == f"{PRODUCER} 1"


def test_validation_and_junit_xml_are_readable_for_any_name(model, tmp_path):
    junit = tmp_path / "report.xml"
    result = inspect(model, "--validate", "--junit", junit)
    assert result.returncode == 0, result.stderr
    assert_nothing_raw(result.stdout, result.stderr)
    assert f"validation inputs (random, seed 0): {INPUT_SHOWN} 1×2×8×8 float32" in result.stdout
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert [case.get("name") for case in cases] == [NODE_SHOWN, SECOND_SHOWN]


def test_junit_of_a_failing_layer_in_a_file_named_with_escapes(tmp_path):
    path = hostile_model(tmp_path / "broken\x1b[2J\n.onnx", group=2)
    junit = tmp_path / "report.xml"
    result = inspect(path, "--validate", "--junit", junit)
    assert result.returncode == 1, result.stderr
    assert_nothing_raw(result.stdout, result.stderr)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("name") == str(tmp_path / r"broken\x1b[2J\n.onnx")
    failed = [case for case in suite.iter("testcase") if case.find("error") is not None]
    assert [case.get("name") for case in failed] == [SECOND_SHOWN]
    assert failed[0].find("error").text.startswith("[channels] the input has 4 channels")


@pytest.mark.parametrize("option", ["--layer", "--filter"])
def test_layer_and_filter_explain_a_hostile_name(model, option):
    result = inspect(model, option, SECOND if option == "--layer" else f"{SECOND}:1")
    assert result.returncode == 0, result.stderr
    assert_nothing_raw(result.stdout, result.stderr)
    head = f"{SECOND_SHOWN}: Conv, a 2-D convolution" if option == "--layer" else f"{SECOND_SHOWN} filter 1 (output"
    assert head in result.stdout
    assert f"weight w2{SECOND_SHOWN}: stored 3×4×3×3" in result.stdout or option == "--filter"


def test_error_lines_show_names_visible(model, tmp_path):
    """One line each on stderr: a layer that is not there (the model's layers listed), and a file whose name holds
    escapes and a newline."""
    result = inspect(model, "--layer", "nosuch")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.endswith(f"(conv layers: {NODE_SHOWN}, {SECOND_SHOWN})\n")
    bad = tmp_path / "bad\x1b]0;title\x07\n\u202e.onnx"
    bad.write_bytes(b"not a model")
    result = inspect(bad)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert_nothing_raw(result.stdout, result.stderr)
    assert str(tmp_path / r"bad\x1b]0;title\x07\n\u202e.onnx") in result.stderr


def test_a_keras_layer_name_is_visible_in_text_and_exact_in_json(tmp_path):
    name = "conv\x1b[2J\x9b\u202e\r\n"
    shown = r"conv\x1b[2J\x9b\u202e\r\n"
    path = named_keras(tmp_path, name)
    text, document, layer = inspect(path), inspect(path, "--format", "json"), inspect(path, "--layer", name)
    for result in (text, document, layer):
        assert result.returncode == 0, result.stderr
        assert_nothing_raw(result.stdout, result.stderr)
    assert any(line.startswith(f"{shown}   Conv2D ") for line in text.stdout.splitlines())
    assert json.loads(document.stdout)["layers"][0]["name"] == name
    assert f"{shown}: Conv2D, a 2-D convolution" in layer.stdout


def test_the_progress_bar_shows_names_visible(model, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # the bar is cut at the terminal's width
    stdout, stderr = run_on_terminal("--validate", str(model), terminal=True)
    assert "all checks hold" in stdout
    assert re.search(r": (conv|second)\\x1b\[2J", stderr)  # the layer drawn last, made visible
    assert "\x1b[2J" not in stderr and "\x1b]0;" not in stderr and "\x07" not in stderr
    assert not re.search("[\x80-\x9f\u202e\u2066\u200b\ufeff]", stderr)
