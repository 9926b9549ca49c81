"""Filter slicing: filter(o), filter_index(o), input_channels(o), kernel(i, o), filters(), as_matrix().

Expected values are worked out by hand from the file (``numpy_helper`` on the initializers, ``onnx.reference`` for
constant subgraphs), and Keras layouts are checked against the same weights stored the ONNX way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import inspector
from inspector.errors import FilterError
from inspector.model.common import ConvLayer, Weight
from tests.conftest import SAMPLES, save_model


def file_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every constant tensor of the file by name, without the loader.

    Initializers (of subgraphs too), and the values ``onnx.reference`` computes for constant subgraphs.
    """
    proto = onnx.load(path)
    arrays: dict[str, np.ndarray] = {}

    def visit(graph: onnx.GraphProto) -> None:
        for tensor in graph.initializer:
            arrays[tensor.name] = numpy_helper.to_array(tensor)
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    visit(attribute.g)

    visit(proto.graph)
    if any(node.op_type == "Constant" for node in proto.graph.node):
        feeds = {
            v.name: np.zeros([d.dim_value for d in v.type.tensor_type.shape.dim], np.float32)
            for v in proto.graph.input
            if v.name not in arrays
        }
        current = onnx.version_converter.convert_version(proto, onnx.defs.onnx_opset_version())
        arrays.update(ReferenceEvaluator(current).run(None, feeds, intermediate=True))
    return arrays


def stored_weight(layer: ConvLayer, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The layer's weight as the file stores it (a QLinearConv weight dequantized by hand)."""
    if layer.source_op == "QLinearConv":
        scale, zero = arrays[layer.inputs[4]], arrays[layer.inputs[5]]
        integers = arrays[layer.inputs[3]].astype(np.float32)
        return (integers - zero.astype(np.float32).reshape(-1, 1, 1, 1)) * scale.reshape(-1, 1, 1, 1)
    return arrays[layer.inputs[1]]


def sample_layers():
    for path in sorted(SAMPLES.glob("*.onnx")):
        if path.name == "broken_grouped.onnx":
            continue
        for layer in inspector.load(path).conv_layers:
            yield pytest.param(path, layer.name, id=f"{path.stem}:{layer.name}")


@pytest.mark.parametrize(("path", "name"), list(sample_layers()))
def test_every_sample_filter_matches_the_file(path, name):
    layer = inspector.load(path)[name]
    stored = stored_weight(layer, file_arrays(path))
    transposed = layer.kind == "conv_transpose"
    per_group_out = stored.shape[1] if transposed else layer.out_channels // layer.groups
    per_group_in = stored.shape[0] // layer.groups if transposed else stored.shape[1]
    for o in range(layer.out_channels):
        group, column = divmod(o, per_group_out)
        first = group * per_group_in
        reads = range(first, first + per_group_in)
        if transposed:
            expected = stored[first : first + per_group_in, column]
            where = f"W[:, {column}]" if layer.groups == 1 else f"W[{first}:{first + per_group_in}, {column}]"
        else:
            expected, where = stored[o], f"W[{o}]"
        np.testing.assert_array_equal(layer.filter(o), expected)
        np.testing.assert_array_equal(layer.filter(o, layout="native"), expected)
        assert layer.filter(o).shape == layer.filter_shape
        assert layer.filter_index(o) == where
        assert layer.input_channels(o) == reads
        for i in reads:
            np.testing.assert_array_equal(layer.kernel(i, o), expected[i - first])
            assert layer.kernel(i, o).shape == layer.kernel_shape
    matrix = layer.as_matrix()
    assert matrix.shape == (layer.out_channels, per_group_in * layer.kernel_size)
    for o, values in enumerate(layer.filters()):
        np.testing.assert_array_equal(matrix[o], values.ravel())


def test_seed_question_conv2_filter_5():
    conv2 = inspector.load(SAMPLES / "seed.onnx")["conv2"]
    stored = file_arrays(SAMPLES / "seed.onnx")["conv2.W"]
    assert conv2.filter(5).shape == (32, 3, 3)
    assert conv2.input_channels(5) == range(32)
    np.testing.assert_array_equal(conv2.kernel(7, 5), stored[5, 7])
    assert conv2.filter_index(5) == "W[5]"


def test_arrays_are_read_only():
    for name in ("up", "up_grouped"):
        layer = inspector.load(SAMPLES / "conv_transpose.onnx")[name]
        for array in (layer.filter(1), layer.filter(1, layout="native"), layer.kernel(0, 1), layer.as_matrix()):
            assert not array.flags.writeable
            with pytest.raises(ValueError):
                array[...] = 0


def test_errors_name_the_layer_and_the_group():
    grouped = inspector.load(SAMPLES / "grouped.onnx")["grouped"]
    with pytest.raises(
        FilterError,
        match=r"layer grouped: output map 5 does not read input map 0; its group \(1\) "
        r"reads input maps 2…3",
    ):
        grouped.kernel(0, 5)
    with pytest.raises(IndexError, match="no output channel 16; it has 16 output channels"):
        grouped.filter(16)
    with pytest.raises(FilterError, match="no input map 8"):
        grouped.kernel(8, 5)
    with pytest.raises(FilterError, match="no output channel -1"):
        grouped.input_channels(-1)
    with pytest.raises(FilterError, match="must be an integer"):
        grouped.filter(1.5)
    with pytest.raises(ValueError, match="layout must be"):
        grouped.filter(0, layout="keras")
    assert grouped.filter(np.int64(3)).shape == (2, 3, 3)


def test_a_weight_that_disagrees_with_the_attributes_is_not_sliced():
    bad = inspector.load(SAMPLES / "broken_grouped.onnx")["bad_grouped"]
    with pytest.raises(
        FilterError,
        match=r"bad_grouped: weight bad.W has canonical shape \[16, 2, 3, 3\], the layer's "
        r"attributes promise \[16, 4, 3, 3\]",
    ):
        bad.filter(0)


# Synthetic layers in Keras layouts, against the same weights stored the ONNX way.


def onnx_channels(onnx_native: np.ndarray, kind: str, groups: int) -> tuple[int, int]:
    """(in, out) channels of a conv whose weight ONNX stores as ``onnx_native``."""
    first, second = onnx_native.shape[:2]
    return (first, second * groups) if kind == "conv_transpose" else (second * groups, first)


def make_layer(
    native: np.ndarray, layout: str, *, role: str, kind: str, groups: int, channels: tuple[int, int], reads: list
) -> ConvLayer:
    """A conv layer over ``native`` stored in ``layout``; ``reads`` gets an entry each time its bytes are read."""

    def read() -> np.ndarray:
        reads.append(1)
        return native

    weight = Weight(
        role=role,
        source=f"synthetic/{role}",
        native_shape=native.shape,
        native_layout=layout,
        dtype="float64",
        read_native=read,
    )
    spatial = [axis for axis, letter in enumerate(layout) if letter in "DHW"]
    return ConvLayer(
        name=f"{layout}_{kind}",
        kind=kind,
        source_op=layout,
        rank=len(spatial),
        in_channels=channels[0],
        out_channels=channels[1],
        groups=groups,
        kernel_shape=tuple(native.shape[axis] for axis in spatial),
        strides=None,
        dilations=None,
        pads=None,
        weight=weight,
        weights={role: weight},
    )


RNG = np.random.default_rng(4)


def keras_twins():
    """(Keras layer, ONNX layer, expected Keras index of output 5) built from one random kernel each."""
    hwio = RNG.standard_normal((3, 2, 4, 6))  # (kh, kw, in, out)
    grouped = RNG.standard_normal((3, 3, 2, 6))  # (kh, kw, in/g, out), 3 groups
    depthwise = RNG.standard_normal((3, 3, 4, 2))  # (kh, kw, in, multiplier): output c·2 + m
    depthwise_1d = RNG.standard_normal((5, 3, 3))  # (k, in, multiplier)
    transposed = RNG.standard_normal((4, 4, 6, 3))  # (kh, kw, out, in)
    transposed_grouped = RNG.standard_normal((3, 3, 3, 4))  # (kh, kw, out/g, in), 2 groups
    wio = RNG.standard_normal((5, 4, 6))
    dhwio = RNG.standard_normal((3, 2, 2, 2, 6))
    pointwise = RNG.standard_normal((1, 1, 8, 6))  # a SeparableConv2D's second step
    cases = [
        (hwio, "HWIO", "kernel", "conv", 1, np.transpose(hwio, (3, 2, 0, 1)), "kernel[:, :, :, 5]"),
        (grouped, "HWIO", "kernel", "conv", 3, np.transpose(grouped, (3, 2, 0, 1)), "kernel[:, :, :, 5]"),
        (
            depthwise,
            "HWIM",
            "depthwise_kernel",
            "conv",
            4,
            np.transpose(depthwise, (2, 3, 0, 1)).reshape(8, 1, 3, 3),
            "depthwise_kernel[:, :, 2, 1]",
        ),
        (
            depthwise_1d,
            "WIM",
            "depthwise_kernel",
            "conv",
            3,
            np.transpose(depthwise_1d, (1, 2, 0)).reshape(9, 1, 5),
            "depthwise_kernel[:, 1, 2]",
        ),
        (
            transposed,
            "HWOI",
            "kernel",
            "conv_transpose",
            1,
            np.transpose(transposed, (3, 2, 0, 1)),
            "kernel[:, :, 5, :]",
        ),
        (
            transposed_grouped,
            "HWOI",
            "kernel",
            "conv_transpose",
            2,
            np.transpose(transposed_grouped, (3, 2, 0, 1)),
            "kernel[:, :, 2, 2:4]",
        ),
        (wio, "WIO", "kernel", "conv", 1, np.transpose(wio, (2, 1, 0)), "kernel[:, :, 5]"),
        (dhwio, "DHWIO", "kernel", "conv", 1, np.transpose(dhwio, (4, 3, 0, 1, 2)), "kernel[:, :, :, :, 5]"),
        (
            pointwise,
            "HWIO",
            "pointwise_kernel",
            "conv",
            1,
            np.transpose(pointwise, (3, 2, 0, 1)),
            "pointwise_kernel[:, :, :, 5]",
        ),
    ]
    for native, layout, role, kind, groups, onnx_native, index in cases:
        onnx_layout = ("IO" if kind == "conv_transpose" else "OI") + "DHW"[3 - (native.ndim - 2) :]
        yield pytest.param(
            native, layout, role, kind, groups, onnx_native, onnx_layout, index, id=f"{layout}-g{groups}"
        )


@pytest.mark.parametrize(
    ("native", "layout", "role", "kind", "groups", "onnx_native", "onnx_layout", "index"), list(keras_twins())
)
def test_keras_layouts_give_the_onnx_filters(native, layout, role, kind, groups, onnx_native, onnx_layout, index):
    channels = onnx_channels(onnx_native, kind, groups)
    keras = make_layer(native, layout, role=role, kind=kind, groups=groups, channels=channels, reads=[])
    twin = make_layer(onnx_native, onnx_layout, role="W", kind=kind, groups=groups, channels=channels, reads=[])
    assert keras.kernel_shape == twin.kernel_shape and keras.weight.shape == twin.weight.shape
    assert keras.filter_index(5) == index
    for o in range(keras.out_channels):
        np.testing.assert_array_equal(keras.filter(o), twin.filter(o))
        assert keras.input_channels(o) == twin.input_channels(o)
        for i in keras.input_channels(o):
            np.testing.assert_array_equal(keras.kernel(i, o), twin.kernel(i, o))
    np.testing.assert_array_equal(keras.as_matrix(), twin.as_matrix())


@pytest.mark.parametrize(
    ("native", "layout", "role", "kind", "groups", "onnx_native", "onnx_layout", "index"), list(keras_twins())
)
def test_every_index_expression_evaluates_to_the_native_filter(
    native, layout, role, kind, groups, onnx_native, onnx_layout, index
):
    channels = onnx_channels(onnx_native, kind, groups)
    for array, array_layout, name in ((native, layout, role), (onnx_native, onnx_layout, "W")):
        layer = make_layer(array, array_layout, role=name, kind=kind, groups=groups, channels=channels, reads=[])
        for o in range(layer.out_channels):
            found = eval(layer.filter_index(o), {"__builtins__": {}}, {name: array})  # restricted globals: names only
            np.testing.assert_array_equal(found, layer.filter(o, layout="native"))
            assert found.shape == layer.filter(o, layout="native").shape


def test_keras_depthwise_channel_is_c_times_multiplier_plus_m():
    native = RNG.standard_normal((3, 3, 4, 2))
    layer = make_layer(native, "HWIM", role="depthwise_kernel", kind="conv", groups=4, channels=(4, 8), reads=[])
    np.testing.assert_array_equal(layer.filter(5, layout="native"), native[:, :, 2, 1])
    np.testing.assert_array_equal(layer.filter(5), native[None, :, :, 2, 1])
    assert layer.input_channels(5) == range(2, 3)
    with pytest.raises(FilterError, match="output map 5 does not read input map 1"):
        layer.kernel(1, 5)


def test_keras_transposed_filter_reads_its_group_column():
    native = RNG.standard_normal((3, 3, 3, 4))  # (kh, kw, out/g, in), 2 groups: output 4 is group 1, column 1
    layer = make_layer(native, "HWOI", role="kernel", kind="conv_transpose", groups=2, channels=(4, 6), reads=[])
    np.testing.assert_array_equal(layer.filter(4), np.moveaxis(native[:, :, 1, 2:4], -1, 0))
    np.testing.assert_array_equal(layer.kernel(3, 4), native[:, :, 1, 3])


def test_slicing_reads_the_weight_once_and_only_when_asked():
    reads: list = []
    native = RNG.standard_normal((3, 3, 4, 6))
    layer = make_layer(native, "HWIO", role="kernel", kind="conv", groups=1, channels=(4, 6), reads=reads)
    assert layer.filter_index(3) == "kernel[:, :, :, 3]" and layer.input_channels(3) == range(4)
    assert reads == []
    list(layer.filters())
    layer.kernel(2, 3), layer.as_matrix(), layer.filter(0, layout="native")
    assert reads == [1]


def test_a_weight_computed_at_run_time_has_no_filters():
    layer = ConvLayer(
        name="runtime",
        kind="conv",
        source_op="Conv",
        rank=2,
        in_channels=2,
        out_channels=4,
        groups=1,
        kernel_shape=(3, 3),
        strides=None,
        dilations=None,
        pads=None,
    )
    with pytest.raises(FilterError, match="runtime: the weight is computed at run time"):
        layer.filter(0)


def test_a_conv_with_no_filters_gives_an_empty_matrix(tmp_path):
    path = save_model(
        tmp_path / "empty.onnx",
        [helper.make_node("Conv", ["x", "W"], ["y"], name="empty")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.zeros((0, 2, 3, 3), np.float32), "W")],
    )
    layer = inspector.load(path)["empty"]
    assert layer.as_matrix().shape == (0, 18) and list(layer.filters()) == []
