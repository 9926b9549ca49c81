"""The Keras loaders against what real Keras computed (samples/keras/*.reference.npz), without TensorFlow.

Every conv layer's canonical weights and pads, run through onnxruntime as a one-node model on the input Keras
recorded, must reproduce the output Keras computed: a wrong transpose or a pad on the wrong side fails here.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.model.common import ConvLayer
from tests.conftest import SAMPLES

KERAS = SAMPLES / "keras"
FULL_MODELS = sorted(p for p in KERAS.glob("*.h5") if "weights" not in p.name) + sorted(KERAS.glob("*.keras"))
WEIGHTS_ONLY = sorted(KERAS.glob("*.weights-only.h5")) + sorted(KERAS.glob("*.weights.h5"))


def reference(path: Path) -> dict[str, np.ndarray]:
    stem = path.name.split(".")[0]
    with np.load(KERAS / f"{stem}.reference.npz", allow_pickle=False) as data:
        return dict(data)


def test_fixtures_are_present():
    assert len(FULL_MODELS) >= 40 and len(WEIGHTS_ONLY) >= 20


@pytest.mark.parametrize("path", FULL_MODELS + WEIGHTS_ONLY, ids=lambda p: p.name)
def test_totals_equal_keras_count_params(load, path):
    model = load(path)
    ref = reference(path)
    assert model.total_params == int(ref["count_params"])
    assert model.trainable_params == int(ref["trainable_params"])
    assert model.non_trainable_params == int(ref["non_trainable_params"])


@pytest.mark.parametrize("path", FULL_MODELS + WEIGHTS_ONLY, ids=lambda p: p.name)
def test_per_layer_params_equal_keras_summary(load, path):
    model = load(path)
    ref = reference(path)
    layers = zip(ref["flat_layer_names"], ref["flat_layer_classes"], ref["flat_layer_params"], strict=True)
    for name, class_name, params in layers:
        if class_name == "InputLayer":
            continue
        parts = [layer for layer in model.layers if layer.source_layer == str(name)]
        if not parts and path in WEIGHTS_ONLY and int(params) == 0:
            continue  # a weights-only file does not record a nested model's weightless layers
        assert parts, f"{path.name}: layer {name} missing"
        assert sum(layer.params for layer in parts) == int(params), name


@pytest.mark.parametrize("path", FULL_MODELS, ids=lambda p: p.name)
def test_format_and_producer(load, path):
    model = load(path)
    assert model.format == ("keras" if path.suffix == ".keras" else "keras-h5")
    writer = str(reference(path)["writer"])
    if not path.name.startswith("legacy"):
        assert model.producer == f"keras {writer.split()[-1]}"


def _onnx_conv_node(layer: ConvLayer, source: str, target: str, prefix: str):
    weight = numpy_helper.from_array(np.ascontiguousarray(layer.weight.array, np.float32), f"{prefix}W")
    initializers = [weight]
    inputs = [source, weight.name]
    if layer.bias is not None:
        initializers.append(numpy_helper.from_array(np.asarray(layer.bias.array, np.float32), f"{prefix}B"))
        inputs.append(f"{prefix}B")
    attributes = {
        "kernel_shape": list(layer.kernel_shape),
        "strides": list(layer.strides),
        "dilations": list(layer.dilations),
        "pads": list(layer.pads),
        "group": layer.groups,
    }
    op = "Conv"
    if layer.kind == "conv_transpose":
        op = "ConvTranspose"
        attributes["output_padding"] = list(layer.output_padding)
    return helper.make_node(op, inputs, [target], **attributes), initializers


def run_with_onnxruntime(parts: list[ConvLayer], x: np.ndarray) -> np.ndarray:
    """The parts of one Keras layer (a SeparableConv has two) as ONNX nodes, run on ``x`` (channels-first)."""
    nodes, initializers = [], []
    source = "x"
    for index, layer in enumerate(parts):
        target = "y" if index == len(parts) - 1 else f"t{index}"
        node, inits = _onnx_conv_node(layer, source, target, f"p{index}_")
        nodes.append(node)
        initializers += inits
        source = target
    graph = helper.make_graph(
        nodes,
        "keras_layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _channels_first(array: np.ndarray, data_format: str) -> np.ndarray:
    return array if data_format == "channels_first" else np.moveaxis(array, -1, 1)


@pytest.mark.parametrize("path", FULL_MODELS, ids=lambda p: p.name)
def test_conv_layers_reproduce_keras_outputs(load, path):
    model = load(path)
    ref = reference(path)
    checked = 0
    for name, data_format in zip(ref["conv_layer_names"], ref["conv_layer_data_formats"], strict=True):
        name = str(name)
        parts = [layer for layer in model.conv_layers if layer.source_layer == name]
        assert parts, f"{path.name}: conv layer {name} missing"
        x = np.ascontiguousarray(_channels_first(ref[f"act_in:{name}"], str(data_format)), np.float32)
        expected = ref.get(f"act_preact:{name}", ref[f"act_out:{name}"])
        expected = _channels_first(expected, str(data_format))
        if parts[0].input_shape is None:  # only after a layer the tool does not interpret (Lambda, custom)
            assert any(note.check == "keras-layer" for note in model.notes), name
        else:
            assert parts[0].input_shape[1:] == x.shape[1:], name
            assert parts[-1].output_shape[1:] == expected.shape[1:], name
        got = run_with_onnxruntime(parts, x)
        assert got.shape == expected.shape, name
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=f"{path.name}: {name}")
        checked += 1
    assert checked == len(ref["conv_layer_names"]) > 0


def test_same_padding_puts_the_extra_pixel_at_the_end(load):
    layer = load(KERAS / "k2_conv2d_family.h5")["conv_s2_same_k3x2"]
    # input 4×4, stride 2, so 2×2 out: rows need (2-1)·2 + 3 - 4 = 1 pixel of padding, which goes at the end;
    # columns need (2-1)·2 + 2 - 4 = 0
    assert layer.input_shape[2:] == (4, 4)
    assert layer.pads == (0, 0, 1, 0)


def test_separable_conv_becomes_depthwise_then_pointwise(load):
    model = load(KERAS / "k2_depthwise_separable.h5")
    depthwise, pointwise = (layer for layer in model.conv_layers if layer.source_layer == "sep2d_m2_same")
    assert (depthwise.name, pointwise.name) == ("sep2d_m2_same/depthwise", "sep2d_m2_same/pointwise")
    assert depthwise.groups == depthwise.in_channels == 18 and depthwise.out_channels == 36
    assert pointwise.kernel_shape == (1, 1) and pointwise.in_channels == 36 and pointwise.bias is not None
    assert depthwise.bias is None and depthwise.activation is None
    assert pointwise.inputs == depthwise.outputs


def test_weights_keep_native_shape_and_layout(load):
    model = load(KERAS / "k3_depthwise_separable.keras")
    layer = model["dw2d_m3_dil2_valid"]
    assert layer.weight.native_layout == "HWIM" and layer.weight.native_shape == (3, 3, 6, 3)
    assert layer.weight.shape == (18, 1, 3, 3)
    assert layer.weight.source == "/layers/depthwise_conv2d_1/vars/0"
    ref = reference(KERAS / "k3_depthwise_separable.keras")
    np.testing.assert_array_equal(layer.weight.native, ref["weight:dw2d_m3_dil2_valid/kernel"])
    assert not layer.weight.array.flags.writeable


def test_weights_resolve_through_weight_names(load):
    model = load(KERAS / "legacy216_seq_input_shape_chunked.h5")
    assert model["conv2d_1"].weight.source == "/model_weights/conv2d_1/conv2d_1_1/kernel:0"
    assert model["batch_normalization_1"].weights["moving_variance"].trainable is False
    ref = reference(KERAS / "legacy216_seq_input_shape_chunked.h5")
    np.testing.assert_array_equal(model["dense_1"].weight.native, ref["weight:dense_1/kernel"])


def test_keras3_h5_names_include_the_model_name(load):
    model = load(KERAS / "k3_nested.h5")
    assert model["inner_conv_a"].weight.source == "/model_weights/inner_block/inner_block/inner_conv_a/kernel"


def test_optimizer_weights_are_not_the_model(load):
    path = KERAS / "k2_functional_branches.h5"
    with h5py.File(path) as handle:
        assert "optimizer_weights" in handle
    assert load(path).total_params == int(reference(path)["count_params"])


def test_lambda_and_custom_layers_are_listed_as_other_with_a_warning(manager):
    for name, layer in (("k2_lambda_layer.h5", "lambda"), ("k3_custom_layer.keras", "scale_shift")):
        report = inspector.inspect_model(KERAS / name, plugin_manager=manager)
        kinds = {item.name: item.kind for item in report.model.layers}
        assert any(kinds[n] == "other" for n in kinds if layer in n)
        warnings = [f for f in report.findings if f.check == "keras-layer"]
        assert warnings and warnings[0].severity == "warning"
        assert report.passed


def test_weights_only_files_leave_unknown_attributes_unknown(load):
    model = load(KERAS / "k2_conv2d_family.weights-only.h5")
    layer = model["conv_s2_same_k3x2"]
    assert layer.strides is None and layer.pads is None and layer.input_shape is None
    assert layer.kernel_shape == (3, 2) and layer.expected_params == layer.params
    model = load(KERAS / "k3_transpose.weights.h5")
    assert {layer.kind for layer in model.conv_layers} == {"conv_transpose"}


def test_shapes_are_channels_first_in_the_common_model(load):
    model = load(KERAS / "k3_conv2d_family.h5")
    assert model["conv_same_relu"].input_shape == ("N", 3, 12, 12)
    assert model["bn_full"].input_shape == ("N", 8, 12, 12)
    assert model["flatten"].output_shape[0] == "N"
    assert model.inputs[0].shape == ("N", 12, 12, 3)


@pytest.mark.parametrize("path", sorted(KERAS.glob("*.weights-only.h5")), ids=lambda p: p.name)
def test_weights_only_convs_get_keras_class_where_the_bias_tells(load, path):
    """A kernel ``(*k, a, b)`` with a bias of length a is a transposed conv's, of length b a conv's."""
    ref = reference(path)
    classes = dict(zip(map(str, ref["flat_layer_names"]), map(str, ref["flat_layer_classes"]), strict=True))
    told = 0
    for layer in load(path).conv_layers:
        *_, a, b = layer.weight.native_shape
        if layer.bias is not None and a != b:
            assert layer.source_op == classes[layer.source_layer], layer.name
            told += 1
    assert told or "transpose" not in path.name


def test_weights_only_transposed_conv_without_a_telling_bias_is_known_by_keras_name(tmp_path, load):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = np.array([b"conv2d_transpose_3", b"up"])
        for name in ("conv2d_transpose_3", "up"):
            handle[f"{name}/{name}/kernel:0"] = np.zeros((3, 3, 4, 4), np.float32)
            handle[name].attrs["weight_names"] = np.array([f"{name}/kernel:0".encode()])
    model = load(path)
    assert [layer.source_op for layer in model.conv_layers] == ["Conv2DTranspose", "Conv2D"]
    assert model["conv2d_transpose_3"].kind == "conv_transpose"
