"""The Keras plugin's validation hook: a Keras conv runs alone in onnxruntime, as the one-node model of its
canonical weights and explicit pads (a Keras model cannot run whole without TensorFlow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from inspector.hookspecs import hookimpl
from inspector.model.common import ConvLayer, Model
from inspector.validation.captured import LayerRun

if TYPE_CHECKING:
    from inspector.validation.runtime import RuntimeSettings

KERAS_FORMATS = ("keras", "keras-h5")


@hookimpl(trylast=True)
def run_layer(model: Model, layer: ConvLayer, x: np.ndarray, runtime: RuntimeSettings) -> LayerRun | None:
    """A conv of a Keras model run alone."""
    if model.format not in KERAS_FORMATS:
        return None
    from inspector.validation.standalone import run_standalone  # onnxruntime only when validating

    return run_standalone(layer, x, runtime)
