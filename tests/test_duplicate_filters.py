"""Duplicate filters are found bit for bit, reading only filters that share a fingerprint, whole."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.model.filter_stats import filter_stats
from inspector.plugins.analyze_filters import duplicate_sets


@pytest.mark.parametrize("chunk_bytes", [2**24, 64])
def test_filters_alike_in_every_sampled_weight_are_told_apart(tmp_path, monkeypatch, chunk_bytes):
    """Two groups of three filters, in one chunk and in chunks of one filter (fingerprints first).

    Filters 0 and 1 share min, max and first, middle and last weights but differ elsewhere; 3 and 5 are equal; 4
    equals them but for a zero's sign; 2 equals them in the other group."""
    base = np.arange(1, 28, dtype=np.float32).reshape(3, 3, 3) / 10
    other = base.copy()
    other.flat[[5, 6]] = other.flat[[6, 5]]  # same values, so same min and max; not at 0, 13 or 26
    signed = base.copy()
    signed.flat[4] = 0.0
    negative_zero = signed.copy()
    negative_zero.flat[4] = -0.0
    weight = np.stack([base, other, signed, signed, negative_zero, signed])
    path = tmp_path / "dup.onnx"
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="c", group=2)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 3, 3])],
        [numpy_helper.from_array(weight, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)
    monkeypatch.setattr("inspector.plugins.analyze_filters.CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr("inspector.model.filter_stats.CHUNK_BYTES", chunk_bytes)
    with inspector.load(path) as model:
        layer = model["c"]
        assert duplicate_sets(layer, filter_stats(layer)) == [[3, 5]]
