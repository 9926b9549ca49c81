"""Validation through the Python API: every sample passes, an injected fault is found and named by its channel."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.engine import numpy_conv
from inspector.errors import ValidationError
from inspector.model.common import ConvLayer, Model
from inspector.report.json_report import layer_validation_dict, report_dict
from inspector.report.junit import junit_xml
from inspector.testing.assertions import assert_model_valid
from tests.conftest import SAMPLES, report_json, save_model

WORKING_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.onnx") if p.name != "broken_grouped.onnx")


def with_filter_changed(model: Model, layer_name: str, channel: int, delta: float = 0.5) -> Model:
    """``model`` whose layer ``layer_name`` hands the engine a weight with filter ``channel`` shifted by ``delta``."""
    layer = model[layer_name]
    assert isinstance(layer, ConvLayer) and layer.weight is not None
    altered = layer.weight.array.copy()
    altered[channel] += delta
    weight = dataclasses.replace(layer.weight, read_native=lambda: altered, _cache={})
    changed = dataclasses.replace(layer, weight=weight, weights={**layer.weights, "W": weight})
    return dataclasses.replace(model, layers=tuple(changed if item is layer else item for item in model.layers))


@pytest.mark.parametrize("name", WORKING_SAMPLES)
def test_every_sample_passes(name):
    result = inspector.validate(SAMPLES / name)
    assert result.passed, inspector.validation_text(result)
    conv_layers = inspector.load(SAMPLES / name).conv_layers
    assert [layer.name for layer in result.layers] == [layer.name for layer in conv_layers]
    assert all(layer.status == "passed" for layer in result.layers)


def test_top_level_layers_are_captured_and_if_bodies_run_standalone():
    assert {layer.mode for layer in inspector.validate(SAMPLES / "seed.onnx").layers} == {"captured"}
    result = inspector.validate(SAMPLES / "conv_in_if.onnx")
    assert {layer.mode for layer in result.layers} == {"standalone"} and result.capture_runs == 0


def test_broken_model_is_an_error_of_the_broken_layer_only():
    # onnxruntime cannot run the whole model (bad_grouped's weight has 2 input channels where 4 are needed), so
    # both layers run standalone: ok passes, bad_grouped is an error that quotes onnxruntime.
    result = inspector.validate(SAMPLES / "broken_grouped.onnx")
    assert not result.passed
    assert result["ok"].status == "passed" and result["ok"].mode == "standalone"
    assert result["bad_grouped"].status == "error"
    assert "onnxruntime refuses the layer" in result["bad_grouped"].message
    assert "Input channels C is not equal to kernel channels * group" in result["bad_grouped"].message
    assert any("could not run the model" in note for note in result.notes)


def test_one_wrong_filter_fails_its_layer_and_is_named():
    model = with_filter_changed(inspector.load(SAMPLES / "seed.onnx"), "conv2", channel=5, delta=1e-3)
    result = inspector.validate(model)
    assert not result.passed
    assert result["conv1"].status == "passed"
    conv2 = result["conv2"]
    assert conv2.status == "failed" and conv2.mode == "captured"
    assert conv2.comparison.worst_channel == 5 and conv2.comparison.failed_channels == (5,)
    assert conv2.comparison.worst_index[1] == 5
    assert "output channel 5" in conv2.message


def test_fault_in_the_engine_is_found_in_standalone_layers(monkeypatch):
    original = numpy_conv.conv

    def faulty(x, w, *args, **kwargs):
        w = np.array(w, copy=True)
        if w.shape == (4, 2, 3, 3):  # then_conv's weight
            w[2] *= 1.01
        return original(x, w, *args, **kwargs)

    monkeypatch.setattr(numpy_conv, "conv", faulty)
    result = inspector.validate(SAMPLES / "conv_in_if.onnx")
    assert result["branch/else_branch/else_conv"].status == "passed"
    then = result["branch/then_branch/then_conv"]
    assert then.status == "failed" and then.comparison.worst_channel == 2 and then.comparison.failed_channels == (2,)


def test_quantized_layers_compare_exactly(monkeypatch):
    result = inspector.validate(SAMPLES / "quantized.onnx")
    assert [layer.comparison.rule for layer in result.layers] == ["exact", "exact"]
    original = numpy_conv.conv_integer

    def off_by_one(x, w, *args, **kwargs):
        y = original(x, w, *args, **kwargs)
        if np.shape(w) == (6, 4, 3, 3):  # iconv
            y[:, 3] += 1
        return y

    monkeypatch.setattr(numpy_conv, "conv_integer", off_by_one)
    iconv = inspector.validate(SAMPLES / "quantized.onnx")["iconv"]
    assert iconv.status == "failed" and iconv.comparison.max_abs_error == 1 and iconv.comparison.worst_channel == 3


@pytest.mark.parametrize("name", ["strided_padded.onnx", "conv_transpose.onnx", "constant_weights.onnx"])
def test_bounded_capture_gives_the_same_result(name, monkeypatch):
    # a budget this small is refused by the memory checks (test_validate_budget.py): here only the runs' plan counts
    monkeypatch.setattr("inspector.validation.run.check_layer", lambda *args: None)
    monkeypatch.setattr("inspector.validation.limits.check_layer", lambda *args: None)
    monkeypatch.setattr("inspector.validation.inputs.check_inputs", lambda *args: None)
    unbounded = inspector.validate(SAMPLES / name)
    bounded = inspector.validate(SAMPLES / name, max_capture_mb=1e-6)
    assert bounded.capture_runs == len(bounded.layers) > unbounded.capture_runs == 1
    assert [layer_validation_dict(layer) for layer in bounded.layers] == [
        layer_validation_dict(layer) for layer in unbounded.layers
    ]


@pytest.mark.parametrize("name", WORKING_SAMPLES)
def test_standalone_path_of_any_conv_layer(name):
    # A model of another format (the Keras loader's) runs every layer standalone, from the common model alone.
    model = dataclasses.replace(inspector.load(SAMPLES / name), format="keras")
    result = inspector.validate(model)
    for layer, conv in zip(result.layers, model.conv_layers, strict=True):
        if conv.quantized:
            assert layer.status == "skipped" and "quantized" in layer.message
        else:
            assert layer.status == "passed" and layer.mode == "standalone", layer.message
    assert result.passed


def test_layer_without_strides_is_skipped_with_the_reason():
    model = inspector.load(SAMPLES / "seed.onnx")
    weights_only = dataclasses.replace(
        model,
        format="keras-h5",
        layers=tuple(dataclasses.replace(x, strides=None, pads=None) if isinstance(x, ConvLayer) else x for x in model),
    )
    result = inspector.validate(weights_only)
    assert result.passed and {layer.status for layer in result.layers} == {"skipped"}
    assert "strides" in result["conv1"].message
    assert [f.severity for f in result.findings()] == ["warning", "warning"]


def test_tolerance_overrides_per_layer():
    model = with_filter_changed(inspector.load(SAMPLES / "seed.onnx"), "conv2", channel=5, delta=1e-3)
    relaxed = inspector.validate(model, layer_atol={"conv2": 1.0})
    assert relaxed.passed and relaxed["conv2"].comparison.rule == "given" and relaxed["conv2"].comparison.atol == 1.0
    assert relaxed["conv1"].comparison.rule == "worst-case"  # 9 products and a bias: gamma_n is the smaller bound
    strict = inspector.validate(SAMPLES / "seed.onnx", atol=0.0)
    assert strict["conv1"].comparison.rule == "given"
    loose = inspector.validate(model, layer_rtol={"conv2": 0.5})["conv2"].comparison
    assert loose.rtol == 0.5 and loose.rule == "probabilistic"  # rtol adds to the default atol
    with pytest.raises(ValidationError, match="conv9"):
        inspector.validate(SAMPLES / "seed.onnx", layer_atol={"conv9": 1.0})
    with pytest.raises(ValidationError, match="non-negative"):
        inspector.validate(SAMPLES / "seed.onnx", atol=-1.0)


def test_input_shapes_and_seed_are_reported():
    result = inspector.validate(SAMPLES / "seed.onnx", input_shapes={"image": (3, 1, 28, 28)}, seed=5)
    assert result.inputs == {
        "source": "random",
        "seed": 5,
        "file": None,
        "tensors": [{"name": "image", "shape": [3, 1, 28, 28], "dtype": "float32"}],
    }
    assert result["conv1"].input_shape == (3, 1, 28, 28)
    with pytest.raises(ValidationError, match="fixed to 1"):
        inspector.validate(SAMPLES / "seed.onnx", input_shapes={"image": (1, 2, 28, 28)})
    with pytest.raises(ValidationError, match="not an input"):
        inspector.validate(SAMPLES / "seed.onnx", input_shapes={"picture": (1, 1, 28, 28)})


def test_inputs_from_an_npz_file(tmp_path):
    path = tmp_path / "inputs.npz"
    np.savez(path, image=np.ones((2, 1, 28, 28)))  # float64 is cast to the model's float32
    result = inspector.validate(SAMPLES / "seed.onnx", inputs=path)
    assert result.passed and result.inputs["source"] == "npz" and result.inputs["file"] == str(path)
    assert result.inputs["tensors"] == [{"name": "image", "shape": [2, 1, 28, 28], "dtype": "float32"}]
    np.savez(path, picture=np.ones((1, 1, 28, 28)))
    with pytest.raises(ValidationError, match="no array named 'image'"):
        inspector.validate(SAMPLES / "seed.onnx", inputs=path)


def test_float64_layers_are_skipped_because_onnxruntime_has_no_float64_conv(tmp_path):
    path = save_model(
        tmp_path / "f64.onnx",
        [helper.make_node("Conv", ["x", "W"], ["y"], name="c")],
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
        [numpy_helper.from_array(np.ones((3, 2, 3, 3)), "W")],
    )
    layer = inspector.validate(path)["c"]
    assert layer.status == "skipped" and "onnxruntime cannot run it" in layer.message


def test_bfloat16_layers_are_skipped_where_onnxruntime_has_no_bfloat16_conv(tmp_path):
    # Conv takes bfloat16 from opset 22; onnxruntime's CPU provider has no such kernel, which is the runtime's
    # limit, not the model's fault: skipped with the reason, never failed.
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32).astype(ml_dtypes.bfloat16), "W")
    path = save_model(
        tmp_path / "bf16.onnx",
        [helper.make_node("Conv", ["x", "W"], ["y"], name="c")],
        [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, None)],
        [weight],
        opset=22,
    )
    layer = inspector.validate(path)["c"]
    if layer.status != "skipped":  # an onnxruntime with a bfloat16 Conv kernel: then it must validate
        assert layer.status == "passed", layer.message
    else:
        assert "onnxruntime cannot run it" in layer.message


def test_report_and_json_carry_the_validation():
    model = with_filter_changed(inspector.load(SAMPLES / "seed.onnx"), "conv2", channel=5)
    report = inspector.Report.build(model, inspector.analyze(model))
    assert report.passed
    validated = report.with_validation(inspector.validate(model))
    assert not validated.passed and validated.exit_code == 1
    assert [(f.check, f.layer) for f in validated.errors] == [("validation", "conv2")]
    document = report_json(report_dict(validated))
    section = document["validation"]
    assert section["passed"] is False and section["inputs"]["seed"] == 0
    conv2 = section["layers"][1]
    required = {"name", "outputs", "passed", "max_abs_error", "max_rel_error", "atol", "rtol", "worst_channel"}
    assert required <= set(conv2)
    assert conv2["name"] == "conv2" and conv2["passed"] is False and conv2["worst_channel"] == 5
    assert conv2["skipped_reason"] is None and conv2["outputs"] == ["c2"]


def test_assert_model_valid():
    assert assert_model_valid(SAMPLES / "seed.onnx").passed
    model = with_filter_changed(inspector.load(SAMPLES / "seed.onnx"), "conv2", channel=9)
    with pytest.raises(AssertionError) as failure:
        assert_model_valid(model)
    message = str(failure.value)
    assert "conv2" in message and "output channel 9" in message and "validation failed" in message


def test_progress_is_reported_per_layer():
    calls = []
    inspector.validate(SAMPLES / "strided_padded.onnx", progress=lambda *call: calls.append(call))
    assert calls == [("running the model", 0, 3), ("stem", 1, 3), ("same_upper", 2, 3), ("same_lower", 3, 3)]


KERAS_FILES = sorted((SAMPLES / "keras").glob("k[23]_*.h5")) + sorted((SAMPLES / "keras").glob("*.keras"))


@pytest.mark.parametrize("path", KERAS_FILES, ids=lambda p: p.name)
def test_keras_layers_run_standalone(path):
    model = inspector.load(path)
    result = inspector.validate(model)
    assert result.passed and result.layers
    for layer in result.layers:
        # a weights-only file records no strides, except for a separable conv's 1×1 pointwise step
        assert layer.status == ("skipped" if model[layer.name].strides is None else "passed"), layer.message
        assert layer.mode in (None, "standalone")


def test_a_keras_conv_after_a_lambda_layer_runs_on_a_made_up_spatial_size():
    model = inspector.load(SAMPLES / "keras" / "k2_lambda_layer.h5")
    assert model["conv_after"].input_shape is None  # Keras 2 does not record shapes; the Lambda hides them
    layer = inspector.validate(model)["conv_after"]
    assert layer.status == "passed" and layer.input_shape == (1, 4, 8, 8)


def test_junit_counts_skipped_layers():
    model = inspector.load(SAMPLES / "seed.onnx")
    no_strides = dataclasses.replace(
        model,
        format="keras-h5",
        layers=tuple(dataclasses.replace(x, strides=None) if x.name == "conv2" else x for x in model),
    )
    report = inspector.Report.build(no_strides, []).with_validation(inspector.validate(no_strides))
    root = ET.fromstring(junit_xml([report]))
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "2",
        "failures": "0",
        "errors": "0",
        "skipped": "1",
    }
    (skipped,) = root.iter("skipped")
    assert "strides" in skipped.get("message")
