"""A conv layer of the common model as a one-node ONNX model, for onnxruntime to run on its own.

The model is built from what the common model says about the layer, whatever file it came from: the
canonical weight (``(O, I/g, *k)``, or ``(I, O/g, *k)`` for a transposed conv), the bias, explicit pads,
strides, dilations, groups and output padding.  So a Keras layer, or an ONNX conv inside an ``If`` body,
runs in onnxruntime exactly as the tool understood it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import helper, numpy_helper

from inspector.errors import ValidationError
from inspector.model.common import ConvLayer
from inspector.model.input_shapes import DEFAULT_BATCH, is_fixed
from inspector.validation.captured import LayerRun

if TYPE_CHECKING:
    from inspector.validation.runtime import RuntimeSettings

IR_VERSION = 8
"""onnx >= 1.23 writes IR version 14 by default, which onnxruntime refuses."""
OPSET = 17
BFLOAT16_OPSET = 22
"""Conv takes bfloat16 from opset 22 on."""
INPUT, OUTPUT = "x", "y"


class NotExportable(ValidationError):
    """The common model lacks something a standalone layer needs; the message says what."""


@dataclass(frozen=True, slots=True)
class StandaloneShape:
    """The input shape a layer runs at on its own; ``made_up`` when a spatial size is a placeholder."""

    dims: tuple[int, ...]
    made_up: bool


def standalone_input_shape(layer: ConvLayer) -> StandaloneShape:
    """The layer's channels-first input shape, with a batch of 1 where the batch is not a number.

    A dim the file does not fix (after a Keras ``Lambda`` layer, or a size left open) is made up: the channels
    from the layer, a spatial size the dilated kernel fits with a stride to spare, at least 8.
    """
    if layer.strides is None or layer.dilations is None:
        raise NotExportable("the file does not record its strides and dilations")
    shape = layer.input_shape or ("N", layer.in_channels, *("?",) * layer.rank)
    if len(shape) != layer.rank + 2:
        raise NotExportable(f"its input shape {list(shape)} does not fit a {layer.rank}-D conv")
    fitting = [
        max(8, (k - 1) * d + 1 + s) for k, s, d in zip(layer.kernel_shape, layer.strides, layer.dilations, strict=True)
    ]
    batch = shape[0] if is_fixed(shape[0]) else DEFAULT_BATCH
    channels = shape[1] if is_fixed(shape[1]) else layer.in_channels
    spatial = [d if is_fixed(d) else made_up for d, made_up in zip(shape[2:], fitting, strict=True)]
    return StandaloneShape((batch, channels, *spatial), not all(is_fixed(d) for d in shape[2:]))  # type: ignore[arg-type]


def run_standalone(layer: ConvLayer, x: np.ndarray, runtime: RuntimeSettings) -> LayerRun:
    """``layer`` alone, as the one-node model of :func:`conv_layer_model`, run by onnxruntime on ``x``.

    What the ONNX and Keras plugins' ``run_layer`` hooks do; a third-party format's plugin can do it too.  Raises
    ``NotExportable`` or ``RuntimeRefusal``.
    """
    from inspector.validation.runtime import create_session, run_placed  # onnxruntime only when validating

    session = create_session(conv_layer_model(layer, tuple(x.shape)), settings=runtime)
    (output,), placement = run_placed(session, [OUTPUT], {INPUT: x})
    return LayerRun(output=output, providers=placement.of(layer.name, OUTPUT))


def conv_layer_model(layer: ConvLayer, input_shape: tuple[int, ...] | None = None) -> onnx.ModelProto:
    """A model computing ``layer`` alone: input ``x`` of ``input_shape`` (default :func:`standalone_input_shape`),
    output ``y``."""
    if layer.quantized:
        raise NotExportable("it is quantized, and the common model holds no scales or zero points to run it with")
    if layer.weight is None:
        raise NotExportable("its weight is computed while the model runs, not stored")
    if layer.strides is None or layer.dilations is None or layer.pads is None:
        raise NotExportable("the file does not record its strides, dilations or padding (a weights-only file?)")
    weight = layer.weight.array
    elem_type = helper.np_dtype_to_tensor_dtype(weight.dtype)
    initializers = [numpy_helper.from_array(weight, "W")]
    inputs = [INPUT, "W"]
    if layer.bias is not None:
        initializers.append(numpy_helper.from_array(layer.bias.array.astype(weight.dtype), "B"))
        inputs.append("B")
    attributes = {
        "kernel_shape": list(layer.kernel_shape),
        "strides": list(layer.strides),
        "dilations": list(layer.dilations),
        "pads": list(layer.pads),
        "group": layer.groups,
    }
    if layer.kind == "conv_transpose":
        attributes["output_padding"] = list(layer.output_padding or (0,) * layer.rank)
    op = "ConvTranspose" if layer.kind == "conv_transpose" else "Conv"
    graph = helper.make_graph(
        [helper.make_node(op, inputs, [OUTPUT], name=layer.name, **attributes)],
        "standalone_layer",
        [helper.make_tensor_value_info(INPUT, elem_type, list(input_shape or standalone_input_shape(layer).dims))],
        [helper.make_tensor_value_info(OUTPUT, elem_type, None)],
        initializer=initializers,
    )
    opset = BFLOAT16_OPSET if weight.dtype.name == "bfloat16" else OPSET
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = IR_VERSION
    return model
