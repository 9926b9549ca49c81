"""Small Keras files for the hostile corpus: a legacy ``.h5`` whose config, records or datasets are changed."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from tests.test_keras_files import conv_config, shared_conv_model, write_legacy_h5

Edit = Callable[[dict], object]
"""Changes a model config in place (its return value is ignored)."""


def sequential_config() -> dict:
    """Conv2D → MaxPooling2D → Flatten → Dense on 8×8×2 inputs (Keras 2 Sequential)."""
    layers = [
        {"class_name": "InputLayer", "config": {"name": "image", "batch_input_shape": [None, 8, 8, 2]}},
        conv_config("conv", 4),
        {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2, 2], "strides": [2, 2]}},
        {"class_name": "Flatten", "config": {"name": "flat"}},
        {"class_name": "Dense", "config": {"name": "head", "units": 3}},
    ]
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}


def sequential_weights() -> dict[str, dict[str, np.ndarray]]:
    """Weights of ``sequential_config``: distinct values, so no filter is dead or a duplicate."""
    kernel = np.linspace(-1, 1, 3 * 3 * 2 * 4, dtype=np.float32).reshape(3, 3, 2, 4)
    dense = np.linspace(-1, 1, 64 * 3, dtype=np.float32).reshape(64, 3)
    return {
        "conv": {"kernel": kernel, "bias": np.zeros(4, np.float32)},
        "pool": {},
        "flat": {},
        "head": {"kernel": dense, "bias": np.zeros(3, np.float32)},
    }


def sequential_file(folder: Path, edit: Edit | None = None) -> Path:
    """``folder/model.h5`` holding ``sequential_config`` after ``edit``."""
    config = copy.deepcopy(sequential_config())
    if edit is not None:
        edit(config)
    return write_legacy_h5(folder / "model.h5", config, sequential_weights())


def functional_file(folder: Path, edit: Edit | None = None) -> Path:
    """``folder/model.h5``: one Conv2D shared by two inputs, then Add (Keras 2 Functional), config after ``edit``."""
    path = shared_conv_model(folder / "model.h5")
    if edit is not None:
        with h5py.File(path, "a") as handle:
            config = json.loads(handle.attrs["model_config"])
            edit(config)
            handle.attrs["model_config"] = json.dumps(config)
    return path


def layer(config: dict, name: str) -> dict:
    """The entry of layer ``name`` in a model config."""
    entries = config["config"]["layers"]
    return next(e for e in entries if (e.get("name") or e.get("config", {}).get("name")) == name)


def put(name: str, key: str, value: object) -> Edit:
    """An edit setting ``key`` of layer ``name``'s config to ``value``."""
    return lambda config: layer(config, name)["config"].__setitem__(key, value)


def replace(name: str, key: str, value: object) -> Edit:
    """An edit setting ``key`` of layer ``name``'s entry itself (``class_name``, ``inbound_nodes``…)."""
    return lambda config: layer(config, name).__setitem__(key, value)
