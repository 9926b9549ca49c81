"""The filter options of ``inspect``: --layer statistics, --filter NAME:N, --export-filters FILE.npz."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import inspector
from inspector.cli.main import main
from tests.conftest import SAMPLES, report_json
from tests.test_cli import run


def initializers(sample: str) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(SAMPLES / sample).graph.initializer}


def test_layer_explanation_has_the_statistics_table():
    result = run(str(SAMPLES / "grouped.onnx"), "--layer", "grouped")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("per-filter statistics" in line for line in lines)
    heading = next(line for line in lines if "channel" in line and "L1" in line)
    assert heading.split() == ["channel", "reads", "L1", "L2", "min", "max", "mean", "zeros"]
    filter_5 = initializers("grouped.onnx")["grouped.W"][5].astype(np.float64)
    row = next(line.split() for line in lines if line.split()[:2] == ["5", "2…3"])
    assert row[2:] == [
        f"{np.abs(filter_5).sum():.4g}",
        f"{np.sqrt((filter_5**2).sum()):.4g}",
        f"{filter_5.min():.4g}",
        f"{filter_5.max():.4g}",
        f"{filter_5.mean():.4g}",
        "0.0%",
    ]


def test_layer_statistics_in_json(capsys):
    assert main([str(SAMPLES / "seed.onnx"), "--layer", "conv1", "--format", "json"]) == 0
    stats = report_json(capsys.readouterr().out)["explanation"]["filter_stats"]
    stored = initializers("seed.onnx")["conv1.W"].astype(np.float64)
    assert len(stats) == 32 and stats[7]["channel"] == 7
    assert stats[7]["l1"] == pytest.approx(np.abs(stored[7]).sum())
    assert stats[7]["max"] == pytest.approx(stored[7].max())
    assert main([str(SAMPLES / "seed.onnx"), "--layer", "relu1", "--format", "json"]) == 0
    assert report_json(capsys.readouterr().out)["explanation"]["filter_stats"] is None


def test_filter_prints_values_index_and_input_maps():
    result = run(str(SAMPLES / "grouped.onnx"), "--filter", "grouped:5")
    assert result.returncode == 0, result.stderr
    stored = initializers("grouped.onnx")
    text = result.stdout
    assert "grouped filter 5 (output map 5): reads input maps 2…3, one 3×3 kernel F_i,5 each" in text
    assert "in the file: W[5] of grouped.W (stored 16×2×3×3, OIHW)" in text
    assert f"bias: B[5] = {stored['grouped.B'][5]!s}" in text
    assert "values, canonical 2×3×3" in text
    assert np.array2string(stored["grouped.W"][5], max_line_width=120) in text
    assert "per-filter statistics" not in text and "Total params" not in text


def test_filter_of_a_grouped_transposed_conv_in_json(capsys):
    argv = [str(SAMPLES / "conv_transpose.onnx"), "--filter", "up_grouped:4", "--filter", "up:1", "--format", "json"]
    assert main(argv) == 0
    grouped, plain = report_json(capsys.readouterr().out)["filters"]
    weight = initializers("conv_transpose.onnx")["up_grouped.W"]  # (in 4, out/g 3, 3, 3), 2 groups
    assert grouped["layer"] == "up_grouped" and grouped["channel"] == 4
    assert grouped["native_index"] == "W[2:4, 1]" and grouped["input_channels"] == [2, 3]
    assert grouped["shape"] == [2, 3, 3] and grouped["native_shape"] == [2, 3, 3]
    np.testing.assert_array_equal(np.array(grouped["values"], dtype=np.float32), weight[2:4, 1])
    assert grouped["bias"] is None and grouped["native_layout"] == "IOHW" and grouped["source"] == "up_grouped.W"
    assert plain["native_index"] == "W[:, 1]" and plain["input_channels"] == list(range(8))
    assert plain["bias"] == pytest.approx(float(initializers("conv_transpose.onnx")["up.B"][1]))


@pytest.mark.parametrize(
    ("sample", "spec", "message"),
    [
        ("grouped.onnx", "grouped:16", "no output channel 16; it has 16 output channels"),
        ("grouped.onnx", "grouped:-1", "expected NAME:N"),
        ("grouped.onnx", "grouped:x", "expected NAME:N"),
        ("grouped.onnx", "grouped", "expected NAME:N"),
        ("grouped.onnx", "nope:1", "no layer named 'nope' (conv layers: grouped)"),
        ("classifier.onnx", "relu:0", "layer 'relu' is a Relu, not a conv layer"),
        ("broken_grouped.onnx", "bad_grouped:0", "the layer's attributes promise [16, 4, 3, 3]"),
    ],
)
def test_bad_filter_is_a_one_line_usage_error(sample, spec, message):
    result = run(str(SAMPLES / sample), "--filter", spec)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_export_filters_round_trip(tmp_path):
    target = tmp_path / "filters.npz"
    result = run(str(SAMPLES / "conv_in_if.onnx"), "--export-filters", str(target))
    assert result.returncode == 0, result.stderr
    assert "wrote 3 arrays of 2 conv layers" in result.stderr
    with np.load(target, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    assert sorted(arrays) == [
        "branch/else_branch/else_conv/bias",
        "branch/else_branch/else_conv/weight",
        "branch/then_branch/then_conv/weight",
    ]
    model = inspector.load(SAMPLES / "conv_in_if.onnx")
    for layer in model.conv_layers:
        np.testing.assert_array_equal(arrays[f"{layer.name}/weight"], layer.weight.array)
    assert [p.name for p in tmp_path.iterdir()] == ["filters.npz"]


def test_export_of_a_transposed_conv_is_canonical(tmp_path):
    target = tmp_path / "t.npz"
    assert main([str(SAMPLES / "conv_transpose.onnx"), "--export-filters", str(target)]) == 0
    stored = initializers("conv_transpose.onnx")
    with np.load(target, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["up/weight"], stored["up.W"])  # ONNX IOHW is canonical
        np.testing.assert_array_equal(archive["up/bias"], stored["up.B"])
        assert "up_grouped/bias" not in archive.files


def test_export_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "filters.npz"
    target.write_bytes(b"old")

    def broken_write(stream, array, **options):
        stream.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("inspector.report.npz.write_array", broken_write)
    assert main([str(SAMPLES / "seed.onnx"), "--export-filters", str(target)]) == 2
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["filters.npz"]


def test_export_usage_errors(tmp_path):
    missing_dir = run(str(SAMPLES / "seed.onnx"), "--export-filters", str(tmp_path / "no" / "f.npz"))
    assert missing_dir.returncode == 2 and "cannot write" in missing_dir.stderr
    two = run(str(SAMPLES / "seed.onnx"), str(SAMPLES / "grouped.onnx"), "--export-filters", str(tmp_path / "f.npz"))
    assert two.returncode == 2 and "one MODEL" in two.stderr
    assert list(tmp_path.iterdir()) == []
