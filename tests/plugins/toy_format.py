"""A third-party format invented for the tests: a ``.toyconv`` JSON file holding one 2-D conv and its weights.

It implements ``load_model`` and ``run_layer``, as any format's plugin would; validation runs its model with no
change to the core.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import inspector
from inspector.model.common import ConvLayer, Model, TensorInfo, Weight
from inspector.validation.standalone import run_standalone

SUFFIX = ".toyconv"


def write(path: Path, weight: np.ndarray, bias: np.ndarray, size: int) -> Path:
    """A toy file: one conv (weight ``O×I×k×k``, padding 1) on a ``1×I×size×size`` input."""
    path.write_text(json.dumps({"weight": weight.tolist(), "bias": bias.tolist(), "size": size}))
    return path


@inspector.hookimpl
def load_model(path, options):
    if path.suffix != SUFFIX:
        return None
    stored = json.loads(path.read_text())
    weight = np.asarray(stored["weight"], np.float32)
    bias = np.asarray(stored["bias"], np.float32)
    out_channels, in_channels, kernel, _ = weight.shape
    size = stored["size"]
    weights = {
        "W": Weight(role="W", source="weight", native_shape=weight.shape, native_layout="OIHW", dtype="float32",
                    read_native=lambda: weight),
        "B": Weight(role="B", source="bias", native_shape=bias.shape, native_layout="O", dtype="float32",
                    read_native=lambda: bias),
    }  # fmt: skip
    layer = ConvLayer(
        name="toy_conv",
        kind="conv",
        source_op="ToyConv",
        inputs=("image",),
        outputs=("features",),
        input_shape=(1, in_channels, size, size),
        output_shape=(1, out_channels, size, size),
        weights=weights,
        rank=2,
        in_channels=in_channels,
        out_channels=out_channels,
        groups=1,
        kernel_shape=(kernel, kernel),
        strides=(1, 1),
        dilations=(1, 1),
        pads=(1, 1, 1, 1),
        weight=weights["W"],
        bias=weights["B"],
    )
    image = TensorInfo(name="image", shape=(1, in_channels, size, size), dtype="float32")
    features = TensorInfo(name="features", shape=(1, out_channels, size, size), dtype="float32")
    return Model(
        path=str(path), format="toyconv", producer="toy", inputs=(image,), outputs=(features,), layers=(layer,)
    )


@inspector.hookimpl
def run_layer(model, layer, x, runtime):
    if model.format != "toyconv":
        return None
    return run_standalone(layer, x, runtime)
