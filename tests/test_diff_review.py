"""``inspect diff`` against the findings of its review: a BN folded with the wrong epsilon, layers whose names
differ only by a suffix, a changed op without weights, outputs that cannot be computed.  Pairs are built here (the
helpers of :mod:`tests.test_diff`); expected values come from NumPy."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.model.channel_values import ChannelValues
from inspector.model.filter_diff import MAX_SOLVED_EPSILON, compare_weights
from tests.conftest import report_json
from tests.test_diff import BN, W1, folded, run, save, two_convs


@pytest.mark.parametrize("epsilon", [0.5, 100.0])
def test_bn_folded_with_a_wrong_epsilon_differs(tmp_path, epsilon):
    _, _, w1, b1 = folded(epsilon)
    result = run(two_convs(tmp_path / "a.onnx", bn=True), two_convs(tmp_path / "b.onnx", w1=w1, b1=b1), "--no-outputs")
    assert result.returncode == 1, result.stdout
    assert "✘ conv1 ↔ conv1" in result.stdout


def test_bn_folded_reports_the_epsilon_its_file_states(tmp_path):
    _, _, w1, b1 = folded()
    a, b = two_convs(tmp_path / "a.onnx", bn=True), two_convs(tmp_path / "b.onnx", w1=w1, b1=b1)
    fold = report_json(run(a, b, "--format", "json").stdout)["layers"][0]["folded_bn"]
    assert fold["epsilon"] == pytest.approx(1e-5, rel=1e-6) and fold["epsilon_solved"] is False


def _values(rows, bias):
    count = len(rows)
    where = tuple(f"W[{o}]" for o in range(count))
    return ChannelValues(rows, bias, None, (rows.shape[1],), where, ())


def test_an_epsilon_the_file_does_not_state_is_solved_within_a_plausible_range():
    """Weights only: epsilon is fitted, said to be, and never so large that it excuses a wrong fold."""
    bn = _values(np.stack([BN[k].astype(np.float64) for k in ("scale", "B", "mean", "var")], axis=1), None)
    a = _values(W1.reshape(8, -1).astype(np.float64), np.zeros(8))
    for epsilon, agrees in ((1e-3, True), (100.0, False)):
        scale = BN["scale"] / np.sqrt(BN["var"].astype(np.float64) + epsilon)
        shift = BN["B"] - BN["mean"] * scale
        b = _values(a.rows * scale[:, None], shift)
        weights = compare_weights(a, b, ("bn", bn, None))
        assert weights.fold.solved and weights.fold.epsilon <= MAX_SOLVED_EPSILON
        assert weights.agrees is agrees


def _two_parallel(path, names, weights):
    """Two convs reading ``x`` (named ``names``, weights ``weights``), their outputs concatenated (``ya`` first)."""
    nodes = [
        helper.make_node("Conv", ["x", f"W{n}"], [out], name=name, pads=[1, 1, 1, 1])
        for n, (name, out) in enumerate(zip(names, ("ya", "yb"), strict=True))
    ]
    nodes.append(helper.make_node("Concat", ["ya", "yb"], ["y"], axis=1))
    return save(path, nodes, {f"W{n}": w for n, w in enumerate(weights)})


@pytest.mark.parametrize("swapped", [False, True])
def test_names_that_differ_by_a_suffix_pair_by_the_exact_path_part(tmp_path, swapped):
    """``conv_1`` is tf2onnx's ``m/conv_1/BiasAdd``, never ``m/conv_2/BiasAdd`` (both are ``conv`` stripped)."""
    first, second = W1[:4], W1[4:] * 2
    a = _two_parallel(tmp_path / "a.onnx", ("conv_1", "conv_2"), (first, second))
    held = (first, second) if swapped else (second, first)
    b = _two_parallel(tmp_path / "b.onnx", ("m/conv_2/BiasAdd", "m/conv_1/BiasAdd"), held)
    result = run(a, b, "--no-outputs")
    assert result.returncode == (1 if swapped else 0), result.stdout
    assert "conv_1 ↔ m/conv_1/BiasAdd (by name)" in result.stdout


def test_a_stripped_name_pairs_only_where_it_is_the_one_candidate(tmp_path):
    a = _two_parallel(tmp_path / "a.onnx", ("conv_1", "other"), (W1[:4], W1[4:]))
    b = _two_parallel(tmp_path / "b.onnx", ("m/conv/BiasAdd", "m/other/BiasAdd"), (W1[:4], W1[4:]))
    result = run(a, b, "--no-outputs")
    assert result.returncode == 0 and "conv_1 ↔ m/conv/BiasAdd (by name)" in result.stdout, result.stdout


def test_an_activation_changed_between_two_identical_convs_fails_the_second(tmp_path):
    """Relu became Sigmoid: every weight identical, conv1's outputs equal; conv2's input differs (Sigmoid(0) is
    0.5, Relu(0) is 0) far past what conv1's rounding explains, and conv2 is named."""
    a = two_convs(tmp_path / "a.onnx")
    model = onnx.load(a)
    model.graph.node[1].op_type = "Sigmoid"
    b = str(tmp_path / "b.onnx")
    onnx.save(model, b)
    result = run(a, b)
    assert result.returncode == 1, result.stdout
    assert "first layer whose output differs past rounding: conv2" in result.stdout
    assert "past the ≤" in result.stdout and "the earlier layers explain" in result.stdout


def _one_conv(path, shape):
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="conv", pads=[1, 1, 1, 1])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(W1, "W")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)
    return str(path)


def test_open_dims_skip_the_outputs_with_the_reason_until_given(tmp_path):
    model = _one_conv(tmp_path / "a.onnx", ["N", 3, "H", "W"])
    result = run(model, model)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "outputs: not compared: input 'x': dim 2 is not fixed" in result.stdout
    given = run(model, model, "--input-shape", "x:1x3x8x8")
    assert given.returncode == 0 and "outputs ✔ max diff 0" in given.stdout, given.stdout


def test_an_input_past_the_memory_limit_skips_the_outputs_and_the_limit_is_a_flag(tmp_path):
    model = _one_conv(tmp_path / "a.onnx", [1, 3, 600, 600])  # 3·600²·4 bytes = 4.1 MiB
    small = run(model, model, "--max-capture-mb", "1")
    assert small.returncode == 0 and "outputs: not compared:" in small.stdout and "past the limit" in small.stdout
    assert "outputs ✔" in run(model, model, "--max-capture-mb", "64").stdout
    assert run(model, model, "--max-capture-mb", "0").returncode == 2


def _conv_then(path, tail, values):
    """conv1 (W1, B1; 1×3×10×10 input) followed by ``tail`` nodes reading ``c1`` and writing ``y``."""
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]), *tail]
    return save(path, nodes, {"W1": W1, "B1": np.zeros(8, np.float32), **values})


def _bn_and_factors(tmp_path, wrong_channel=None):
    """B: conv1 → BatchNormalization (eps 1e-5); A: conv1 → Mul → Add by its factors, from NumPy."""
    scale = (BN["scale"] / np.sqrt(BN["var"].astype(np.float64) + 1e-5)).astype(np.float32)
    shift = (BN["B"] - BN["mean"] * scale).astype(np.float32)
    if wrong_channel is not None:
        scale[wrong_channel] *= 1.1
    names = [f"bn_{k}" for k in BN]
    bn = helper.make_node("BatchNormalization", ["c1", *names], ["y"], name="bn", epsilon=1e-5)
    with_bn = _conv_then(tmp_path / "bn.onnx", [bn], {n: BN[k] for n, k in zip(names, BN, strict=True)})
    mul = helper.make_node("Mul", ["c1", "s"], ["m"], name="bn_mul")
    add = helper.make_node("Add", ["m", "t"], ["y"], name="bn_add")
    factors = {"s": scale.reshape(8, 1, 1), "t": shift.reshape(8, 1, 1)}
    return with_bn, _conv_then(tmp_path / "affine.onnx", [mul, add], factors)


@pytest.mark.parametrize("wrong_channel", [None, 3])
def test_a_bn_against_its_factors_is_compared_in_both_directions(tmp_path, wrong_channel):
    with_bn, affine = _bn_and_factors(tmp_path, wrong_channel)
    for a, b in ((with_bn, affine), (affine, with_bn)):
        result = run(a, b, "--no-outputs")
        assert result.returncode == (0 if wrong_channel is None else 1), result.stdout
        assert "folded" in result.stdout and "different shapes" not in result.stdout


def test_a_weight_its_layer_contradicts_is_not_compared_with_the_reason(tmp_path):
    """A group-2 conv of 8 input channels promises 4 per group; its weight holds 2."""
    conv = helper.make_node("Conv", ["x", "W"], ["y"], name="bad", group=2)
    model = _one_conv(tmp_path / "ok.onnx", [1, 8, 10, 10])
    broken = onnx.load(model)
    broken.graph.node[0].CopyFrom(conv)
    broken.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.ones((16, 2, 3, 3), np.float32), "W"))
    onnx.save(broken, model)
    result = run(model, model, "--no-outputs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "– bad ↔ bad (by name): not compared: layer bad: weight W has canonical shape [16, 2, 3, 3]" in result.stdout
    verdict = "✔ the models agree: 1 matched layer within what rounding explains (1 not compared: their weights"
    assert result.stdout.rstrip().endswith(f"{verdict} could not be read)")


def test_a_ternary_float32_weight_is_float32_not_int8(tmp_path):
    """Values in {-1, 0, 1} lie on an int8 grid of step 1/127, but nothing says the file was quantized: a change of
    0.003 (about 25,000 float32 ulps of 1) is a difference, not half an int8 step of rounding."""
    ternary = np.random.default_rng(3).integers(-1, 2, size=W1.shape).astype(np.float32)
    changed = ternary.copy()
    changed[2, 0, 1, 1] = changed[2, 0, 1, 1] + np.float32(0.003)
    result = run(two_convs(tmp_path / "a.onnx", w1=ternary), two_convs(tmp_path / "b.onnx", w1=changed), "--no-outputs")
    assert result.returncode == 1, result.stdout
    assert "filter 2: A W[2], B W[2]: differs by up to 0.003" in result.stdout


def test_an_op_after_the_last_conv_that_changed_fails_its_graph_output(tmp_path):
    """conv2's output goes through a Relu (A) or a Sigmoid (B): no matched conv sees it, the graph output does;
    the Sigmoid's output lies in (0, 1), the Relu's is conv2's positive part: NumPy gives the difference."""
    plain = two_convs(tmp_path / "plain.onnx")
    a = str(tmp_path / "a.onnx")
    for path, op in ((a, "Relu"), (str(tmp_path / "b.onnx"), "Sigmoid")):
        model = onnx.load(plain)
        model.graph.node[-1].output[0] = "c2"
        model.graph.node.append(helper.make_node(op, ["c2"], ["y"], name="last"))
        onnx.save(model, path)
    result = run(a, tmp_path / "b.onnx", "--format", "json")
    assert result.returncode == 1, result.stdout
    document = report_json(result.stdout)
    assert all(layer["agrees"] for layer in document["layers"]) and document["first_unexplained"] == "graph output y"
    (final,) = document["graph_outputs"]
    assert not final["agrees"] and final["max_abs"] > 0.4  # Sigmoid(0) = 0.5 against Relu(0) = 0, at the least
    same = report_json(run(a, a, "--format", "json").stdout)["graph_outputs"]
    assert same == [{"a": "y", "b": "y", "agrees": True, "max_abs": 0.0, "tolerance": same[0]["tolerance"]}]


def test_a_model_that_overflows_agrees_with_itself(tmp_path):
    """Weights of 3e38: float32 sums overflow to ±inf on both sides alike (inf - inf is NaN, not a difference)."""
    huge = np.full(W1.shape, 3e38, np.float32)
    a = two_convs(tmp_path / "a.onnx", w1=huge)
    result = run(a, a)
    assert result.returncode == 0, result.stdout


def test_an_input_shape_for_no_input_is_a_usage_error(tmp_path):
    model = _one_conv(tmp_path / "a.onnx", ["N", 3, "H", "W"])
    result = run(model, model, "--input-shape", "image:1x3x8x8")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("inspect diff: error: --input-shape names 'image', not an input of")
