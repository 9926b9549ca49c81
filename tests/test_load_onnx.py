"""The ONNX loader on every sample, with numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from tests.conftest import SAMPLES, save_model


def test_seed_example_counts(load):
    model = load(SAMPLES / "seed.onnx")
    conv1, conv2 = model.conv_layers
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_shape) == (1, 32, (3, 3))
    assert conv1.params == 3 * 3 * 1 * 32 + 32 == 320
    assert conv2.params == conv2.expected_params == 3 * 3 * 32 * 64 + 64 == 18_496
    assert conv1.input_shape == ("N", 1, 28, 28)
    assert conv2.output_shape == ("N", 64, 24, 24)
    assert conv2.macs == 24 * 24 * 64 * 32 * 9
    assert model.total_params == 320 + 18_496
    assert model.inputs[0].name == "image" and model.inputs[0].dtype == "float32"
    assert model.format == "onnx" and model.producer == "conv-inspector samples 1"


def test_strided_padded_and_auto_pad(load):
    model = load(SAMPLES / "strided_padded.onnx")
    stem = model["stem"]
    assert stem.pads == (1, 2, 2, 1) and stem.strides == (2, 2)
    assert stem.output_shape == (1, 8, 16, 16)  # (32 + 1 + 2 - 5) // 2 + 1 = 16
    # SAME_UPPER, k=3, s=2 on 16: out 8, total pad (8-1)*2 + 3 - 16 = 1, the extra pixel at the end
    assert model["same_upper"].pads == (0, 0, 1, 1)
    assert model["same_upper"].kernel_shape == (3, 3)  # no kernel_shape attribute: taken from the weight
    # SAME_LOWER, k=2, s=1 on 8: total 1, the extra pixel at the start
    assert model["same_lower"].pads == (1, 1, 0, 0)


@pytest.mark.parametrize(
    ("sample", "layer", "groups", "in_channels", "out_channels", "params"),
    [
        ("grouped.onnx", "grouped", 4, 8, 16, 3 * 3 * 2 * 16 + 16),
        ("depthwise.onnx", "dw", 8, 8, 16, 3 * 3 * 1 * 16 + 16),
        ("depthwise.onnx", "pw", 1, 16, 32, 16 * 32 + 32),
        ("dilated.onnx", "dilated", 1, 4, 8, 9 * 4 * 8 + 8),
        ("conv1d.onnx", "conv1d", 1, 4, 6, 5 * 4 * 6 + 6),
        ("conv3d.onnx", "conv3d", 1, 2, 4, 27 * 2 * 4 + 4),
        ("conv_transpose.onnx", "up", 1, 8, 4, 16 * 8 * 4 + 4),
        ("conv_transpose.onnx", "up_grouped", 2, 4, 6, 9 * 2 * 6),
    ],
)
def test_conv_variants(load, sample, layer, groups, in_channels, out_channels, params):
    conv = load(SAMPLES / sample)[layer]
    assert (conv.groups, conv.in_channels, conv.out_channels) == (groups, in_channels, out_channels)
    assert conv.params == conv.expected_params == params


def test_ranks_and_transposed_shapes(load):
    assert load(SAMPLES / "conv1d.onnx")["conv1d"].output_shape == (1, 6, 32)  # (64 + 4 - 5) // 2 + 1
    assert load(SAMPLES / "conv3d.onnx")["conv3d"].rank == 3
    model = load(SAMPLES / "conv_transpose.onnx")
    up = model["up"]
    assert up.kind == "conv_transpose" and up.output_padding == (1, 1)
    assert up.output_shape == (1, 4, 17, 17)  # (8 - 1)·2 + 4 − 2 + 1
    assert model["up_grouped"].output_shape == (1, 6, 19, 19)
    assert load(SAMPLES / "dilated.onnx")["dilated"].dilations == (2, 2)


def test_weights_from_constant_nodes_and_subgraphs(load):
    model = load(SAMPLES / "constant_weights.onnx")
    c1, c2, c3 = model.conv_layers
    assert c1.bias.array.tolist() == [0.5] * 4  # ConstantOfShape
    assert c2.weight.shape == (8, 4, 3, 3)  # Reshape of a flat Constant
    np.testing.assert_allclose(c2.bias.array, np.linspace(-1, 1, 8).astype(np.float32))  # Cast of float64
    q = numpy_helper.to_array(
        next(n for n in onnx.load(SAMPLES / "constant_weights.onnx").graph.node if n.name == "w3_q_const")
        .attribute[0]
        .t
    )
    np.testing.assert_allclose(c3.weight.array, q.astype(np.float32) * np.float32(0.01))  # DequantizeLinear
    assert model.total_params == 112 + 296 + 72  # folding nodes add nothing


def test_weights_are_read_lazily_and_read_only(load):
    model = load(SAMPLES / "seed.onnx")
    weight = model["conv2"].weight
    assert weight._cache == {}
    assert weight.shape == (64, 32, 3, 3) and model.total_params  # shapes and totals need no bytes
    assert weight._cache == {}
    with pytest.raises(ValueError):
        weight.array[0, 0, 0, 0] = 1.0


def test_conv_inside_if_named_with_path(load):
    model = load(SAMPLES / "conv_in_if.onnx")
    names = [layer.name for layer in model.conv_layers]
    assert sorted(names) == ["branch/else_branch/else_conv", "branch/then_branch/then_conv"]
    assert model["branch/then_branch/then_conv"].params == 3 * 3 * 2 * 4
    assert model.total_params == 72 + 12


def test_dense_batch_norm_and_trainable_split(load):
    model = load(SAMPLES / "classifier.onnx")
    assert model["bn"].kind == "batch_norm"
    assert model["fc"].kind == "dense" and (model["fc"].in_features, model["fc"].out_features) == (16, 10)
    assert model["proj"].kind == "dense" and model["proj"].weight.shape == (8, 16)
    assert model.total_params == 432 + 64 + 170 + 128
    assert model.non_trainable_params == 32  # BatchNorm running mean and variance
    assert model["fc"].macs == 160


def test_quantized_convs(load):
    model = load(SAMPLES / "quantized.onnx")
    qconv, iconv = model["qconv"], model["iconv"]
    assert qconv.quantized and iconv.quantized
    raw = numpy_helper.to_array(
        next(t for t in onnx.load(SAMPLES / "quantized.onnx").graph.initializer if t.name == "q.W")
    )
    scale = np.array([0.01, 0.02, 0.015, 0.005], np.float32).reshape(4, 1, 1, 1)
    np.testing.assert_allclose(qconv.weight.array, raw.astype(np.float32) * scale)
    assert iconv.params == 6 * 4 * 9


def test_shared_weight_counted_once(load):
    model = load(SAMPLES / "shared_weights.onnx")
    assert model["left"].params == model["right"].params == 8 * 3 * 9 + 8
    assert model.total_params == 8 * 3 * 9 + 8


def test_empty_node_name_uses_first_output(tmp_path, load):
    w = numpy_helper.from_array(np.ones((2, 1, 1, 1), np.float32), "w")
    path = save_model(
        tmp_path / "unnamed.onnx",
        [helper.make_node("Conv", ["x", "w"], ["features"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, None)],
        [w],
    )
    assert [layer.name for layer in load(path).layers] == ["features"]


def _external_model(folder, location):
    tensor = numpy_helper.from_array(np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2), "w")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "32")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return save_model(
        folder / "external.onnx",
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [tensor],
    )


def test_external_data_is_memory_mapped(tmp_path, load):
    (tmp_path / "weights.bin").write_bytes(np.arange(8, dtype="<f4").tobytes())
    model = load(_external_model(tmp_path, "weights.bin"))
    weight = model["conv"].weight
    assert not weight.native.flags.owndata  # a view of the memory-mapped file, not a copy
    np.testing.assert_array_equal(weight.array.ravel(), np.arange(8))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_external_data_outside_the_folder_is_refused(tmp_path, load, kind):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(np.zeros(8, "<f4").tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    location = {"dotdot": "../outside.bin", "absolute": str(outside), "symlink": "link.bin"}[kind]
    if kind == "symlink":
        (folder / "link.bin").symlink_to(outside)
    with pytest.raises(inspector.LoadError, match="external data"):
        load(_external_model(folder, location))


def test_external_data_shorter_than_declared_is_refused(tmp_path, load):
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(inspector.LoadError, match="claims bytes"):
        load(_external_model(tmp_path, "weights.bin"))


def test_not_onnx_and_corrupt_files(tmp_path, load):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage\xff\xff\xff")
    with pytest.raises(inspector.LoadError, match=r"corrupt\.onnx"):
        load(corrupt)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(inspector.UnsupportedModelError):
        load(text)
    with pytest.raises(inspector.LoadError, match="no such file"):
        load(tmp_path / "missing.onnx")


def test_cyclic_graph_is_refused(tmp_path, load):
    w = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    path = save_model(
        tmp_path / "cycle.onnx",
        [
            helper.make_node("Conv", ["b", "w"], ["a"], name="first"),
            helper.make_node("Relu", ["a"], ["b"], name="second"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)],
        [w],
    )
    with pytest.raises(inspector.LoadError, match="cycle"):
        load(path)


def test_duplicate_node_names_get_unique_layer_names(tmp_path, load):
    w = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    path = save_model(
        tmp_path / "twins.onnx",
        [
            helper.make_node("Conv", ["x", "w"], ["a"], name="conv"),
            helper.make_node("Conv", ["a", "w"], ["b"], name="conv"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)],
        [w],
    )
    model = load(path)
    assert [layer.name for layer in model.layers] == ["conv", "conv_1"]
    assert model.total_params == 1  # one shared weight


def test_large_initializers_keep_their_values_and_shapes_through_shape_inference(tmp_path):
    weight = np.random.default_rng(3).standard_normal((64, 32, 3, 3)).astype(np.float32)  # 73 KiB: lifted out
    path = save_model(
        tmp_path / "large.onnx",
        [helper.make_node("Conv", ["x", "W"], ["y"], name="conv"), helper.make_node("Relu", ["y"], ["z"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 10, 10])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "W")],
    )
    model = inspector.load(path)
    assert model["conv"].output_shape == (1, 64, 8, 8) and model.layers[1].output_shape == (1, 64, 8, 8)
    np.testing.assert_array_equal(model["conv"].weight.array, weight)
