"""Weights an ONNX graph computes from constants: their values (against NumPy doing the same by hand), and the
budget that sizes every tensor made on the way from the values themselves (``--max-fold-mb``)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

import inspector
from inspector.errors import LoadError
from inspector.options import Options
from tests.hostile.onnx_build import conv_file

SHAPE = (4, 2, 3, 3)


def _ints(name: str, values) -> object:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _weight(tmp_path, nodes, initializers, **options) -> np.ndarray:
    path = conv_file(tmp_path, extra_nodes=nodes, initializers=initializers, computed=True)
    with inspector.load(path, options=Options(**options)) as model:
        return np.array(model["conv"].weight.native)


def test_expand_of_a_range_is_the_numpy_broadcast(tmp_path):
    nodes = [
        helper.make_node("Range", ["start", "limit", "delta"], ["row"], name="row"),
        helper.make_node("Cast", ["row"], ["row_f"], to=1),
        helper.make_node("Expand", ["row_f", "target"], ["w"], name="w_expand"),
    ]
    initializers = [_ints("start", 0), _ints("limit", 3), _ints("delta", 1), _ints("target", SHAPE)]
    expected = np.broadcast_to(np.arange(3, dtype=np.float32), SHAPE)
    np.testing.assert_array_equal(_weight(tmp_path, nodes, initializers), expected)


def test_nonzero_sized_from_its_input_gives_the_numpy_indices(tmp_path):
    mask = np.zeros((6, 12), np.float32)
    mask[::2, ::3] = 1  # 3 × 4 = 12 elements set: 2 × 12 = 24 indices, reshaped to 4·2·3·1
    nodes = [
        helper.make_node("NonZero", ["mask"], ["where"], name="where"),
        helper.make_node("Cast", ["where"], ["where_f"], to=1),
        helper.make_node("Reshape", ["where_f", "shape"], ["w"], name="w_reshape"),
    ]
    initializers = [numpy_helper.from_array(mask, "mask"), _ints("shape", (4, 2, 3, 1))]
    expected = np.array(np.nonzero(mask), np.float32).reshape(4, 2, 3, 1)
    np.testing.assert_array_equal(_weight(tmp_path, nodes, initializers), expected)


def test_a_sequence_on_the_way_is_followed(tmp_path):
    values = np.arange(72, dtype=np.float32).reshape(SHAPE)
    nodes = [
        helper.make_node("SequenceConstruct", ["zeros", "values"], ["both"], name="both"),
        helper.make_node("SequenceAt", ["both", "one"], ["w"], name="w_pick"),
    ]
    initializers = [
        numpy_helper.from_array(np.zeros(SHAPE, np.float32), "zeros"),
        numpy_helper.from_array(values, "values"),
        _ints("one", 1),
    ]
    np.testing.assert_array_equal(_weight(tmp_path, nodes, initializers), values)


def _filled(shape):
    return [helper.make_node("ConstantOfShape", ["shape"], ["w"], name="w_fill")], [_ints("shape", shape)]


def test_the_limit_is_the_flag_and_raising_it_lets_the_weight_through(tmp_path):
    nodes, initializers = _filled((4, 2, 512, 512))  # 2,097,152 float32 values: 8 MiB
    with pytest.raises(LoadError, match=r"of shape \[4, 2, 512, 512\] needs 8 MiB, past the limit of 4 MiB "):
        _weight(tmp_path, nodes, initializers, max_fold_mb=4)
    assert _weight(tmp_path, nodes, initializers, max_fold_mb=16).shape == (4, 2, 512, 512)


def test_a_large_tensor_on_the_way_is_refused_though_the_weight_is_small(tmp_path):
    nodes = [
        helper.make_node("Tile", ["one", "repeats"], ["tiled"], name="tiled"),
        helper.make_node("Slice", ["tiled", "begin", "end"], ["flat"], name="flat"),
        helper.make_node("Reshape", ["flat", "shape"], ["w"], name="w_reshape"),
    ]
    initializers = [
        numpy_helper.from_array(np.ones(1, np.float32), "one"),
        _ints("repeats", [100_000_000]),  # 400,000,000 bytes: 381.5 MiB
        _ints("begin", [0]),
        _ints("end", [72]),
        _ints("shape", SHAPE),
    ]
    with pytest.raises(LoadError, match=r"tensor 'tiled' \(Tile\) of shape \[100000000\] needs 381\.5 MiB"):
        _weight(tmp_path, nodes, initializers)


def test_a_shape_hidden_behind_abs_is_sized_from_its_value(tmp_path):
    nodes = [
        helper.make_node("Abs", ["negative"], ["shape"], name="shape_abs"),
        helper.make_node("ConstantOfShape", ["shape"], ["w"], name="w_fill"),
    ]
    initializers = [_ints("negative", [-d for d in SHAPE])]
    np.testing.assert_array_equal(_weight(tmp_path, nodes, initializers), np.zeros(SHAPE, np.float32))
