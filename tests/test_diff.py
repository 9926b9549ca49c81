"""``inspect diff`` on ONNX pairs the tests build: fp32 against fp16 and int8 (onnxruntime's own quantizer, QDQ and
QOperator), a BatchNormalization folded by hand, and broken pairs (a filter swapped, a channel's scale wrong, a
filter zeroed, a layer dropped) that must be caught and named.  Expected numbers come from NumPy on the arrays the
tests wrote, or from the quantized files' own integers and scales."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from tests.conftest import report_json

RNG = np.random.default_rng(7)
W1 = RNG.normal(size=(8, 3, 3, 3)).astype(np.float32)
B1 = RNG.normal(size=8).astype(np.float32)
W2 = RNG.normal(size=(6, 8, 3, 3)).astype(np.float32) * 0.3
B2 = RNG.normal(size=6).astype(np.float32)
BN = {
    "scale": RNG.uniform(0.5, 2.0, 8).astype(np.float32),
    "B": RNG.normal(size=8).astype(np.float32),
    "mean": RNG.normal(size=8).astype(np.float32),
    "var": RNG.uniform(0.2, 3.0, 8).astype(np.float32),
}
EPSILON = 1e-5
SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "seed.onnx"


def save(path, nodes, initializers, elem=TensorProto.FLOAT):
    """A model of ``nodes`` reading ``x`` (1×3×10×10) and writing ``y``, IR 10, opset 17."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", elem, [1, 3, 10, 10])],
        [helper.make_tensor_value_info("y", elem, None)],
        [numpy_helper.from_array(array, name) for name, array in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.save(model, path)
    return str(path)


def two_convs(
    path,
    w1=W1,
    b1=B1,
    w2=W2,
    b2=B2,
    *,
    elem=TensorProto.FLOAT,
    dtype=np.float32,
    bn=False,
    drop=False,
    pads=(1, 1, 1, 1),
):
    """conv1 (pads 1) → [bn1] → relu1 → conv2, with the given weights."""
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="conv1", pads=list(pads))]
    values = {"W1": w1, "B1": b1}
    after = "c1"
    if bn:
        nodes.append(helper.make_node("BatchNormalization", ["c1", *BN_NAMES], ["n1"], name="bn1", epsilon=EPSILON))
        values.update({f"bn_{k}": v for k, v in BN.items()})
        after = "n1"
    nodes.append(helper.make_node("Relu", [after], ["y" if drop else "r1"], name="relu1"))
    if not drop:
        nodes.append(helper.make_node("Conv", ["r1", "W2", "B2"], ["y"], name="conv2"))
        values.update({"W2": w2, "B2": b2})
    return save(path, nodes, {k: v.astype(dtype) for k, v in values.items()}, elem)


BN_NAMES = [f"bn_{k}" for k in BN]


def folded(epsilon=EPSILON):
    """conv1's weight and bias with bn1 folded in (with ``epsilon``), by NumPy in float64."""
    scale = BN["scale"].astype(np.float64) / np.sqrt(BN["var"].astype(np.float64) + epsilon)
    shift = BN["B"] - BN["mean"].astype(np.float64) * scale
    return scale, shift, (W1 * scale[:, None, None, None]).astype(np.float32), (B1 * scale + shift).astype(np.float32)


def run(*args):
    return subprocess.run([sys.executable, "-m", "inspector", "diff", *map(str, args)], capture_output=True, text=True)


def verdicts(result, layer):
    found = next(d for d in result.layers if d.a == layer)
    return [f.verdict for f in found.weights.filters]


def test_a_model_against_itself_agrees_with_exit_0(tmp_path):
    a = two_convs(tmp_path / "a.onnx")
    result = run(a, a)
    assert result.returncode == 0, result.stderr
    assert "✔ conv1 ↔ conv1 (by name): 8 identical (float32)" in result.stdout
    assert result.stdout.rstrip().endswith("✔ the models agree: 2 matched layers within what rounding explains")


def test_fp16_initializers_agree_within_half_an_ulp(tmp_path):
    a = two_convs(tmp_path / "a.onnx")
    b = two_convs(tmp_path / "b.onnx", elem=TensorProto.FLOAT16, dtype=np.float16)
    assert np.any(W1.astype(np.float16).astype(np.float32) != W1)  # the cast did round: not all identical
    result = inspector.diff(a, b)
    assert result.agrees, result
    assert set(verdicts(result, "conv1")) <= {"identical", "rounding"} and "rounding" in verdicts(result, "conv1")
    assert result.layers[0].weights.storage_b == "float16"
    assert all(layer.output is not None and not layer.output.skipped for layer in result.layers)


def test_fp16_filter_changed_past_rounding_is_named_with_its_difference(tmp_path):
    a = two_convs(tmp_path / "a.onnx")
    w2 = W2.astype(np.float16)
    w2[3, 5, 1, 2] += np.float16(0.05)
    b = two_convs(tmp_path / "b.onnx", w2=w2, elem=TensorProto.FLOAT16, dtype=np.float16)
    result = inspector.diff(a, b)
    assert not result.agrees
    conv2 = next(d for d in result.layers if d.a == "conv2")
    wrong = [f for f in conv2.weights.filters if not f.agrees]
    assert [f.channel for f in wrong] == [3]
    expected = np.abs(w2[3].astype(np.float64) - W2[3]).max()
    assert wrong[0].max_abs == pytest.approx(expected) and wrong[0].at == (5, 1, 2)
    assert (wrong[0].where_a, wrong[0].where_b) == ("W[3]", "W[3]")
    span = W2[3].max() - W2[3].min()
    assert wrong[0].share == pytest.approx(expected / span)


def _calibration(count=4):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.batches = iter([{"x": rng.normal(size=(1, 3, 10, 10)).astype(np.float32)} for _ in range(count)])

        def get_next(self):
            return next(self.batches, None)

    return Reader()


def _quantized_weight(path, name_part):
    """The integers and scales of the quantized file's weight whose name holds ``name_part``, dequantized by NumPy."""
    values = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    integers = next(v for k, v in values.items() if name_part in k and v.dtype == np.int8 and v.ndim == 4)
    scale = next(v for k, v in values.items() if k.startswith(name_part) and "scale" in k and v.dtype == np.float32)
    steps = scale.reshape(-1, 1, 1, 1) if scale.size > 1 else scale
    return integers.astype(np.float64) * steps, steps


@pytest.mark.parametrize("quant_format", ["QDQ", "QOperator"])
def test_int8_from_onnxruntimes_quantizer_agrees_within_half_a_step(tmp_path, quant_format):
    from onnxruntime.quantization import QuantFormat, quantize_static

    a = two_convs(tmp_path / "a.onnx")
    b = str(tmp_path / f"b_{quant_format}.onnx")
    per_channel = quant_format == "QDQ"
    quantize_static(a, b, _calibration(), quant_format=QuantFormat[quant_format], per_channel=per_channel)
    dequantized, steps = _quantized_weight(b, "W1")
    assert np.all(np.abs(dequantized - W1) <= steps / 2 * (1 + 1e-6))  # what the tool must find, from the file
    result = inspector.diff(a, b)
    assert result.agrees, [f for d in result.layers for f in d.weights.filters if not f.agrees]
    assert set(verdicts(result, "conv1")) == {"rounding"}
    expected = "int8 per channel" if per_channel else "int8 per tensor"
    assert result.layers[0].weights.storage_b.startswith(expected)


def test_bn_folded_by_hand_agrees_and_reports_its_factors(tmp_path):
    scale, shift, w1, b1 = folded()
    a = two_convs(tmp_path / "a.onnx", bn=True)
    b = two_convs(tmp_path / "b.onnx", w1=w1, b1=b1)
    result = run(a, b)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "holds BatchNormalization bn1 as scale·x + shift" in result.stdout
    document = report_json(run(a, b, "--format", "json").stdout)
    conv1 = document["layers"][0]
    assert conv1["verdict"] == "folded" and document["only_a"] == []
    assert np.allclose(conv1["folded_bn"]["scale"], scale, rtol=1e-6)
    assert np.allclose(conv1["folded_bn"]["shift"], shift, rtol=1e-5, atol=1e-6)
    assert conv1["folded_bn"]["epsilon"] == pytest.approx(EPSILON, rel=0.05)
    assert conv1["output"]["agrees"] and conv1["output"]["skipped"] is None


def test_bn_folded_with_one_channel_scale_wrong_names_that_channel(tmp_path):
    scale, _, w1, b1 = folded()
    w1[5] *= 1.1
    result = run(two_convs(tmp_path / "a.onnx", bn=True), two_convs(tmp_path / "b.onnx", w1=w1, b1=b1), "--no-outputs")
    assert result.returncode == 1
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("filter ")]
    assert len(lines) == 1 and lines[0].startswith("filter 5: A W[5], B W[5]: differs by up to")
    assert f"the folded BN gives scale {scale[5]:.6g}" in lines[0]


def test_swapped_filters_name_both_channels(tmp_path):
    w1 = W1.copy()
    w1[[1, 6]] = w1[[6, 1]]
    result = inspector.diff(two_convs(tmp_path / "a.onnx"), two_convs(tmp_path / "b.onnx", w1=w1), outputs=False)
    conv1 = result.layers[0].weights.filters
    assert [(f.channel, f.verdict, f.other) for f in conv1 if not f.agrees] == [(1, "swapped", 6), (6, "swapped", 1)]


def test_a_zeroed_filter_is_dead(tmp_path):
    w2 = W2.copy()
    w2[4] = 0
    result = inspector.diff(two_convs(tmp_path / "a.onnx"), two_convs(tmp_path / "b.onnx", w2=w2), outputs=False)
    assert verdicts(result, "conv2").count("dead") == 1 and verdicts(result, "conv2")[4] == "dead"


def test_a_dropped_layer_is_listed_and_fails_with_junit(tmp_path):
    junit = tmp_path / "diff.xml"
    result = run(two_convs(tmp_path / "a.onnx"), two_convs(tmp_path / "b.onnx", drop=True), "--junit", junit)
    assert result.returncode == 1
    assert "✘ only in A: conv2 (Conv), no layer of the other model holds its values" in result.stdout
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed == ["conv2", "graph output y"]  # B's y is relu1's output: 8×10×10 values, A's 6×8×8


def test_a_changed_bias_fails_its_output_too(tmp_path):
    b1 = B1.copy()
    b1[2] += 0.5
    document = json.loads(
        run(two_convs(tmp_path / "a.onnx"), two_convs(tmp_path / "b.onnx", b1=b1), "--format", "json").stdout
    )
    report_json(document)
    conv1 = document["layers"][0]
    assert [f["channel"] for f in conv1["filters"] if f["verdict"] != "identical"] == [2]
    assert conv1["filters"][2]["bias_only"] and conv1["filters"][2]["max_abs"] == pytest.approx(0.5)
    assert not conv1["output"]["agrees"] and conv1["output"]["worst_channel"] == 2
    assert document["first_unexplained"] == "conv1" and not document["agrees"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.onnx", "missing.onnx"], "missing.onnx"),
        (["only_one.onnx"], "the following arguments are required: B"),
        (["a", "b", "--seed", "x"], "invalid int value"),
        ([str(SAMPLE), str(SAMPLE), "-o", "missing/report.txt"], "cannot write missing/report.txt: No such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "inspector", "diff", *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_padding_moved_keeps_every_filter_but_fails_the_first_output(tmp_path):
    """Same weights, same output shape, pads (2, 2, 0, 0) for (1, 1, 1, 1): only the outputs can tell, and the
    first conv is where the difference appears; conv2 inherits it through its input and does not add to it."""
    a = two_convs(tmp_path / "a.onnx")
    b = two_convs(tmp_path / "b.onnx", pads=(2, 2, 0, 0))
    result = inspector.diff(a, b)
    assert all(f.verdict == "identical" for d in result.layers for f in d.weights.filters)
    conv1, conv2 = result.layers
    assert not conv1.output.agrees and conv1.output.input_max_abs == 0
    assert conv2.output.agrees and conv2.output.input_max_abs > 0.1
    assert result.first_unexplained == "conv1" and not result.agrees


def test_fp16_is_held_to_a_wider_output_tolerance_than_fp32(tmp_path):
    a = two_convs(tmp_path / "a.onnx")
    same = inspector.diff(a, a)
    half = inspector.diff(a, two_convs(tmp_path / "b.onnx", elem=TensorProto.FLOAT16, dtype=np.float16))
    for exact, rounded in zip(same.layers, half.layers, strict=True):
        assert rounded.output.tolerance > 100 * exact.output.tolerance  # u16 / u32 = 2**13
