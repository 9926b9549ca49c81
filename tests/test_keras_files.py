"""Keras files built here with h5py and zipfile: content detection, shared layers, and broken files."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import inspector
from inspector.errors import LoadError
from tests.conftest import SAMPLES

KERAS = SAMPLES / "keras"


def conv_config(name: str, filters: int, **extra) -> dict:
    config = {"name": name, "filters": filters, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same"}
    return {"class_name": "Conv2D", "name": name, "config": {**config, **extra}}


def write_legacy_h5(path: Path, config: dict, weights: dict[str, dict[str, np.ndarray]]) -> Path:
    """A Keras 2 style full-model .h5: model_config, model_weights with layer_names and weight_names."""
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = "2.15.0"
        handle.attrs["model_config"] = json.dumps(config)
        group = handle.create_group("model_weights")
        group.attrs["layer_names"] = list(weights)
        for layer, arrays in weights.items():
            layer_group = group.create_group(layer)
            layer_group.attrs["weight_names"] = [f"{layer}/{role}:0" for role in arrays]
            for role, array in arrays.items():
                layer_group[f"{layer}/{role}:0"] = array
    return path


def shared_conv_model(path: Path) -> Path:
    """One Conv2D called on two inputs (Keras 2 functional format), then added."""
    rng = np.random.default_rng(0)
    config = {
        "class_name": "Functional",
        "config": {
            "name": "shared",
            "layers": [
                {"class_name": "InputLayer", "name": "a", "config": {"batch_input_shape": [None, 6, 6, 2]}},
                {"class_name": "InputLayer", "name": "b", "config": {"batch_input_shape": [None, 6, 6, 2]}},
                {**conv_config("conv", 4), "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]},
                {
                    "class_name": "Add",
                    "name": "add",
                    "config": {"name": "add"},
                    "inbound_nodes": [[["conv", 0, 0, {}], ["conv", 1, 0, {}]]],
                },
            ],
            "input_layers": [["a", 0, 0], ["b", 0, 0]],
            "output_layers": [["add", 0, 0]],
        },
    }
    kernel = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)
    weights = {"a": {}, "b": {}, "conv": {"kernel": kernel, "bias": np.zeros(4, np.float32)}, "add": {}}
    return write_legacy_h5(path, config, weights)


def test_a_shared_layer_is_listed_per_call_and_counted_once(tmp_path):
    model = inspector.load(shared_conv_model(tmp_path / "shared.h5"))
    assert [layer.name for layer in model.layers] == ["conv", "conv@1", "add"]
    assert model["conv@1"].inputs == ("b",) and model["add"].inputs == ("conv", "conv:1:0")
    assert model.total_params == 3 * 3 * 2 * 4 + 4
    assert model["add"].output_shape == ("N", 4, 6, 6)


@pytest.mark.parametrize("source", ["k2_nested.h5", "k3_nested.keras", "k3_nested.weights.h5"])
def test_the_format_is_detected_by_content_not_suffix(tmp_path, source):
    renamed = tmp_path / "model.bin"
    shutil.copy(KERAS / source, renamed)
    expected = inspector.load(KERAS / source)
    model = inspector.load(renamed)
    assert model.format == expected.format and model.total_params == expected.total_params == 625


def test_a_keras_suffix_on_other_bytes_is_a_load_error(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"not a model at all")
    with pytest.raises(LoadError, match=r"model\.h5: not a Keras file"):
        inspector.load(path)


def test_an_hdf5_file_without_keras_records_is_refused(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as handle:
        handle["x"] = np.zeros(3)
    with pytest.raises(LoadError, match="not a Keras file"):
        inspector.load(path)


def test_layer_names_naming_a_missing_group_is_a_load_error(tmp_path):
    path = shared_conv_model(tmp_path / "m.h5")
    with h5py.File(path, "a") as handle:
        handle["model_weights"].attrs["layer_names"] = ["a", "b", "conv", "add", "ghost"]
    with pytest.raises(LoadError, match="layer_names lists 'ghost', but there is no such group"):
        inspector.load(path)


def test_malformed_model_config_names_the_file(tmp_path):
    path = shared_conv_model(tmp_path / "m.h5")
    with h5py.File(path, "a") as handle:
        handle.attrs["model_config"] = "{not json"
    with pytest.raises(LoadError, match=r"m\.h5: root attribute model_config is not valid JSON"):
        inspector.load(path)


def test_a_kernel_that_contradicts_the_layer_rank_is_a_load_error(tmp_path):
    path = shared_conv_model(tmp_path / "m.h5")
    with h5py.File(path, "a") as handle:
        del handle["model_weights/conv/conv/kernel:0"]
        handle["model_weights/conv/conv/kernel:0"] = np.zeros((3, 2, 4), np.float32)
    with pytest.raises(LoadError, match=r"layer 'conv' \(Conv2D\): kernel has shape \(3, 2, 4\)"):
        inspector.load(path)


def test_a_keras_zip_reads_stored_and_compressed_weights_alike(tmp_path):
    with np.load(KERAS / "k2_conv2d_family.reference.npz", allow_pickle=False) as reference:
        expected = reference["weight:dense_out/kernel"]
    model = inspector.load(KERAS / "k2_conv2d_family.keras")  # stored: read through a window onto the zip
    assert model["dense_out"].weight.source == "/layers/dense/vars/0"
    np.testing.assert_array_equal(model["dense_out"].weight.native, expected)
    compressed = tmp_path / "compressed.keras"
    with (
        zipfile.ZipFile(KERAS / "k2_conv2d_family.keras") as source,
        zipfile.ZipFile(compressed, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    np.testing.assert_array_equal(inspector.load(compressed)["dense_out"].weight.native, expected)


def test_a_keras_zip_without_weights_is_a_load_error(tmp_path):
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))
    with pytest.raises(LoadError, match=r"has no model\.weights\.h5"):
        inspector.load(path)
