"""Detection power of validation: faults injected on onnxruntime's side only are caught and named by channel.

Each test builds one small real model, ``image 1×512×14×14 → conv1 (3×3, 512→64, pads 1, bias) → Relu → conv2
(3×3, 64→32, pads [0,0,1,1], bias)``, with seeded normal weights of trained-layer scale, and writes it twice:
the original, whose common model (``inspector.load``) gives the engine its weights and attributes, and a copy
with one fault, which onnxruntime runs (``dataclasses.replace(model, path=mutated)``).  So the engine computes
what the model says and onnxruntime computes something else, as a faulty runtime would.  Every fault here moves
the worst element by at least ten times its allowance, so no test depends on how onnxruntime rounds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.validation.compare import MAX_LISTED_CHANNELS
from inspector.validation.result import ValidationResult
from tests.conftest import save_model

INPUT_SHAPE = (1, 512, 14, 14)
CONV1_FILTERS = 64
CONV2_FILTERS = 32
WEIGHT_SEED = 20240611
INPUT_SEED = 7
LAYERS = ("conv1", "conv2")
CONV_OUTPUTS = {"conv1": "conv1_out", "conv2": "output"}

Params = dict[str, Any]


def original_params() -> Params:
    """The model's weights (normal, std 0.05 and 0.04, like a trained layer's), biases and conv2's pads."""
    rng = np.random.default_rng(WEIGHT_SEED)
    return {
        "W1": rng.normal(0.0, 0.05, (CONV1_FILTERS, 512, 3, 3)).astype(np.float32),
        "B1": rng.normal(0.0, 0.1, CONV1_FILTERS).astype(np.float32),
        "W2": rng.normal(0.0, 0.04, (CONV2_FILTERS, CONV1_FILTERS, 3, 3)).astype(np.float32),
        "B2": rng.normal(0.0, 0.1, CONV2_FILTERS).astype(np.float32),
        "pads2": [0, 0, 1, 1],
    }


def write_model(path: Path, params: Params) -> Path:
    """The two-conv model with ``params``, weights embedded as initializers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nodes = [
        helper.make_node("Conv", ["image", "W1", "B1"], ["conv1_out"], name="conv1", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Relu", ["conv1_out"], ["relu1_out"], name="relu1"),
        helper.make_node(
            "Conv", ["relu1_out", "W2", "B2"], ["output"], name="conv2", kernel_shape=[3, 3], pads=params["pads2"]
        ),
    ]
    return save_model(
        path,
        nodes,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, CONV2_FILTERS, 13, 13])],
        [numpy_helper.from_array(params[name], name) for name in ("W1", "B1", "W2", "B2")],
    )


def model_input() -> np.ndarray:
    return np.random.default_rng(INPUT_SEED).standard_normal(INPUT_SHAPE).astype(np.float32)


def onnxruntime_output(path: Path, tensor: str) -> np.ndarray:
    """``tensor`` as onnxruntime computes it in the model at ``path`` on :func:`model_input` (run here, not by
    the tool: an independent source)."""
    proto = onnx.load(path)
    if tensor not in {value.name for value in proto.graph.output}:
        proto.graph.output.append(helper.make_empty_tensor_value_info(tensor))
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (value,) = session.run([tensor], {"image": model_input()})
    return value


@dataclasses.dataclass
class Faulted:
    result: ValidationResult
    exit_code: int


def validate_with_fault(folder: Path, mutate: Callable[[Params], None]) -> Faulted:
    """Validate the original model's common model while onnxruntime runs a copy changed by ``mutate``."""
    original = write_model(folder / "original" / "model.onnx", original_params())
    params = original_params()
    mutate(params)
    mutated = write_model(folder / "mutated" / "model.onnx", params)
    inputs = folder / "inputs.npz"
    np.savez(inputs, image=model_input())
    model = dataclasses.replace(inspector.load(original), path=str(mutated))
    result = inspector.validate(model, inputs=inputs)
    assert [layer.mode for layer in result.layers] == ["captured", "captured"]
    exit_code = inspector.Report.build(model, []).with_validation(result).exit_code
    return Faulted(result, exit_code)


def assert_only_failing(faulted: Faulted, layer: str, channels: tuple[int, ...]) -> None:
    """Validation fails (exit code 1) in ``layer`` alone, and in exactly the output ``channels``."""
    result = faulted.result
    assert faulted.exit_code == 1 and not result.passed
    failing = result[layer]
    assert failing.status == "failed", failing.message
    assert failing.comparison.failed_channels == channels[:MAX_LISTED_CHANNELS]
    assert failing.comparison.failed_channel_count == len(channels)
    assert failing.comparison.worst_channel in channels
    assert f"output channel {failing.comparison.worst_channel} differs most" in failing.message
    assert failing.comparison.tolerance_used >= 10  # far past rounding: no test depends on how onnxruntime rounds
    for other in LAYERS:
        if other != layer:  # the next layer's input is captured from onnxruntime, so the fault stays in its layer
            assert result[other].status == "passed", result[other].message


def test_unmutated_copy_passes(tmp_path):
    faulted = validate_with_fault(tmp_path, lambda params: None)
    assert faulted.result.passed and faulted.exit_code == 0, inspector.validation_text(faulted.result)
    assert [layer.status for layer in faulted.result.layers] == ["passed", "passed"]


def test_two_swapped_filters_are_both_named(tmp_path):
    def swap(params):
        params["W1"][[3, 7]] = params["W1"][[7, 3]]

    faulted = validate_with_fault(tmp_path, swap)
    assert_only_failing(faulted, "conv1", (3, 7))
    assert "output channels 3, 7" in faulted.result["conv1"].message


def test_one_filter_scaled_by_one_percent(tmp_path):
    def scale(params):
        params["W1"][17] *= np.float32(1.01)

    faulted = validate_with_fault(tmp_path, scale)
    assert_only_failing(faulted, "conv1", (17,))
    assert faulted.result["conv1"].comparison.failed_channels == (17,)
    assert "in output channel 17;" in faulted.result["conv1"].message


def test_one_weight_off_by_a_tenth_of_its_filters_largest(tmp_path):
    # One tap of filter 40 of the 3×3×512 layer (4,608 weights and a bias per output), the centre tap of input
    # channel 100, so that it meets every input position.
    def nudge(params):
        weight = params["W1"]
        weight[40, 100, 1, 1] += np.float32(0.1) * np.abs(weight[40]).max()

    faulted = validate_with_fault(tmp_path, nudge)
    assert_only_failing(faulted, "conv1", (40,))


@pytest.mark.parametrize(("layer", "channel"), [("conv1", 22), ("conv2", 9)])
def test_one_bias_off_by_one_percent_of_its_output_range(tmp_path, layer, channel):
    # conv1's output is internal (Relu follows), conv2's is the model's output.
    bias = {"conv1": "B1", "conv2": "B2"}[layer]
    probe = write_model(tmp_path / "probe" / "model.onnx", original_params())
    values = onnxruntime_output(probe, CONV_OUTPUTS[layer])[:, channel]
    shift = np.float32(0.01 * (values.max() - values.min()))
    assert shift > 0

    def offset(params):
        params[bias][channel] += shift

    faulted = validate_with_fault(tmp_path, offset)
    assert_only_failing(faulted, layer, (channel,))


def test_kernels_applied_transposed(tmp_path):
    weight = original_params()["W1"]
    asymmetry = np.abs(weight - weight.swapaxes(2, 3)).max(axis=(1, 2, 3))
    assert (asymmetry > 0.1 * np.abs(weight).max(axis=(1, 2, 3))).all()  # no filter is (nearly) symmetric

    def transpose(params):
        params["W1"] = np.ascontiguousarray(params["W1"].swapaxes(2, 3))

    faulted = validate_with_fault(tmp_path, transpose)
    assert_only_failing(faulted, "conv1", tuple(range(CONV1_FILTERS)))
    assert f"({CONV1_FILTERS} in all)" in faulted.result["conv1"].message


def test_one_kernel_applied_transposed(tmp_path):
    def transpose(params):
        params["W1"][5] = params["W1"][5].swapaxes(1, 2)

    faulted = validate_with_fault(tmp_path, transpose)
    assert_only_failing(faulted, "conv1", (5,))


def test_asymmetric_padding_on_the_wrong_side(tmp_path):
    # The original pads conv2 at the end of each spatial axis (pads [0,0,1,1]), the copy at the start: the same
    # output shape, every output shifted by one row and one column.
    def swap_sides(params):
        params["pads2"] = [1, 1, 0, 0]

    faulted = validate_with_fault(tmp_path, swap_sides)
    assert_only_failing(faulted, "conv2", tuple(range(CONV2_FILTERS)))
    assert f"({CONV2_FILTERS} in all)" in faulted.result["conv2"].message
