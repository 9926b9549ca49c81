"""The same model saved by Keras and converted to ONNX by tf2onnx (at fixture time) gives the same filters.

``samples/keras/tf2onnx_map.json`` (written by the fixture script) says which ONNX Conv node came from which Keras
layer (and which part of a SeparableConv).  For every such pair and every output channel, ``filter(o)`` and
``kernel(i, o)`` agree exactly, and each native index expression, evaluated with NumPy on the array read straight
from the file (h5py for Keras, the initializer for ONNX), returns that same filter.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import inspector
from inspector.model.common import ConvLayer
from tests.conftest import SAMPLES

KERAS = SAMPLES / "keras"
CONVERSIONS = json.loads((KERAS / "tf2onnx_map.json").read_text())


def pairs() -> list[tuple[str, dict]]:
    """(Keras .h5 name, conv node record) for every ONNX conv whose weight tf2onnx kept as Keras stored it."""
    found = []
    for onnx_name, record in sorted(CONVERSIONS.items()):
        h5_name = onnx_name.replace(".tf2onnx.onnx", ".h5")
        for node in record["conv_nodes"]:
            # a BatchNormalization folded into the conv by tf2onnx changes W: not the same weights any more
            if node["W_equals_keras_kernel"] and (KERAS / h5_name).exists():
                found.append((h5_name, node))
    return found


PAIRS = pairs()


def _evaluate(expression: str, name: str, array: np.ndarray) -> np.ndarray:
    """Evaluate an index expression the tool wrote (tests only) with nothing but the array in scope."""
    return eval(expression, {"__builtins__": {}}, {name: array})


@pytest.fixture(scope="module")
def models():
    cache: dict[str, inspector.Model] = {}
    manager = inspector.get_plugin_manager(load_entry_points=False)

    def get(name: str) -> inspector.Model:
        if name not in cache:
            cache[name] = inspector.load(KERAS / name, plugin_manager=manager)
        return cache[name]

    return get


def test_the_pairs_cover_every_kind_of_conv():
    kinds = {(node["op_type"], node["part"], node["group"] > 1) for _, node in PAIRS}
    assert ("ConvTranspose", "", False) in kinds
    assert ("Conv", "depthwise", True) in kinds and ("Conv", "pointwise", False) in kinds
    assert ("Conv", "", True) in kinds  # grouped and plain depthwise
    multipliers = {node["W_shape"][0] // node["group"] for _, node in PAIRS if node["W_shape"][1] == 1}
    assert max(multipliers) > 1  # depthwise with multiplier > 1
    assert len(PAIRS) >= 80


def _layers(models, h5_name: str, node: dict) -> tuple[ConvLayer, ConvLayer]:
    keras_name = node["keras_layer"] + (f"/{node['part']}" if node["part"] else "")
    onnx_layer = models(h5_name.replace(".h5", ".tf2onnx.onnx"))[node["onnx_node"]]
    keras_layer = models(h5_name)[keras_name]
    assert isinstance(onnx_layer, ConvLayer) and isinstance(keras_layer, ConvLayer)
    return keras_layer, onnx_layer


@pytest.mark.parametrize(("h5_name", "node"), PAIRS, ids=[f"{h}:{n['onnx_node']}" for h, n in PAIRS])
def test_filters_and_kernels_agree_across_formats(models, h5_name, node):
    keras_layer, onnx_layer = _layers(models, h5_name, node)
    assert keras_layer.out_channels == onnx_layer.out_channels
    for o in range(keras_layer.out_channels):
        expected = keras_layer.filter(o)
        # tf2onnx runs 1-D layers as 2-D ops with a kernel height of 1: same values, one extra axis
        np.testing.assert_array_equal(onnx_layer.filter(o).reshape(expected.shape), expected)
        assert list(keras_layer.input_channels(o)) == list(onnx_layer.input_channels(o))
        for i in keras_layer.input_channels(o):
            kernel = keras_layer.kernel(i, o)
            np.testing.assert_array_equal(onnx_layer.kernel(i, o).reshape(kernel.shape), kernel)


@pytest.mark.parametrize(("h5_name", "node"), PAIRS, ids=[f"{h}:{n['onnx_node']}" for h, n in PAIRS])
def test_native_index_expressions_select_the_filter_in_the_raw_files(models, h5_name, node):
    keras_layer, onnx_layer = _layers(models, h5_name, node)
    with h5py.File(KERAS / h5_name, "r") as handle:
        keras_raw = handle[keras_layer.weight.source][()]
    graph = onnx.load(KERAS / h5_name.replace(".h5", ".tf2onnx.onnx")).graph
    onnx_raw = next(numpy_helper.to_array(t) for t in graph.initializer if t.name == node["W"])
    for o in range(keras_layer.out_channels):
        expected = keras_layer.filter(o)
        keras_native = _evaluate(keras_layer.filter_index(o), keras_layer.weight.role, keras_raw)
        np.testing.assert_array_equal(keras_native, keras_layer.filter(o, layout="native"))
        np.testing.assert_array_equal(np.sort(keras_native, axis=None), np.sort(expected, axis=None))
        onnx_native = _evaluate(onnx_layer.filter_index(o), onnx_layer.weight.role, onnx_raw)
        np.testing.assert_array_equal(onnx_native.reshape(expected.shape), expected)
    sample = keras_layer.filter_index(keras_layer.out_channels - 1)
    assert sample.startswith(f"{keras_layer.weight.role}[")
