"""Closing models: ``Model.close()`` and ``with inspector.load(path) as model:`` release every file a model holds
(HDF5 files, the window onto a ``.keras`` zip, memory maps of ONNX external data), also when loading fails."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.errors import LoadError
from tests.conftest import SAMPLES
from tests.hostile.corpus_keras_zip import rezip
from tests.hostile.keras_build import put, sequential_file

KERAS_ZIP = SAMPLES / "keras" / "k2_lambda_layer.keras"
KERNEL = np.linspace(-1, 1, 4 * 2 * 3 * 3, dtype=np.float32).reshape(4, 2, 3, 3)


def open_files() -> dict[int, str]:
    """This process's open file descriptors and what each points at."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the descriptor listdir itself used, closed by now
            continue
    return found


def external_data_onnx(folder: Path) -> Path:
    """``folder/conv.onnx``: one Conv whose weight ``W`` lives in ``folder/conv.data``; a bias kept inline."""
    weight = numpy_helper.from_array(KERNEL, "W")
    bias = numpy_helper.from_array(np.zeros(4, np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W", "B"], ["y"], pads=[1, 1, 1, 1])],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [weight, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "conv.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="conv.data", size_threshold=128)
    return path


@pytest.fixture()
def models(tmp_path) -> dict[str, Path]:
    """One model of each kind that keeps something open: legacy ``.h5``, ``.keras`` zip, ONNX external data."""
    (tmp_path / "h5").mkdir()
    (tmp_path / "onnx").mkdir()
    return {
        "keras-h5": sequential_file(tmp_path / "h5"),
        "keras": KERAS_ZIP,
        "onnx": external_data_onnx(tmp_path / "onnx"),
    }


def _conv_weight(model: inspector.Model) -> inspector.Weight:
    weight = model.conv_layers[0].weight
    assert weight is not None
    return weight


def test_opening_and_closing_1000_models_leaves_no_file_open(models):
    """Each model read (a weight from the file, so HDF5 datasets and memory maps are touched), then closed: the
    count of open descriptors returns to where it started while every model object is still alive, so it is
    ``close()`` that released them, not garbage collection."""
    manager = inspector.get_plugin_manager(load_entry_points=False)
    paths = list(models.values())
    for path in paths:  # first loads import and set up libraries, which may keep descriptors of their own
        inspector.load(path, plugin_manager=manager).close()
    before = open_files()
    kept = []
    for count in range(1000):
        model = inspector.load(paths[count % len(paths)], plugin_manager=manager)
        _conv_weight(model).array  # noqa: B018 (the read is the point)
        model.close()
        kept.append(model)
    after = open_files()
    opened = {fd: target for fd, target in after.items() if before.get(fd) != target}
    assert len(after) == len(before), (
        f"{len(after) - len(before)} left open, such as {sorted(set(opened.values()))[:3]}"
    )


def test_failed_loads_leave_no_file_open(tmp_path):
    """A Keras file refused after its HDF5 file was opened (a bad config, a bad layer, a ``.keras`` whose weights
    are not HDF5) is closed before the error propagates, though the error's traceback outlives the call."""
    manager = inspector.get_plugin_manager(load_entry_points=False)
    broken = []
    for copy in range(21):  # distinct files: HDF5 shares one descriptor between opens of one path
        (tmp_path / str(copy) / "layer").mkdir(parents=True)
        bad_json = sequential_file(tmp_path / str(copy))
        with h5py.File(bad_json, "a") as handle:
            handle.attrs["model_config"] = "{not json"
        bad_layer = sequential_file(tmp_path / str(copy) / "layer", put("conv", "groups", "x"))
        bad_zip = rezip(KERAS_ZIP, tmp_path / str(copy) / "model.keras", {"model.weights.h5": b"not HDF5"})
        broken.append((bad_json, bad_layer, bad_zip))
    for path in broken.pop():  # the first loads set up libraries, which may keep descriptors of their own
        with pytest.raises(LoadError):
            inspector.load(path, plugin_manager=manager)
    before = open_files()
    errors = []
    for paths in broken:
        for path in paths:
            with pytest.raises(LoadError) as raised:
                inspector.load(path, plugin_manager=manager)
            errors.append(raised.value)  # each keeps its traceback, whose frames hold what the loader opened
    assert len(open_files()) == len(before)


@pytest.mark.parametrize("kind", ["keras-h5", "keras", "onnx"])
def test_with_block_closes_the_model(models, kind):
    """Inside ``with``, weights read; after it, those read stay valid and those not read raise ``LoadError``."""
    with inspector.load(models[kind]) as model:
        weight = _conv_weight(model)
        canonical = weight.array.copy()
        native = weight.native
    assert not any(str(models[kind]) == target for target in open_files().values())
    assert np.array_equal(weight.array, canonical)
    assert np.array_equal(weight.native, native)
    unread = [w for layer in model.layers for w in layer.weights.values() if w is not weight]
    assert unread, "the model needs a second weight, left unread"
    with pytest.raises(LoadError, match="closed"):
        unread[0].array  # noqa: B018
    model.close()  # closing again does nothing more


def test_onnx_arrays_read_before_close_no_longer_map_the_file(models):
    """An array memory-mapped from external data is copied at close: the data file is no longer open, and the
    array the model hands out keeps its values."""
    model = inspector.load(models["onnx"])
    weight = _conv_weight(model)
    assert np.array_equal(weight.array, KERNEL)
    data = str(models["onnx"].parent / "conv.data")
    assert data in open_files().values()  # mapped while the model is open
    model.close()
    assert data not in open_files().values()
    assert np.array_equal(weight.array, KERNEL) and not weight.array.flags.writeable
    assert np.array_equal(model.conv_layers[0].filter(1), KERNEL[1])


def test_closing_one_model_leaves_another_of_the_same_file_readable(models):
    """HDF5 shares one open file between two opens of a path: closing one model must not close the other's."""
    first = inspector.load(models["keras-h5"])
    second = inspector.load(models["keras-h5"])
    first.close()
    assert np.array_equal(_conv_weight(second).array, np.moveaxis(_conv_weight(second).native, (-1, -2), (0, 1)))
    second.close()


def test_closed_error_names_the_file_and_the_weight(models):
    model = inspector.load(models["keras-h5"])
    model.close()
    with pytest.raises(LoadError, match=r"model\.h5: weight .*kernel.* not read before the model was closed"):
        _conv_weight(model).array  # noqa: B018


def test_a_model_without_resources_closes_the_same_way():
    """An ONNX model with inline weights holds no file, yet closes the same way: unread weights are refused."""
    with inspector.load(SAMPLES / "grouped.onnx") as model:
        weight = model.conv_layers[0].weights["W"].array
    assert weight.shape[0] == model.conv_layers[0].out_channels
    with pytest.raises(LoadError, match="closed"):
        model.conv_layers[0].weights["B"].native  # noqa: B018
