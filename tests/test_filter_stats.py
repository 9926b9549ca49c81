"""Per-filter statistics and the analyze_filters findings (NaN/Inf, dead, int8 range, duplicates)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.model.filter_stats import filter_stats
from inspector.plugins.analyze_filters import RANGE_RATIO_THRESHOLD, duplicate_sets
from inspector.report.json_report import stats_records
from tests.conftest import SAMPLES, save_model

FILTER_CHECKS = {"non_finite", "dead_filter", "int8_range", "duplicate_filter"}


def conv_file(tmp_path, weight, bias=None, *, group=1, op="Conv", dtype=np.float32):
    """A one-node model around ``weight`` (ONNX layout), named ``c``."""
    initializers = [numpy_helper.from_array(weight.astype(dtype), "W")]
    if bias is not None:
        initializers.append(numpy_helper.from_array(bias.astype(np.float32), "B"))
    channels = weight.shape[0] if op == "ConvTranspose" else weight.shape[1] * group
    node = helper.make_node(op, ["x", "W", *(["B"] if bias is not None else [])], ["y"], name="c", group=group)
    if op == "ConvInteger":
        node = helper.make_node(op, ["x", "W"], ["y"], name="c", group=group)
    element = TensorProto.UINT8 if op == "ConvInteger" else TensorProto.FLOAT
    return save_model(
        tmp_path / "c.onnx",
        [node],
        [helper.make_tensor_value_info("x", element, [1, channels, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.INT32 if op == "ConvInteger" else TensorProto.FLOAT, None)],
        initializers,
    )


def filter_findings(path, manager):
    report = inspector.inspect_model(path, plugin_manager=manager)
    return report, {f.check: f for f in report.findings if f.check in FILTER_CHECKS}


@pytest.mark.parametrize(
    ("sample", "name"), [("seed.onnx", "conv2"), ("conv_transpose.onnx", "up_grouped"), ("depthwise.onnx", "dw")]
)
def test_statistics_match_a_loop_over_the_filters(sample, name):
    layer = inspector.load(SAMPLES / sample)[name]
    stats = filter_stats(layer)
    for o, values in enumerate(layer.filters()):
        flat = values.astype(np.float64).ravel()
        assert stats.l1[o] == pytest.approx(np.abs(flat).sum())
        assert stats.l2[o] == pytest.approx(np.sqrt((flat**2).sum()))
        assert (stats.min[o], stats.max[o]) == (flat.min(), flat.max())
        assert stats.mean[o] == pytest.approx(flat.mean())
        assert stats.zero_fraction[o] == np.count_nonzero(flat == 0) / flat.size
    assert [record["channel"] for record in stats_records(layer)] == list(range(layer.out_channels))


def test_zero_fraction_and_non_finite_records(tmp_path):
    weight = np.ones((3, 1, 2, 2))
    weight[0, 0, 0] = 0  # half of filter 0
    weight[2, 0, 1, 1] = np.inf
    layer = inspector.load(conv_file(tmp_path, weight))["c"]
    stats = filter_stats(layer)
    assert stats.zero_fraction.tolist() == [0.5, 0.0, 0.0]
    assert stats.finite.tolist() == [True, True, False]
    records = stats_records(layer)
    assert records[0] == {"channel": 0, "l1": 2.0, "l2": pytest.approx(2**0.5), "min": 0.0, "max": 1.0,
                          "mean": 0.5, "zero_fraction": 0.5}  # fmt: skip
    assert records[2]["max"] is None and records[2]["l1"] is None and records[2]["min"] == 1.0


def test_nan_and_inf_are_an_error_naming_the_channels(tmp_path, manager):
    weight = np.full((4, 2, 3, 3), 0.1)
    weight[1, 0, 0, 0] = np.nan
    weight[3, 1, 2, 2] = -np.inf
    bias = np.array([0.0, 0.0, np.nan, 0.0])
    report, found = filter_findings(conv_file(tmp_path, weight, bias), manager)
    finding = found["non_finite"]
    assert finding.severity == "error" and finding.layer == "c" and not report.passed
    assert finding.data == {"filter_channels": [1, 3], "bias_channels": [2]}
    assert "output channels 1, 3" in finding.message and "bias of output channel 2" in finding.message
    assert set(found) == {"non_finite", "duplicate_filter"}  # 0 and 2 stay equal


def test_dead_filters_are_a_warning_and_not_duplicates(tmp_path, manager):
    weight = np.random.default_rng(0).standard_normal((4, 2, 3, 3))
    weight[[0, 2]] = 0
    report, found = filter_findings(conv_file(tmp_path, weight, np.zeros(4)), manager)
    assert set(found) == {"dead_filter"} and report.passed
    assert found["dead_filter"].severity == "warning"
    assert found["dead_filter"].data == {"channels": [0, 2]}
    assert "2 of 4 filters are all zero" in found["dead_filter"].message
    assert "its bias alone" in found["dead_filter"].message


def scaled_filters(magnitudes):
    """Filters ``(len, 2, 3, 3)`` whose largest |w| are ``magnitudes``, all different."""
    shape = (len(magnitudes), 2, 3, 3)
    base = np.linspace(-1.0, 1.0, int(np.prod(shape[1:]))).reshape(shape[1:])
    return np.stack([base * m for m in magnitudes])


def test_uneven_ranges_warn_for_per_tensor_int8(tmp_path, manager):
    weight = scaled_filters([1.0, 0.05, 0.1, 1 / RANGE_RATIO_THRESHOLD])  # ratios 1, 20, 10, 16
    _, found = filter_findings(conv_file(tmp_path, weight), manager)
    finding = found["int8_range"]
    assert finding.severity == "warning" and set(found) == {"int8_range"}
    assert finding.data["channels"] == [1, 3]  # at or above 16×
    assert finding.data["ratio"] == pytest.approx(20.0) and finding.data["threshold"] == RANGE_RATIO_THRESHOLD == 16
    assert finding.data["levels"] == 6 and finding.data["largest_channel"] == 0
    assert finding.data["smallest_channel"] == 1
    assert "20.0× channel 1's" in finding.message and "16× threshold" in finding.message
    assert "6 of 127 levels" in finding.message


def test_ranges_within_the_threshold_are_fine(tmp_path, manager):
    _, found = filter_findings(conv_file(tmp_path, scaled_filters([1.0, 0.07, 0.5])), manager)
    assert found == {}


def test_exact_duplicates_within_a_group_are_noted(tmp_path, manager):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((6, 2, 3, 3))  # group 2: outputs 0-2 read inputs 0-1, outputs 3-5 inputs 2-3
    weight[1] = weight[2] = weight[0]
    weight[3] = weight[0]  # same values, other inputs: not a duplicate
    weight[5] = weight[4]
    _, found = filter_findings(conv_file(tmp_path, weight, group=2), manager)
    finding = found["duplicate_filter"]
    assert finding.severity == "info" and finding.data == {"sets": [[0, 1, 2], [4, 5]], "repeats": 3}
    assert finding.message.startswith("3 filters repeat an earlier one of their group bit for bit, in 2 sets: ")
    assert "2 filters equal to filter 0 (1, 2); 1 filter equal to filter 4 (5)" in finding.message


def test_duplicates_in_a_transposed_conv(tmp_path, manager):
    weight = np.random.default_rng(2).standard_normal((2, 3, 3, 3))  # (in, out, k): filter o is W[:, o]
    weight[:, 2] = weight[:, 0]
    _, found = filter_findings(conv_file(tmp_path, weight, op="ConvTranspose"), manager)
    assert found["duplicate_filter"].data == {"sets": [[0, 2]], "repeats": 1}
    assert found["duplicate_filter"].message == "1 filter equal to filter 0 bit for bit: 2"


def test_duplicates_found_in_a_large_layer():
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((1024, 64, 3, 3)).astype(np.float32)
    weight[900] = weight[10]
    weight[6] = weight[7] = weight[5]
    layer = inspector.ConvLayer(
        name="big", kind="conv", source_op="Conv", rank=2, in_channels=64, out_channels=1024, groups=1,
        kernel_shape=(3, 3), strides=None, dilations=None, pads=None,
        weight=inspector.Weight(role="W", source="big.W", native_shape=weight.shape, native_layout="OIHW",
                                dtype="float32", read_native=lambda: weight),
    )  # fmt: skip
    assert duplicate_sets(layer, filter_stats(layer)) == [[5, 6, 7], [10, 900]]


def test_integer_weights_are_described_not_judged(tmp_path, manager):
    weight = np.zeros((4, 2, 3, 3), dtype=np.uint8)
    weight[1] = 200
    _, found = filter_findings(conv_file(tmp_path, weight, op="ConvInteger", dtype=np.uint8), manager)
    assert found == {}
    stats = filter_stats(inspector.load(tmp_path / "c.onnx")["c"])
    assert stats.max.tolist() == [0, 200, 0, 0]


def test_broken_and_good_samples(manager):
    _, found = filter_findings(SAMPLES / "broken_grouped.onnx", manager)
    assert found == {}  # the weight that disagrees with its attributes is analyze_params' to report
    for path in sorted(SAMPLES.glob("*.onnx")):
        report = inspector.inspect_model(path, plugin_manager=manager)
        assert not [f for f in report.findings if f.check in FILTER_CHECKS | {"plugin"}], path.name
