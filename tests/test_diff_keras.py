"""``inspect diff`` of each Keras sample against ONNX models holding the same weights: one the test builds from the
arrays h5py reads out of the Keras file, moved to ONNX's layout by NumPy here, and the tf2onnx exports committed in
samples/keras, whose map (tf2onnx_map.json, written by the export script) says which ONNX conv holds which Keras
kernel unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.model.common import ConvLayer, DenseLayer
from tests.conftest import SAMPLES

KERAS = SAMPLES / "keras"
FULL_MODELS = sorted(
    p.name for p in [*KERAS.glob("k*.h5"), *KERAS.glob("k*.keras")] if "weights" not in p.name and "_onnx" not in p.name
)
EXPORTS = json.loads((KERAS / "tf2onnx_map.json").read_text())
CUSTOM = "B computes the custom ScaleShift layer as a Mul and an Add, which A's unknown layer cannot match"
KNOWN_DIFFERENCES = {"k2_custom_layer": CUSTOM, "k3_custom_layer": CUSTOM}
MATCHED_KINDS = ("conv", "conv_transpose", "dense", "batch_norm")
BN_ROLES = {"scale": ("gamma", 1.0), "B": ("beta", 0.0), "mean": ("moving_mean", 0.0), "var": ("moving_variance", 1.0)}


def _raw(path, source):
    """The stored array at ``source``, read by h5py (from the .keras archive's weights file when need be)."""
    if path.suffix == ".keras":
        with (
            zipfile.ZipFile(path) as archive,
            archive.open("model.weights.h5") as stream,
            h5py.File(stream, "r") as file,
        ):
            return np.array(file[source])
    with h5py.File(path, "r") as file:
        return np.array(file[source])


def onnx_layout(array, layout):
    """A Keras kernel in ONNX's layout, by NumPy: (*k, I, O) → (O, I, *k); depthwise (*k, C, M) → (C·M, 1, *k);
    transposed (*k, O, I) → (I, O, *k); dense (in, out) stays, as MatMul reads it."""
    rank = array.ndim - 2
    if layout.endswith("IM"):
        moved = np.moveaxis(array, (rank, rank + 1), (0, 1))
        return moved.reshape(array.shape[rank] * array.shape[rank + 1], 1, *array.shape[:rank])
    return np.transpose(array, (rank + 1, rank, *range(rank))) if rank > 0 else array


def build_onnx(keras_path, out_path, *, swap=None):
    """One ONNX node per weighted Keras layer, each on a graph input of its own, named after the Keras layer
    (a SeparableConv's two convs as ``<layer>/dw`` and ``<layer>/pw``); ``swap=(layer, i, j)`` swaps two filters."""
    nodes, inputs, outputs, initializers = [], [], [], []
    with inspector.load(keras_path) as model:
        for n, layer in enumerate(model.layers):
            if not isinstance(layer, ConvLayer | DenseLayer) and layer.kind != "batch_norm":
                continue
            name = layer.name.replace("/depthwise", "/dw").replace("/pointwise", "/pw")
            x, y = f"x{n}", f"y{n}"
            if isinstance(layer, DenseLayer):
                weight = _raw(keras_path, layer.weight.source)
                initializers.append(numpy_helper.from_array(weight, f"{name}.W"))
                nodes.append(helper.make_node("MatMul", [x, f"{name}.W"], [f"{y}m"], name=name))
                bias = _raw(keras_path, layer.bias.source)
                initializers.append(numpy_helper.from_array(bias, f"{name}.b"))
                nodes.append(helper.make_node("Add", [f"{y}m", f"{name}.b"], [y], name=f"{name}_bias"))
                shape = [1, weight.shape[0]]
            elif isinstance(layer, ConvLayer):
                weight = onnx_layout(_raw(keras_path, layer.weight.source), layer.weight.native_layout)
                if swap is not None and swap[0] == layer.name:
                    weight[[swap[1], swap[2]]] = weight[[swap[2], swap[1]]]
                names = [x, f"{name}.W"]
                initializers.append(numpy_helper.from_array(np.ascontiguousarray(weight), f"{name}.W"))
                if layer.bias is not None:
                    initializers.append(numpy_helper.from_array(_raw(keras_path, layer.bias.source), f"{name}.B"))
                    names.append(f"{name}.B")
                op = "ConvTranspose" if layer.kind == "conv_transpose" else "Conv"
                channels = weight.shape[0] if op == "ConvTranspose" else weight.shape[1] * layer.groups
                nodes.append(helper.make_node(op, names, [y], name=name, group=layer.groups))
                shape = [1, channels, *[12] * layer.rank]
            else:
                count = next(iter(layer.weights.values())).size
                names = [x]
                for role, (keras_role, default) in BN_ROLES.items():
                    stored = layer.weights.get(keras_role)
                    value = np.full(count, default, np.float32) if stored is None else _raw(keras_path, stored.source)
                    initializers.append(numpy_helper.from_array(value.astype(np.float32), f"{name}.{role}"))
                    names.append(f"{name}.{role}")
                nodes.append(helper.make_node("BatchNormalization", names, [y], name=name))
                shape = [1, count, 4, 4]
            inputs.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, shape))
            outputs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "same_weights", inputs, outputs, initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), out_path)
    return out_path


@pytest.mark.parametrize("sample", FULL_MODELS)
def test_each_keras_sample_agrees_with_its_weights_in_onnx_layout(tmp_path, sample):
    b = build_onnx(KERAS / sample, tmp_path / "same.onnx")
    result = inspector.diff(KERAS / sample, b, outputs=False)
    assert result.agrees, (result.only_a, result.only_b, [d for d in result.layers if not d.agrees])
    assert {f.verdict for d in result.layers for f in d.weights.filters} <= {"identical"}
    with inspector.load(KERAS / sample) as model:
        weighted = [
            layer.name for layer in model.layers if layer.kind in ("conv", "conv_transpose", "dense", "batch_norm")
        ]
    assert [d.a for d in result.layers] == weighted


def test_a_swapped_filter_of_a_separable_conv_is_named_in_both_layouts(tmp_path):
    sample = KERAS / "k2_depthwise_separable.h5"
    b = build_onnx(sample, tmp_path / "swapped.onnx", swap=("sep2d_m2_same/pointwise", 2, 7))
    result = subprocess.run(
        [sys.executable, "-m", "inspector", "diff", str(sample), str(b), "--no-outputs"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "✘ sep2d_m2_same/pointwise ↔ sep2d_m2_same/pw (by name): 6 identical, 2 swapped (float32)" in result.stdout
    assert "filter 2: A pointwise_kernel[:, :, :, 2], B W[2]: B's filter 2 is A's filter 7" in result.stdout
    assert "filter 7: A pointwise_kernel[:, :, :, 7], B W[7]: B's filter 7 is A's filter 2" in result.stdout


def _keras_source(export):
    stem = export.removesuffix(".tf2onnx.onnx")
    return next(KERAS / f"{stem}{suffix}" for suffix in (".keras", ".h5") if (KERAS / f"{stem}{suffix}").exists())


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_each_tf2onnx_export_matches_the_keras_kernels_its_map_names(export):
    result = inspector.diff(_keras_source(export), KERAS / export)
    pairs = {d.a: d for d in result.layers}
    for node in EXPORTS[export]["conv_nodes"]:
        if not node["W_equals_keras_kernel"]:
            continue
        keras = node["keras_layer"] + (f"/{node['part']}" if node["part"] else "")
        assert pairs[keras].b == node["onnx_node"], keras
        filters = pairs[keras].weights.filters
        assert all(f.verdict == "identical" or f.bias_only for f in filters), keras  # bias: see below
    stem = export.removesuffix(".tf2onnx.onnx")
    transposed = any(d.kind == "conv_transpose" for d in result.layers)
    if stem in KNOWN_DIFFERENCES or transposed:
        assert not result.agrees  # see KNOWN_DIFFERENCES; a transposed conv's tf2onnx bias sits past Slice nodes
    else:
        assert result.agrees, (result.only_a, result.only_b, [d for d in result.layers if not d.agrees])
