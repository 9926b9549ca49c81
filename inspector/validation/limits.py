"""Validation's memory limit, ``--max-capture-mb`` (default 256 MiB): every array a run makes is sized first.

A model file decides the shapes validation works on, so each one is sized in Python integers before anything is
allocated, and a run that would pass the limit stops with one line naming the file, the tensor, its size and the
flag (``ValidationError``, exit 2).  Three things count against the limit, each on its own:

- the model's inputs, together, as they are fed (a float32 input as float32: random floats are drawn a block at
  a time, :mod:`inspector.validation.inputs`);
- one conv layer's input and output, together, as onnxruntime hands them back (a capture run fetches at most the
  limit of them, more runs when needed);
- the engine's recomputation of one layer and its comparison (:func:`inspector.validation.rerun.rerun_bytes`:
  the float64 result, the padded input, ``|x|``, the error scale and the engine's workspace), against
  ``RECOMPUTATION_FACTOR`` (2) times the limit.

Layers whose shapes the file declares are checked before onnxruntime runs the model, the others as soon as it has
computed them (before the engine allocates anything); a layer run standalone before its random input is drawn.  A
run holds at once the inputs, one capture run's tensors and those of two layers of earlier runs, and the
recomputation of ``RERUN_THREADS`` (2) layers: at most 8 times the limit beyond onnxruntime's own memory
(the model's weights and its intermediate tensors).  A weight NumPy could not hold (a shape ``[0, 3, 2**62,
2**62]``) is refused the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from inspector.engine import footprint
from inspector.errors import ConvolutionError, ValidationError
from inspector.model.budget import MIB, check_allocation, size_text
from inspector.model.common import ConvLayer, Shape
from inspector.validation.rerun import rerun_bytes

FLAG = "--max-capture-mb"
RECOMPUTATION_FACTOR = 2
"""The engine's recomputation of a layer may take this many times the limit: its float64 result alone is twice the
float32 output a capture holds (a real speech model's 128×901×161 conv needs 378 MiB to recompute, 71 MiB to
capture)."""


def dtype_of(name: str) -> np.dtype:
    """The NumPy dtype called ``name`` (bfloat16, which NumPy does not know, as its 2-byte stand-in)."""
    try:
        return np.dtype(name)
    except TypeError:
        return np.dtype(np.float16)


def check_inputs(path: str, inputs: Mapping[str, tuple[Sequence[int], np.dtype]], limit_mb: float) -> None:
    """Refuse model inputs (name → shape and dtype) that pass ``limit_mb`` MiB, one or together."""
    total = 0
    for name, (shape, dtype) in inputs.items():
        what = f"{path}: validation input {name!r} ({np.dtype(dtype).name})"
        total += check_allocation(what, shape, np.dtype(dtype).itemsize, limit_mb, FLAG, ValidationError)
    if total > limit_mb * MIB:
        raise ValidationError(
            f"{path}: the validation inputs ({', '.join(inputs)}) need {size_text(total)} together, past the limit "
            f"of {size_text(int(limit_mb * MIB))} ({FLAG} raises it)"
        )


def check_declared(path: str, layers: Sequence[ConvLayer], symbols: Mapping[str, int], limit_mb: float) -> None:
    """Refuse, before onnxruntime runs the model, a layer whose weight NumPy could not hold or whose sizes as the
    file declares them (named dims sized by ``symbols``) pass ``limit_mb`` MiB."""
    for layer in layers:
        check_weight(path, layer)
        shapes = declared_shapes(layer, symbols)
        if shapes is not None:
            x_dtype, y_dtype = _data_dtypes(layer)
            weight = None if layer.weight is None else (layer.weight.shape, dtype_of(layer.weight.dtype))
            check_layer(path, layer, (shapes[0], x_dtype), (shapes[1], y_dtype), weight, limit_mb)


def _data_dtypes(layer: ConvLayer) -> tuple[np.dtype, np.dtype]:
    """The dtypes of a layer's input and output as the file suggests (a quantized conv's: uint8 and int32)."""
    if layer.quantized:
        return np.dtype(np.uint8), np.dtype(np.int32)
    dtype = np.dtype(np.float32) if layer.weight is None else dtype_of(layer.weight.dtype)
    return dtype, dtype


def declared_shapes(layer: ConvLayer, symbols: Mapping[str, int]) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The layer's input and output shapes as the file declares them (named dims sized by ``symbols``), or ``None``
    when a dim is not known before the model runs."""
    shapes = [_sized(layer.input_shape, symbols), _sized(layer.output_shape, symbols)]
    return None if shapes[0] is None or shapes[1] is None else (shapes[0], shapes[1])


def _sized(shape: Shape | None, symbols: Mapping[str, int]) -> tuple[int, ...] | None:
    dims = [symbols.get(d) if isinstance(d, str) else d for d in shape or ()]
    return tuple(dims) if shape is not None and all(isinstance(d, int) for d in dims) else None  # type: ignore[misc]


def standalone_output_shape(layer: ConvLayer, x_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The output shape of the layer run alone on an input of ``x_shape`` (``None``: it cannot run alone, or no
    conv has its geometry, which its run will say)."""
    if layer.weight is None or layer.pads is None or layer.strides is None or layer.dilations is None:
        return None
    geometry = {"strides": layer.strides, "dilations": layer.dilations, "pads": layer.pads}
    padding = layer.output_padding or (0,) * layer.rank
    transposed = {"groups": layer.groups, "output_padding": padding, "output_shape": None}
    try:
        if layer.kind != "conv_transpose":
            return footprint.conv_output(x_shape, layer.weight.shape, **geometry)
        return footprint.conv_transpose_output(x_shape, layer.weight.shape, **geometry, **transposed)
    except ConvolutionError:
        return None


def check_weight(path: str, layer: ConvLayer) -> None:
    """Refuse a layer whose stored weight NumPy could not hold (before it is read)."""
    for weight in (layer.weight, layer.bias):
        if weight is not None:
            what = f"{path}: layer {layer.name!r}: weight {weight.source!r}"
            check_allocation(what, weight.shape, dtype_of(weight.dtype).itemsize, math.inf, FLAG, ValidationError)


def check_layer(
    path: str,
    layer: ConvLayer,
    x: tuple[Sequence[int], np.dtype],
    y: tuple[Sequence[int] | None, np.dtype],
    w: tuple[Sequence[int], np.dtype] | None,
    limit_mb: float,
) -> None:
    """Refuse a layer whose input and output (shape and dtype each; an output shape ``None``: not known) or whose
    recomputation by the engine (with a weight ``w``; ``None``: not known yet) pass ``limit_mb`` MiB.

    Sizes below 0 are left alone: neither onnxruntime nor the engine allocates anything for them (the layer's
    result says why).
    """
    (x_shape, x_dtype), (y_shape, y_dtype) = x, y
    if min((*x_shape, *(y_shape or ())), default=0) < 0:
        return
    what = f"{path}: layer {layer.name!r}"
    limit = limit_mb * MIB
    tensors = [(f"input {layer.inputs[0]!r}", x_shape, x_dtype), (f"output {layer.outputs[0]!r}", y_shape, y_dtype)]
    if y_shape is None:
        tensors.pop()
    held = sum(
        check_allocation(f"{what}: {name}", shape, np.dtype(dtype).itemsize, limit_mb, FLAG, ValidationError)
        for name, shape, dtype in tensors
    )
    shapes = f"input {list(x_shape)}, output {'unknown' if y_shape is None else list(y_shape)}"
    if held > limit:
        raise ValidationError(
            f"{what}: its {shapes} need {size_text(held)} together, past the limit of {size_text(int(limit))} "
            f"({FLAG} raises it)"
        )
    if w is None or y_shape is None:
        return
    try:
        needed = rerun_bytes(layer, tuple(x_shape), np.dtype(x_dtype), tuple(w[0]), np.dtype(w[1]), tuple(y_shape))
    except ConvolutionError:
        return  # the engine refuses the layer before it allocates; the layer's result says why
    if needed > limit * RECOMPUTATION_FACTOR:
        raise ValidationError(
            f"{what}: recomputing it in NumPy ({shapes}) needs {size_text(needed)}, past {RECOMPUTATION_FACTOR} × the "
            f"limit, {size_text(int(limit * RECOMPUTATION_FACTOR))} ({FLAG} raises it)"
        )
