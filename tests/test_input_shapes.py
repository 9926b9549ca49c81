"""Input dims a file leaves open (-1, 0, symbolic): a default batch of 1, ``--input-shape`` for the rest, in the
table, the API, validation and the pytest plugin, and a one-line error where a size cannot be known."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.errors import ValidationError
from inspector.report.json_report import validation_dict
from tests.conftest import SAMPLES, report_json, save_model
from tests.hostile.keras_build import sequential_config, sequential_weights
from tests.test_keras_files import write_legacy_h5


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True, text=True)


def detector(path, dims) -> str:
    """Conv 3×3 (3 → 8 maps, pads 1) then 2×2 stride-2 conv (8 → 4), on an input ``x`` of the given dims."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "W1"),
        numpy_helper.from_array(rng.standard_normal((4, 8, 2, 2)).astype(np.float32), "W2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "W1"], ["h"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["h", "W2"], ["y"], name="down", strides=[2, 2]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    return str(save_model(path, nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights))


# MACs at 1×3×32×32, by hand: stem 32·32 outputs × 8 maps × 3·3·3; down 16·16 × 4 × 8·2·2.
MACS_32 = {"stem": 32 * 32 * 8 * 27, "down": 16 * 16 * 4 * 32}


@pytest.mark.parametrize("open_dim", [-1, 0, "height"])
def test_open_spatial_dims_are_unknown_until_given(tmp_path, open_dim):
    path = detector(tmp_path / "det.onnx", ["batch", 3, open_dim, open_dim])
    model = inspector.load(path)
    assert model.inputs[0].shape == ("batch", 3, *([open_dim] * 2 if isinstance(open_dim, str) else ["?", "?"]))
    assert [layer.macs for layer in model.conv_layers] == [None, None]  # never the count at size 1
    given = inspector.load(path, input_shapes={"x": (1, 3, 32, 32)})
    assert given.inputs[0].shape == (1, 3, 32, 32)
    assert {layer.name: layer.macs for layer in given.conv_layers} == MACS_32
    assert given["down"].output_shape == (1, 4, 16, 16)


def test_an_open_spatial_dim_is_a_one_line_error_naming_input_dim_and_flag(tmp_path):
    path = detector(tmp_path / "det.onnx", [-1, 3, -1, -1])
    with pytest.raises(ValidationError, match=r"input 'x': dim 2 is not fixed .* --input-shape x:1x3xHxW"):
        inspector.validate(path)
    result = run("--validate", path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "--input-shape x:1x3xHxW" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("batch", [-1, 0, "N"])
def test_an_open_batch_defaults_to_1(tmp_path, batch):
    path = detector(tmp_path / "det.onnx", [batch, 3, 16, 16])
    result = inspector.validate(path)
    assert result.passed and result.inputs["tensors"][0]["shape"] == [1, 3, 16, 16]
    assert result["stem"].input_shape == (1, 3, 16, 16)


def test_input_shape_sets_any_open_dim_in_table_validation_and_json(tmp_path):
    path = detector(tmp_path / "det.onnx", [-1, 3, -1, "w"])
    table = run(path)
    assert table.returncode == 0
    assert "MACs at least 0 per sample (2 layers of unknown size; give the input's open dims" in table.stdout
    given = run(path, "--input-shape", "x:1x3x32x32", "--validate", "--format", "json")
    assert given.returncode == 0, given.stderr
    document = report_json(given.stdout)
    assert {layer["name"]: layer["macs"] for layer in document["layers"]} == MACS_32
    assert document["model"]["inputs"][0]["shape"] == [1, 3, 32, 32]
    assert document["validation"]["passed"] and document["validation"]["inputs"]["tensors"][0]["shape"] == [
        1,
        3,
        32,
        32,
    ]
    text = run(path, "--input-shape", "x:1x3x32x32").stdout
    assert f"MACs {sum(MACS_32.values()):,} per sample" in text


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("x:1x4x32x32", "dim 1 of input 'x' is fixed to 3, 4 was given"),
        ("x:1x3x32", "3 dims given, input 'x' has 4"),
        ("picture:1x3x32x32", "'picture', which is no input"),
        ("x:1x3x0x32", "expected NAME:DIMS with positive dims"),
    ],
)
def test_bad_input_shapes_are_one_line_errors(tmp_path, flag, message):
    path = detector(tmp_path / "det.onnx", [-1, 3, -1, -1])
    result = run(path, "--input-shape", flag)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_api_refuses_an_input_shape_that_names_no_input():
    with pytest.raises(ValidationError, match="'picture', not an input"):
        inspector.load(SAMPLES / "seed.onnx", input_shapes={"picture": (1, 1, 28, 28)})


def test_keras_input_shape_in_keras_layout(tmp_path):
    config = sequential_config()
    config["config"]["layers"][0]["config"]["batch_input_shape"] = [None, None, None, 2]
    path = write_legacy_h5(tmp_path / "open.h5", config, sequential_weights())
    assert inspector.load(path)["conv"].macs is None
    model = inspector.load(path, input_shapes={"image": (1, 8, 8, 2)})  # channels-last, as Keras declares it
    # 'same' 3×3 conv from 2 to 4 maps on 8×8: 8·8 outputs × 4 maps × 3·3·2; the dense head 64 → 3.
    assert model["conv"].macs == 8 * 8 * 4 * 18 and model["head"].macs == 64 * 3
    assert model["conv"].input_shape == (1, 2, 8, 8)
    layer = inspector.validate(model)["conv"]
    assert layer.status == "passed" and layer.input_shape == (1, 2, 8, 8) and not layer.placeholder


def test_a_made_up_size_is_said_in_the_verdict():
    path = SAMPLES / "keras" / "k2_lambda_layer.h5"
    result = inspector.validate(path)
    assert result["conv_after"].placeholder and not result["conv_before"].placeholder
    assert report_json(validation_dict(result), "validation")["layers"][1]["placeholder_input"] is True
    verdict = run("--validate", str(path)).stdout
    assert "1 ran at a placeholder input size, which the file does not fix (conv_after)" in verdict


def test_pytest_plugin_takes_input_shapes(tmp_path):
    detector(tmp_path / "det.onnx", [-1, 3, -1, -1])
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--inspect-models", "det.onnx"]
    open_run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert open_run.returncode == 1 and "--input-shape x:1x3xHxW" in open_run.stdout
    given = subprocess.run(
        [*command, "--inspect-input-shape", "x:1x3x20x20"], cwd=tmp_path, capture_output=True, text=True
    )
    assert given.returncode == 0 and "2 passed" in given.stdout, given.stdout


def voice_detector(path, samples) -> str:
    """A 1-D conv on ``audio`` (batch × samples) beside a recurrent ``state`` (2 × batch × 8), as Silero VAD has."""
    rng = np.random.default_rng(1)
    weight = numpy_helper.from_array(rng.standard_normal((4, 1, 5)).astype(np.float32), "W")
    nodes = [
        helper.make_node("Unsqueeze", ["audio", "axis"], ["signal"]),
        helper.make_node("Conv", ["signal", "W"], ["y"], name="conv"),
        helper.make_node("Add", ["state", "state"], ["state_out"]),
    ]
    axis = numpy_helper.from_array(np.array([1], np.int64), "axis")
    inputs = [
        helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", samples]),
        helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "batch", 8]),
    ]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "state_out")]
    return str(save_model(path, nodes, inputs, outputs, [weight, axis]))


def test_a_dim_name_takes_one_size_in_every_input(tmp_path):
    # Giving the audio's shape, or defaulting its batch to 1, sizes the state's "batch" dim too.
    path = voice_detector(tmp_path / "vad.onnx", "samples")
    model = inspector.load(path, input_shapes={"audio": (3, 64)})
    assert [t.shape for t in model.inputs] == [(3, 64), (2, 3, 8)]
    assert inspector.validate(model).inputs["tensors"][1]["shape"] == [2, 3, 8]
    given_later = inspector.validate(inspector.load(path), input_shapes={"audio": (2, 64)}).inputs["tensors"]
    assert [t["shape"] for t in given_later] == [[2, 64], [2, 2, 8]]
    fixed_samples = voice_detector(tmp_path / "vad64.onnx", 64)
    assert [t["shape"] for t in inspector.validate(fixed_samples).inputs["tensors"]] == [[1, 64], [2, 1, 8]]


def test_given_sizes_replace_the_output_shapes_the_file_records(tmp_path):
    # The exporter recorded the output for a 10×10 input; given 16×16, the output is 14×14 (3×3 conv, no padding).
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "W")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])
    path = save_model(tmp_path / "m.onnx", [helper.make_node("Conv", ["x", "W"], ["y"], name="c")], [x], [y], [weight])
    layer = inspector.load(path, input_shapes={"x": (1, 3, 16, 16)})["c"]
    assert layer.output_shape == (1, 4, 14, 14) and layer.macs == 14 * 14 * 4 * 27


def test_one_dim_name_cannot_take_two_sizes(tmp_path):
    path = voice_detector(tmp_path / "vad.onnx", "samples")
    with pytest.raises(ValidationError, match="dim 'batch' is 2 in one input and 3"):
        inspector.load(path, input_shapes={"audio": (2, 64), "state": (2, 3, 8)})


def test_an_open_batch_is_named_so_that_it_carries_through_the_layers(tmp_path):
    path = detector(tmp_path / "det.onnx", [-1, 3, 16, 16])
    model = inspector.load(path)
    assert model.inputs[0].shape == ("N", 3, 16, 16) and model["down"].output_shape == ("N", 4, 8, 8)
    assert inspector.validate(model).capture_runs == 1  # sizes known: both layers fit one run
