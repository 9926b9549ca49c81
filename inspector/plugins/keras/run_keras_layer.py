"""The Keras plugin's validation hook: a Keras conv runs alone in onnxruntime, as the one-node model of its
canonical weights and explicit pads (a Keras model cannot run whole without TensorFlow).

A Keras config's integers are JSON's, of any size; ONNX attributes are 64-bit.  A layer whose kernel, strides,
dilations, pads, groups or output padding do not fit cannot become an ONNX node: it is not run (the parameter
checks have said what is wrong with it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from inspector.hookspecs import hookimpl
from inspector.model.common import ConvLayer, Model
from inspector.validation.captured import LayerRun

if TYPE_CHECKING:
    from inspector.validation.runtime import RuntimeSettings

KERAS_FORMATS = ("keras", "keras-h5")
INT64 = range(-(2**63), 2**63)


def _attributes(layer: ConvLayer) -> list[int]:
    """Every integer the layer's ONNX node would carry."""
    lists = (layer.kernel_shape, layer.strides, layer.dilations, layer.pads, layer.output_padding)
    return [layer.groups, *(value for values in lists for value in values or ())]


@hookimpl(trylast=True)
def run_layer(model: Model, layer: ConvLayer, x: np.ndarray, runtime: RuntimeSettings) -> LayerRun | None:
    """A conv of a Keras model run alone."""
    if model.format not in KERAS_FORMATS:
        return None
    from inspector.validation.standalone import NotExportable, run_standalone  # onnxruntime only when validating

    if not all(value in INT64 for value in _attributes(layer)):
        raise NotExportable("an attribute (kernel, strides, dilations, pads or groups) is past ONNX's 64-bit integers")
    return run_standalone(layer, x, runtime)
