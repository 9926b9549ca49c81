"""Stress suite of correct models: validation must pass every one of them, with no false alarm.

Every model is built here with onnx.helper (weights from ``numpy.random.default_rng(seed)``) and written under
``tmp_path``; each case runs for five seeds.  The cases strain the rounding bound of
:mod:`inspector.validation.rounding` where it is weakest: constant data (rounding errors that do not cancel),
all-positive data (no cancellation either), huge and subnormal activations, products that underflow, long sums (K =
18,432 and 1-D kernels of 512+ taps), every conv geometry the engine implements, float16 models (computed in float32
by onnxruntime and rounded to float16) and a conv whose BatchNormalization, Relu and residual Add onnxruntime would
fuse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from tests.conftest import save_model

SEEDS = range(5)
FLOAT = TensorProto.FLOAT
FLOAT16 = TensorProto.FLOAT16


def tensor(name: str, array: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def value(name: str, shape, elem_type: int = FLOAT):
    return helper.make_tensor_value_info(name, elem_type, list(shape) if shape is not None else None)


def conv_model(
    path: Path,
    x_shape,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    op: str = "Conv",
    scale: float | None = None,
    elem_type: int = FLOAT,
    **attributes,
) -> Path:
    """One conv (``op``) on input ``x``; with ``scale``, ``x`` is first multiplied by that float32 scalar."""
    initializers = [tensor("W", weight)]
    conv_inputs = ["x", "W"]
    if bias is not None:
        initializers.append(tensor("B", bias))
        conv_inputs.append("B")
    nodes = []
    if scale is not None:
        initializers.append(tensor("scale", np.array(scale, dtype=np.float32)))
        nodes.append(helper.make_node("Mul", ["x", "scale"], ["scaled"], name="scale"))
        conv_inputs[0] = "scaled"
    nodes.append(helper.make_node(op, conv_inputs, ["y"], name="conv", **attributes))
    return save_model(path, nodes, [value("x", x_shape, elem_type)], [value("y", None, elem_type)], initializers)


def inputs_file(path: Path, **arrays: np.ndarray) -> Path:
    """An ``.npz`` of the model's inputs, as a user would pass with ``--inputs``."""
    np.savez(path, **arrays)
    return path


def assert_passes(path: Path, seed: int, capfd, **settings) -> None:
    """Validate ``path``: every layer passes under the default tolerance and nothing is printed."""
    result = inspector.validate(path, seed=seed, **settings)
    assert result.layers, f"{path.name}: no conv layer was validated"
    for layer in result.layers:
        assert layer.status == "passed", f"{path.name} seed {seed}, layer {layer.name}: {layer.status}: {layer.message}"
        assert layer.comparison.rule in ("probabilistic", "worst-case")
    assert result.passed
    assert capfd.readouterr() == ("", ""), "validation printed something"


# --- constant and all-positive data: rounding errors that do not cancel ---------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weight_value", [0.02, 1 / 3], ids=["0.02", "one-third"])
def test_constant_weights_on_constant_positive_input(tmp_path, capfd, seed, weight_value):
    level = np.random.default_rng(seed).uniform(0.1, 10.0)
    weight = np.full((8, 64, 3, 3), weight_value, dtype=np.float32)
    path = conv_model(tmp_path / "constant.onnx", [1, 64, 10, 10], weight, np.full(8, weight_value, np.float32))
    feeds = inputs_file(tmp_path / "x.npz", x=np.full((1, 64, 10, 10), level, dtype=np.float32))
    assert_passes(path, seed, capfd, inputs=feeds)


@pytest.mark.parametrize("seed", SEEDS)
def test_constant_weights_on_constant_input_with_large_k(tmp_path, capfd, seed):
    level = np.random.default_rng(seed).uniform(0.1, 10.0)
    weight = np.full((2, 2048, 3, 3), 1 / 3, dtype=np.float32)  # K = 18,432
    path = conv_model(tmp_path / "constant_large_k.onnx", [1, 2048, 6, 6], weight, pads=[1, 1, 1, 1])
    feeds = inputs_file(tmp_path / "x.npz", x=np.full((1, 2048, 6, 6), level, dtype=np.float32))
    assert_passes(path, seed, capfd, inputs=feeds)


@pytest.mark.parametrize("seed", SEEDS)
def test_all_positive_random_weights_and_inputs(tmp_path, capfd, seed):
    rng = np.random.default_rng(seed)
    weight = rng.random((16, 128, 3, 3), dtype=np.float32)
    bias = rng.random(16, dtype=np.float32)
    path = conv_model(tmp_path / "positive.onnx", [1, 128, 8, 8], weight, bias, pads=[1, 1, 1, 1])
    feeds = inputs_file(tmp_path / "x.npz", x=rng.random((1, 128, 8, 8), dtype=np.float32) + 0.5)
    assert_passes(path, seed, capfd, inputs=feeds)


# --- extreme magnitudes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scale", [1e12, 1e-40], ids=["huge", "subnormal"])
def test_extreme_activations(tmp_path, capfd, seed, scale):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    path = conv_model(
        tmp_path / "extreme.onnx",
        [1, 16, 8, 8],
        weight,
        rng.standard_normal(8).astype(np.float32) * scale,
        scale=scale,
    )
    assert_passes(path, seed, capfd)


@pytest.mark.parametrize("seed", SEEDS)
def test_products_that_underflow(tmp_path, capfd, seed):
    # weights ~1e-20 on activations ~1e-20: every product (~1e-40) is a float32 subnormal or zero.
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((8, 16, 3, 3)) * 1e-20).astype(np.float32)
    path = conv_model(tmp_path / "underflow.onnx", [1, 16, 8, 8], weight, scale=1e-20)
    assert_passes(path, seed, capfd)


@pytest.mark.parametrize("seed", SEEDS)
def test_tiny_weights_on_normal_input(tmp_path, capfd, seed):
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((8, 16, 3, 3)) * 1e-20).astype(np.float32)
    path = conv_model(tmp_path / "tiny.onnx", [1, 16, 8, 8], weight, np.zeros(8, np.float32))
    assert_passes(path, seed, capfd)


# --- long sums -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_large_k(tmp_path, capfd, seed):
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((4, 2048, 3, 3)) * 0.02).astype(np.float32)  # K = 3*3*2048 = 18,432
    bias = rng.standard_normal(4).astype(np.float32)
    path = conv_model(tmp_path / "large_k.onnx", [1, 2048, 6, 6], weight, bias, pads=[1, 1, 1, 1])
    assert_passes(path, seed, capfd)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("data", ["constant", "random"])
@pytest.mark.parametrize("length", [512, 4096])
def test_long_1d_kernel(tmp_path, capfd, seed, data, length):
    # one output channel, K = 4 * length (2,048 and 16,384)
    rng = np.random.default_rng(seed)
    channels, width = 4, length + 40
    if data == "constant":
        weight = np.full((1, channels, length), 1 / 3, dtype=np.float32)
        x = np.full((1, channels, width), rng.uniform(0.1, 10.0), dtype=np.float32)
    else:
        weight = rng.standard_normal((1, channels, length)).astype(np.float32)
        x = rng.standard_normal((1, channels, width)).astype(np.float32)
    path = conv_model(tmp_path / "long_1d.onnx", [1, channels, width], weight, np.ones(1, np.float32))
    assert_passes(path, seed, capfd, inputs=inputs_file(tmp_path / "x.npz", x=x))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("image", ["flat", "patches"])
@pytest.mark.parametrize("size", [15, 31, 45])
def test_box_blur(tmp_path, capfd, seed, image, size):
    # A mean filter (one channel in and out, every weight 1/size**2) on a flat image, or on one made of 16x16
    # flat patches: the constant-data case of an everyday image-processing conv.
    rng = np.random.default_rng(seed)
    if image == "flat":
        x = np.full((1, 1, 64, 64), rng.uniform(0.05, 1.0), dtype=np.float32)
    else:
        x = np.repeat(np.repeat(rng.uniform(0.05, 1.0, (1, 1, 4, 4)), 16, axis=2), 16, axis=3).astype(np.float32)
    weight = np.full((1, 1, size, size), 1 / size**2, dtype=np.float32)
    path = conv_model(tmp_path / "box_blur.onnx", [1, 1, 64, 64], weight, pads=[size // 2] * 4)
    assert_passes(path, seed, capfd, inputs=inputs_file(tmp_path / "x.npz", x=x))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", [15, 31])
def test_box_blur_on_a_partly_flat_image(tmp_path, capfd, seed, size):
    # One flat region is enough for a constant filter's sums to repeat one product, though most of the image
    # varies: the left 40% of the image is 16x16 flat patches, the rest uniform noise.
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 1.0, (1, 1, 128, 128)).astype(np.float32)
    x[..., :48] = np.repeat(np.repeat(rng.uniform(0.05, 1.0, (1, 1, 8, 3)), 16, axis=2), 16, axis=3)
    weight = np.full((1, 1, size, size), 1 / size**2, dtype=np.float32)
    path = conv_model(tmp_path / "box_blur.onnx", [1, 1, 128, 128], weight, pads=[size // 2] * 4)
    assert_passes(path, seed, capfd, inputs=inputs_file(tmp_path / "x.npz", x=x))


# --- geometry ------------------------------------------------------------------------------------------------------

GEOMETRIES = {
    # name: (input shape, weight shape, op, attributes)
    "depthwise": ([1, 16, 9, 9], [16, 1, 3, 3], "Conv", {"group": 16, "pads": [1, 1, 1, 1]}),
    "depthwise_multiplier_2": ([1, 16, 9, 9], [32, 1, 3, 3], "Conv", {"group": 16, "pads": [1, 1, 1, 1]}),
    "grouped_4": ([1, 16, 9, 9], [24, 4, 3, 3], "Conv", {"group": 4}),
    "dilated": ([1, 8, 12, 12], [8, 8, 3, 3], "Conv", {"dilations": [2, 3], "pads": [2, 3, 2, 3]}),
    "strided": ([1, 8, 13, 13], [8, 8, 3, 3], "Conv", {"strides": [2, 3], "pads": [1, 1, 1, 1]}),
    "asymmetric_pads": ([1, 8, 10, 10], [8, 8, 3, 5], "Conv", {"pads": [0, 1, 2, 3]}),
    "same_upper": ([1, 8, 10, 11], [8, 8, 4, 4], "Conv", {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    "same_lower": ([1, 8, 10, 11], [8, 8, 4, 4], "Conv", {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    "conv_3d": ([1, 4, 6, 7, 8], [8, 4, 3, 3, 3], "Conv", {"pads": [1, 0, 1, 1, 0, 1]}),
    "conv_transpose_strided": (
        [1, 8, 6, 6],
        [8, 4, 3, 3],
        "ConvTranspose",
        {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
    ),
    "conv_transpose_grouped_dilated": (
        [1, 8, 5, 6],
        [8, 3, 3, 2],
        "ConvTranspose",
        {"group": 2, "strides": [3, 2], "dilations": [2, 1], "output_padding": [1, 0]},
    ),
    "conv_transpose_output_shape": (
        [1, 8, 5, 5],
        [8, 4, 4, 3],
        "ConvTranspose",
        {"strides": [2, 2], "output_shape": [9, 10]},
    ),
    "conv_transpose_1d": ([1, 6, 9], [6, 5, 4], "ConvTranspose", {"strides": [3], "pads": [1, 2]}),
    "conv_transpose_3d": ([1, 4, 3, 4, 3], [4, 2, 3, 3, 3], "ConvTranspose", {"strides": [2, 1, 2]}),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_geometry(tmp_path, capfd, seed, geometry):
    x_shape, w_shape, op, attributes = GEOMETRIES[geometry]
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal(w_shape).astype(np.float32)
    out_channels = w_shape[1] * attributes.get("group", 1) if op == "ConvTranspose" else w_shape[0]
    bias = rng.standard_normal(out_channels).astype(np.float32)
    path = conv_model(tmp_path / f"{geometry}.onnx", x_shape, weight, bias, op=op, **attributes)
    assert_passes(path, seed, capfd)


# --- float16 -------------------------------------------------------------------------------------------------------

HALF_CASES = {
    "conv": ([1, 16, 8, 8], [8, 16, 3, 3], "Conv", {"pads": [1, 1, 1, 1]}),
    "large_k": ([1, 512, 6, 6], [4, 512, 3, 3], "Conv", {"pads": [1, 1, 1, 1]}),
    "depthwise": ([1, 16, 9, 9], [32, 1, 3, 3], "Conv", {"group": 16, "strides": [2, 2]}),
    "long_1d": ([1, 2, 600], [1, 2, 512], "Conv", {}),
    "conv_transpose": ([1, 8, 5, 5], [8, 4, 3, 3], "ConvTranspose", {"strides": [2, 2], "output_padding": [1, 1]}),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", list(HALF_CASES))
def test_float16(tmp_path, capfd, seed, case):
    x_shape, w_shape, op, attributes = HALF_CASES[case]
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float16)
    out_channels = w_shape[1] * attributes.get("group", 1) if op == "ConvTranspose" else w_shape[0]
    bias = rng.standard_normal(out_channels).astype(np.float16)
    path = conv_model(tmp_path / f"half_{case}.onnx", x_shape, weight, bias, op=op, elem_type=FLOAT16, **attributes)
    assert_passes(path, seed, capfd)


@pytest.mark.parametrize("seed", SEEDS)
def test_float16_results_past_the_largest_float16(tmp_path, capfd, seed):
    # Where a window holds the band of 8192s, the sum (at least 9 * 8192 = 73,728) is past float16's largest
    # value, 65,504: onnxruntime's float32 result rounds to infinity in float16, as it must.
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (1, 1, 12, 12)).astype(np.float16)
    x[..., 4:7, :] = 8192
    path = conv_model(tmp_path / "overflow.onnx", [1, 1, 12, 12], np.ones((2, 1, 3, 3), np.float16), elem_type=FLOAT16)
    assert_passes(path, seed, capfd, inputs=inputs_file(tmp_path / "x.npz", x=x))


@pytest.mark.parametrize("seed", SEEDS)
def test_float16_constant_positive(tmp_path, capfd, seed):
    level = np.random.default_rng(seed).uniform(0.1, 2.0)
    weight = np.full((2, 256, 3, 3), 1 / 3, dtype=np.float16)
    path = conv_model(tmp_path / "half_constant.onnx", [1, 256, 6, 6], weight, elem_type=FLOAT16)
    feeds = inputs_file(tmp_path / "x.npz", x=np.full((1, 256, 6, 6), level, dtype=np.float16))
    assert_passes(path, seed, capfd, inputs=feeds)


@pytest.mark.parametrize("seed", SEEDS)
def test_float16_conv_chain(tmp_path, capfd, seed):
    # conv -> conv -> Relu -> conv, all float16: onnxruntime computes each in float32 between inserted casts.
    rng = np.random.default_rng(seed)
    channels = 16

    def weight(*shape):
        return (rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float16)

    initializers = [
        tensor("W1", weight(channels, channels, 3, 3)),
        tensor("B1", rng.standard_normal(channels).astype(np.float16)),
        tensor("W2", weight(channels, channels, 3, 3)),
        tensor("B2", rng.standard_normal(channels).astype(np.float16)),
        tensor("W3", weight(channels, channels, 1, 1)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "W2", "B2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu"),
        helper.make_node("Conv", ["r2", "W3"], ["y"], name="conv3"),
    ]
    path = save_model(
        tmp_path / "half_chain.onnx",
        nodes,
        [value("x", [1, channels, 8, 8], FLOAT16)],
        [value("y", [1, channels, 8, 8], FLOAT16)],
        initializers,
    )
    assert_passes(path, seed, capfd)


# --- fusable neighbours --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_batchnorm_relu_residual_under_default_optimizations(tmp_path, capfd, seed):
    # onnxruntime's default (all) graph optimizations would fold BN into conv1 and fuse Relu and the residual Add
    # into the convs; exposing each conv's output for capture must keep the conv's own output.
    rng = np.random.default_rng(seed)
    channels = 16
    initializers = [
        tensor("W1", rng.standard_normal((channels, channels, 3, 3)).astype(np.float32) * 0.1),
        tensor("B1", rng.standard_normal(channels).astype(np.float32)),
        tensor("gamma", rng.uniform(0.5, 2.0, channels).astype(np.float32)),
        tensor("beta", rng.standard_normal(channels).astype(np.float32)),
        tensor("mean", rng.standard_normal(channels).astype(np.float32)),
        tensor("var", rng.uniform(0.5, 2.0, channels).astype(np.float32)),
        tensor("W2", rng.standard_normal((channels, channels, 3, 3)).astype(np.float32) * 0.1),
        tensor("B2", rng.standard_normal(channels).astype(np.float32)),
        tensor("W3", rng.standard_normal((channels, channels, 1, 1)).astype(np.float32) * 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "x"], ["sum"], name="residual"),
        helper.make_node("Relu", ["sum"], ["r2"], name="relu2"),
        helper.make_node("Conv", ["r2", "W3"], ["c3"], name="conv3"),
        helper.make_node("Relu", ["c3"], ["y"], name="relu3"),
    ]
    path = save_model(
        tmp_path / "residual.onnx",
        nodes,
        [value("x", [1, channels, 8, 8])],
        [value("y", [1, channels, 8, 8])],
        initializers,
    )
    result_names = {layer.name for layer in inspector.validate(path, seed=seed).layers}
    assert result_names == {"conv1", "conv2", "conv3"}
    assert_passes(path, seed, capfd)
