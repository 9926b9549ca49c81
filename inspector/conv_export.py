"""A conv layer of the common model as a one-node ONNX model, for onnxruntime to run on its own.

The model is built from what the common model says about the layer, whatever file it came from: the
canonical weight (``(O, I/g, *k)``, or ``(I, O/g, *k)`` for a transposed conv), the bias, explicit pads,
strides, dilations, groups and output padding.  So a Keras layer, or an ONNX conv inside an ``If`` body,
runs in onnxruntime exactly as the tool understood it.
"""

from __future__ import annotations

import onnx
from onnx import helper, numpy_helper

from inspector.errors import ValidationError
from inspector.model import ConvLayer

IR_VERSION = 8
"""onnx >= 1.23 writes IR version 14 by default, which onnxruntime refuses."""
OPSET = 17
INPUT, OUTPUT = "x", "y"


class NotExportable(ValidationError):
    """The common model lacks something a standalone layer needs; the message says what."""


def standalone_input_shape(layer: ConvLayer) -> tuple[int, ...]:
    """The layer's channels-first input shape with a batch of 1 where the batch is not a number."""
    shape = layer.input_shape
    if shape is None or len(shape) != layer.rank + 2:
        raise NotExportable("its input shape is unknown")
    batch = shape[0] if isinstance(shape[0], int) else 1
    rest = shape[1:]
    if not all(isinstance(d, int) for d in rest):
        raise NotExportable(f"its input shape {list(shape)} has unknown dims")
    return (batch, *rest)  # type: ignore[return-value]


def conv_layer_model(layer: ConvLayer) -> onnx.ModelProto:
    """A model computing ``layer`` alone: input ``x`` of :func:`standalone_input_shape`, output ``y``."""
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
        [helper.make_tensor_value_info(INPUT, elem_type, list(standalone_input_shape(layer)))],
        [helper.make_tensor_value_info(OUTPUT, elem_type, None)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model
