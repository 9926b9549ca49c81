"""Big models in bounded memory: weights with external data are read one layer at a time, by the analyzers and by
validation, and onnxruntime reads external data itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.cli.main import main

CHANNELS = 512
LAYERS = 6
LAYER_BYTES = CHANNELS * CHANNELS * 9 * 4  # 9.4 MB


def conv_chain(path: Path, layers: int, channels: int, *, external: bool) -> Path:
    """``layers`` 3×3 convs of ``channels`` maps on a 1×C×4×4 input, weights external (one data file) or embedded."""
    rng = np.random.default_rng(0)
    nodes, initializers, current = [], [], "x"
    for index in range(layers):
        weight = (rng.standard_normal((channels, channels, 3, 3)) / np.sqrt(channels * 9)).astype(np.float32)
        initializers.append(numpy_helper.from_array(weight, f"w{index}"))
        nodes.append(helper.make_node("Conv", [current, f"w{index}"], [f"c{index}"], name=f"c{index}", pads=[1] * 4))
        current = f"c{index}"
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 4, 4])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [1, channels, 4, 4])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.save_model(model, path, save_as_external_data=external, location=path.name + ".data", size_threshold=0)
    return path


PEAK_RSS = """
import sys
from inspector.cli.main import main
try:
    code = main(sys.argv[1:])
finally:
    status = open("/proc/self/status").read()
    print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), file=sys.stderr)
raise SystemExit(code)
"""


def peak_rss_mb(*arguments: str) -> float:
    """Peak resident memory of ``inspect ARGUMENTS`` in a fresh process (exit 0 expected).

    Read from the process's own ``VmHWM``: a child's ``ru_maxrss`` starts at the size of the parent it was forked
    from, a test process holding models.
    """
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *arguments], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return int(done.stderr.split()[-1]) / 1024


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    return conv_chain(tmp_path_factory.mktemp("big") / "chain.onnx", LAYERS, CHANNELS, external=True)


def test_the_table_holds_one_layer_of_external_weights_at_a_time(big, tmp_path):
    """The report (filter statistics included) of a model of 6 × 9.4 MB weights grows the process by less than half
    its weights over the same report of a model with one small layer (measured: 17 MB, and 71 MB when every weight
    read stays held)."""
    tiny = conv_chain(tmp_path / "tiny.onnx", 1, 8, external=True)
    baseline = peak_rss_mb(str(tiny), "--format", "json")
    peak = peak_rss_mb(str(big), "--format", "json")
    assert peak - baseline < LAYERS * LAYER_BYTES / 2 / 2**20, (peak, baseline)


def test_analysis_and_validation_read_weights_without_keeping_them(big):
    with inspector.load(big) as model:
        kept = model.conv_layers[2].weight.array  # read by the user: stays held
        findings = inspector.analyze(model)
        result = inspector.validate(model)
        held = [layer.weight.held() for layer in model.conv_layers]
        assert not [f for f in findings if f.severity != "info"] and result.passed, inspector.validation_text(result)
        assert [bool(h) for h in held] == [False, False, True, False, False, False]
        assert model.conv_layers[2].weight.array is kept


def test_weights_dropped_after_a_pass_can_be_read_again(big):
    with inspector.load(big) as model:
        inspector.analyze(model)
        again = model.conv_layers[0].filter(3)
    expected = numpy_helper.to_array(onnx.load(big).graph.initializer[0])[3]
    np.testing.assert_array_equal(again, expected)


def test_onnxruntime_reads_external_data_from_the_model_folder(big, tmp_path, monkeypatch):
    """Every layer is captured from one whole-model run, also from another working directory."""
    model = inspector.load(big)
    monkeypatch.chdir(tmp_path)
    result = inspector.validate(model)
    assert result.passed and result.capture_runs == 1
    assert {layer.mode for layer in result.layers} == {"captured"}


def test_no_weights_reads_shapes_and_attributes_only(big, tmp_path, monkeypatch):
    """``--no-weights``: the table and parameter checks, and a note that the filter checks were skipped; no
    external weight is mapped.  A NaN weight is found only when weights are read."""
    broken = conv_chain(tmp_path / "nan.onnx", 1, 8, external=True)
    data = tmp_path / "nan.onnx.data"
    data.write_bytes(np.full(8 * 8 * 9, np.nan, np.float32).tobytes())
    assert main([str(broken), "--quiet"]) == 1

    def no_mapping(*arguments, **options):
        raise AssertionError("a weight was read")

    monkeypatch.setattr(np, "memmap", no_mapping)
    for model in (broken, big):
        report = inspector.inspect_model(model, options=inspector.Options(read_weights=False))
        assert report.passed and [f.check for f in report.findings] == ["filters_skipped"]
    assert main([str(big), "--no-weights", "--format", "json", "--quiet"]) == 0
