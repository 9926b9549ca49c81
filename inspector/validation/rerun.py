"""Re-running one conv layer with the NumPy engine on the operands onnxruntime saw.

Float layers (``Conv``, ``ConvTranspose``, and every Keras conv) give the engine's result summed in float64,
its error scale ``conv(|x|, |w|) + |b|`` summed in float32 (float64 for float64 layers) and the number of
terms each output element sums (:mod:`inspector.validation.rounding` turns these into the default tolerance).

Quantized layers (integer data) are compared exactly, in integers.  Without a ``y_scale`` (``ConvInteger``) the
result is the engine's exact int32 convolution.  With one (``QLinearConv``) the comparison is on its requantized
output, the one tensor onnxruntime makes visible (its int32 accumulator never leaves the kernel): the engine forms
the exact accumulator ``conv_integer(x, w, x_zero_point, w_zero_point) + bias`` and requantizes it as the operator
specifies, with the float32 multiplier ``x_scale * w_scale / y_scale`` per output channel, rounding half to even,
adding ``y_zero_point`` and saturating to the output type.  That arithmetic is onnxruntime's too, so any difference
of even 1 is a real disagreement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.engine import footprint, numpy_conv
from inspector.errors import ConvolutionError
from inspector.model.common import ConvLayer
from inspector.model.padding import conv_pads, conv_transpose_pads


@dataclass(frozen=True, slots=True)
class Rerun:
    """The engine's output of a layer and, for float layers, its error scale and the terms each element sums
    (``magnitude`` ``None``: compare exactly)."""

    expected: np.ndarray
    magnitude: np.ndarray | None = None
    terms: int = 0
    filters: np.ndarray | None = None
    """Each output channel's filter as one row (float layers), for the rounding bound's checks."""


def geometry(layer: ConvLayer, x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> dict[str, Any]:
    """Engine keyword arguments of ``layer``; pads left open by ``auto_pad`` come from the runtime shapes.

    Raises ``ConvolutionError`` for attributes no conv of these shapes can have (checked before pads are derived).
    """
    if layer.strides is None or layer.dilations is None:
        raise ConvolutionError(f"layer {layer.name}: the file does not record its strides or dilations")
    op = "ConvTranspose" if layer.kind == "conv_transpose" else "Conv"
    kernel = (1, 1, *layer.kernel_shape)  # only its rank is checked against the input's
    attributes = {"strides": layer.strides, "dilations": layer.dilations, "pads": layer.pads}
    attributes["output_padding"] = layer.output_padding if layer.kind == "conv_transpose" else None
    footprint.check_geometry(op, x_shape, kernel, groups=layer.groups, **attributes)
    pads = layer.pads
    if pads is None and layer.kind == "conv":
        pads = conv_pads(layer.auto_pad, x_shape[2:], layer.kernel_shape, layer.strides, layer.dilations)
    elif pads is None:
        output_padding = layer.output_padding or (0,) * layer.rank
        pads = conv_transpose_pads(
            layer.auto_pad, x_shape[2:], layer.kernel_shape, layer.strides, layer.dilations, output_padding, y_shape[2:]
        )
    arguments: dict[str, Any] = {
        "strides": layer.strides,
        "dilations": layer.dilations,
        "pads": pads,
        "groups": layer.groups,
    }
    if layer.kind == "conv_transpose":
        arguments["output_padding"] = layer.output_padding
        recorded = _recorded_output_size(layer, x_shape)
        if recorded is not None:
            arguments["output_shape"] = recorded
    return arguments


def _recorded_output_size(layer: ConvLayer, x_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """A transposed conv's spatial output size as the model records it (its ``output_shape`` attribute may ask for
    more than the natural size), when the layer ran at its recorded input size."""
    recorded_in, recorded_out = layer.input_shape, layer.output_shape
    if recorded_in is None or recorded_out is None or tuple(recorded_in[2:]) != tuple(x_shape[2:]):
        return None
    spatial = tuple(recorded_out[2:])
    return spatial if all(isinstance(d, int) and d > 0 for d in spatial) else None  # type: ignore[return-value]


def rerun(layer: ConvLayer, operands: Mapping[str, np.ndarray | None], y_shape: tuple[int, ...]) -> Rerun:
    """The engine's result for ``layer`` from ``operands`` by role (:class:`inspector.validation.captured.Captured`).

    Integer data is a quantized conv: requantized to the output type when a ``y_scale`` is given, else the exact
    int32 accumulator (with ``x_zero_point``/``w_zero_point`` subtracted).
    """
    x = operands["x"]
    assert x is not None
    arguments = geometry(layer, x.shape, y_shape)
    if operands.get("y_scale") is not None:
        return Rerun(_requantized_conv(operands, arguments))
    if x.dtype.kind in "iu":
        expected = numpy_conv.conv_integer(
            x, operands["w"], operands.get("x_zero_point"), operands.get("w_zero_point"), **arguments
        )
        return Rerun(expected)
    w, b = operands["w"], operands.get("b")
    assert w is not None
    if layer.kind == "conv_transpose":
        function, magnitude = numpy_conv.conv_transpose, numpy_conv.conv_transpose_magnitude
        per_group = w.reshape(layer.groups, w.shape[0] // layer.groups, w.shape[1], -1)
        filters = per_group.transpose(0, 2, 1, 3).reshape(layer.groups * w.shape[1], -1)
    else:
        arguments.pop("output_padding", None)
        function, magnitude = numpy_conv.conv, numpy_conv.conv_magnitude
        filters = w.reshape(w.shape[0], -1)
    magnitude_dtype = np.float64 if x.dtype == np.float64 else np.float32
    return Rerun(
        function(x, w, b, accumulate=np.float64, **arguments),
        magnitude(x, w, b, accumulate=magnitude_dtype, **arguments),
        filters.shape[1] + (b is not None),
        filters,
    )


def rerun_bytes(
    layer: ConvLayer,
    x_shape: tuple[int, ...],
    x_dtype: np.dtype,
    w_shape: tuple[int, ...],
    w_dtype: np.dtype,
    y_shape: tuple[int, ...],
) -> int:
    """Bytes :func:`rerun` and the comparison after it hold at once beyond the operands, from the shapes alone
    (:mod:`inspector.engine.footprint`); raises ``ConvolutionError`` for geometry the engine cannot take."""
    if not len(x_shape) == len(w_shape) == len(y_shape):
        raise ConvolutionError(
            f"layer {layer.name}: input {list(x_shape)}, weight {list(w_shape)} and output "
            f"{list(y_shape)} are not of one rank"
        )
    arguments = geometry(layer, x_shape, y_shape)
    rank = len(x_shape) - 2
    window = {key: arguments[key] for key in ("strides", "dilations", "pads")}
    common = {**window, "groups": arguments["groups"]}
    x_count, w_count = math.prod(x_shape), math.prod(w_shape)
    wide = np.dtype(np.float64)
    if np.dtype(x_dtype).kind in "iu":  # exact integer sums in float64, then int64/int32/float32 requantizing
        y_count = math.prod(footprint.conv_output(x_shape, w_shape, **window))
        conv = footprint.conv_bytes(x_shape, w_shape, **common, x_dtype=wide, w_dtype=wide, accumulate=wide)
        return (x_count + w_count) * 8 + conv + y_count * 32
    x_size, w_size = np.dtype(x_dtype).itemsize, np.dtype(w_dtype).itemsize
    scale = wide if np.dtype(x_dtype) == wide else np.dtype(np.float32)
    if layer.kind == "conv_transpose":
        padding = arguments.get("output_padding") or (0,) * rank
        extra = {**common, "output_padding": padding, "output_shape": arguments.get("output_shape")}
        y_count = math.prod(footprint.conv_transpose_output(x_shape, w_shape, **extra))
        expected = footprint.conv_transpose_bytes(x_shape, w_shape, wide, **extra)
        magnitude = footprint.conv_transpose_bytes(x_shape, w_shape, scale, **extra)
        copies = x_count * x_size + 2 * w_count * w_size  # |x|, |w|, and the filters regrouped as rows
    else:
        y_count = math.prod(footprint.conv_output(x_shape, w_shape, **window))
        expected = footprint.conv_bytes(x_shape, w_shape, **common, x_dtype=x_dtype, w_dtype=w_dtype, accumulate=wide)
        magnitude = footprint.conv_bytes(
            x_shape, w_shape, **common, x_dtype=x_dtype, w_dtype=w_dtype, accumulate=scale, absolute=True
        )
        copies = x_count * x_size  # |x|
    repeats = 2 * w_count * w_size  # the sampled |filters| and their sort (rounding.weights_repeat)
    return max(expected, y_count * wide.itemsize + copies + magnitude) + repeats


def _requantized_conv(operands: Mapping[str, np.ndarray | None], arguments: dict[str, Any]) -> np.ndarray:
    """A quantized conv's output from the exact integer accumulator, requantized as ONNX's ``QLinearConv``
    specifies."""
    x, w = operands["x"], operands["w"]
    x_zero, w_zero, y_zero = operands["x_zero_point"], operands.get("w_zero_point"), operands["y_zero_point"]
    assert x is not None and w is not None and y_zero is not None
    accumulator = numpy_conv.conv_integer(x, w, x_zero, w_zero, **arguments).astype(np.int64)
    channel_axis = (1, -1) + (1,) * (accumulator.ndim - 2)
    bias = operands.get("b")
    if bias is not None:
        accumulator += bias.astype(np.int64).reshape(channel_axis)
    scale = np.float32(np.asarray(operands["x_scale"]).reshape(())) * np.asarray(operands["w_scale"], np.float32)
    multiplier = (scale / np.float32(np.asarray(operands["y_scale"]).reshape(()))).astype(np.float32)
    value = np.rint(accumulator.astype(np.float32) * multiplier.reshape(channel_axis if multiplier.size > 1 else ()))
    limits = np.iinfo(y_zero.dtype)
    return np.clip(value + np.float32(y_zero.reshape(())), limits.min, limits.max).astype(y_zero.dtype)
