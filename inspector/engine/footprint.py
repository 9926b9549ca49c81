"""What a call of the NumPy engine allocates, from the shapes alone, in Python integers.

A model file decides the shapes a conv runs on, so whoever runs the engine on a stranger's file sizes the call
first (validation does, :mod:`inspector.validation.limits`): a conv on a 1×3×20000×20000 input must be refused
before a 9 GB float64 buffer is asked for.  Each function follows its engine call step by step and bounds what it
holds at once beyond its operands: the result, the padded input buffer, converted copies, the im2col columns and
GEMM blocks (:func:`inspector.engine.flat_correlation.correlate_bytes`), and ``OBJECT_BYTES`` per Python object it
makes per kernel tap and stride phase, so that a kernel of 2**62 taps is refused even when its weight has no
element.  Arguments the engine refuses (an output size below 1) cost nothing: it raises before allocating.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from inspector.engine.arguments import check_ranks, output_size, require
from inspector.engine.flat_correlation import correlate_bytes
from inspector.engine.numpy_conv import flat_pitch
from inspector.model import invariants

OBJECT_BYTES = 256
"""Bound of the Python objects (ints, tuples, list slots) the engine makes per kernel tap or stride phase."""
CALL_BYTES = 256 << 10
"""Bound of what one call holds whatever its size: NumPy's ufunc buffers (8,192 elements per operand, for outputs
written through strided views), views, index tuples and frames."""


def conv_output(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    *,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
) -> tuple[int, ...]:
    """The output shape of ``numpy_conv.conv`` (``N, O, *out``); an output size below 1 where the engine refuses.

    Raises ``ConvolutionError``, as the engine does, for ranks, strides, dilations or pads no conv can have.
    """
    rank = check_geometry("Conv", x_shape, w_shape, strides=strides, dilations=dilations, pads=pads)
    out = [
        (n + pads[j] + pads[rank + j] - (k - 1) * d - 1) // s + 1
        for j, (n, k, s, d) in enumerate(zip(x_shape[2:], w_shape[2:], strides, dilations, strict=True))
    ]
    return (int(x_shape[0]), int(w_shape[0]), *out)


def check_geometry(op: str, x_shape: Sequence[int], w_shape: Sequence[int], *, groups: int = 1, **geometry: Any) -> int:
    """The spatial rank of ``x_shape``, once the engine's checks of the ranks, the groups and ``geometry``
    (strides, dilations, pads; ``None`` is not checked) pass: ``ConvolutionError`` otherwise."""
    check_ranks(op, x_shape, w_shape)
    rank = len(x_shape) - 2
    bad_groups = invariants.group_count(groups)
    require(op, [bad_groups] if bad_groups else [])
    require(op, invariants.geometry_violations(rank, **geometry))
    return rank


def conv_bytes(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    *,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
    groups: int,
    x_dtype: DTypeLike,
    w_dtype: DTypeLike,
    accumulate: DTypeLike,
    absolute: bool = False,
) -> int:
    """Bytes ``numpy_conv.conv(x, w, b, accumulate=...)`` holds at once, its result included (``absolute``: the
    ``|w|`` pass of ``conv_magnitude``, after its ``|x|``)."""
    compute = np.dtype(accumulate).itemsize
    check_geometry("Conv", x_shape, w_shape, groups=groups, strides=strides, dilations=dilations, pads=pads)
    y_shape = conv_output(x_shape, w_shape, strides=strides, dilations=dilations, pads=pads)
    if min(y_shape[2:], default=1) < 1:
        return 0
    rank = len(x_shape) - 2
    batch, channels = x_shape[:2]
    padded = [n + pads[j] + pads[rank + j] for j, n in enumerate(x_shape[2:])]
    phase_shape = [-(-p // s) for p, s in zip(padded, strides, strict=True)]
    image = math.prod(strides) * math.prod(phase_shape)
    if all(s == 1 for s in strides) and not any(pads):
        same = np.dtype(x_dtype) == np.dtype(accumulate)
        buffer = 0 if same else channels * image * compute * min(batch, 2)  # a sample's copy, the next one made
    else:
        buffer = channels * image * compute
    taps = math.prod(w_shape[2:])
    weights = (groups, y_shape[1] // groups, channels // groups, taps)
    converted = absolute or np.dtype(w_dtype) != np.dtype(accumulate)
    work = correlate_bytes(channels, weights, y_shape[2:], flat_pitch(phase_shape), compute, converted=converted)
    objects = (taps + math.prod(strides)) * OBJECT_BYTES + CALL_BYTES
    return math.prod(y_shape) * compute + buffer + y_shape[1] * compute + work + objects


def conv_transpose_output(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    *,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
    groups: int,
    output_padding: Sequence[int],
    output_shape: Sequence[int] | None,
) -> tuple[int, ...]:
    """The output shape of ``numpy_conv.conv_transpose`` (``N, O, *out``); raises ``ConvolutionError`` as
    :func:`conv_output` does (for the output padding and a requested output shape too)."""
    rank = check_geometry(
        "ConvTranspose", x_shape, w_shape, strides=strides, dilations=dilations, pads=pads, groups=groups
    )
    require(
        "ConvTranspose",
        invariants.geometry_violations(
            rank, strides=strides, dilations=dilations, pads=None, output_padding=output_padding
        ),
    )
    if output_shape is not None:
        output_size("ConvTranspose", output_shape, rank)
    if output_shape is None:
        output_shape = [
            s * (n - 1) + op + (k - 1) * d + 1 - pads[j] - pads[rank + j]
            for j, (n, k, s, d, op) in enumerate(
                zip(x_shape[2:], w_shape[2:], strides, dilations, output_padding, strict=True)
            )
        ]
    return (int(x_shape[0]), int(w_shape[1]) * groups, *output_shape)


def conv_transpose_bytes(x_shape: Sequence[int], w_shape: Sequence[int], accumulate: DTypeLike, **geometry: Any) -> int:
    """Bytes ``numpy_conv.conv_transpose(x, w, b, accumulate=...)`` holds at once, its result included; ``geometry``
    is :func:`conv_transpose_output`'s keywords.

    Its input buffer holds each axis padded by the taps' shifts: at most ``max(n, ceil(out / s) + (s - 1 + b) // s)
    + ceil((k - 1) * d / s)`` per axis; each output phase is one correlation over at most ``ceil(out / s)`` points
    per axis, with ``k // m`` or ``ceil(k / m)`` taps per axis (``m = s / gcd(s, d)``).
    """
    compute = np.dtype(accumulate).itemsize
    y_shape = conv_transpose_output(x_shape, w_shape, **geometry)
    strides, dilations, pads, groups = (geometry[key] for key in ("strides", "dilations", "pads", "groups"))
    if min(y_shape[2:], default=1) < 1:
        return 0
    channels, out_channels = x_shape[1], y_shape[1]
    rank = len(x_shape) - 2
    axes = list(zip(x_shape[2:], w_shape[2:], strides, dilations, pads[:rank], y_shape[2:], strict=True))
    buffer_shape = [max(n, -(-out // s) + (s - 1 + b) // s) + -(-(k - 1) * d // s) for n, k, s, d, b, out in axes]
    sizes = [{out // s, -(-out // s)} for _, _, s, _, _, out in axes]
    taps = [{k // (s // math.gcd(s, d)), -(-k // (s // math.gcd(s, d)))} for _, k, s, d, _, _ in axes]
    pitch, grouped = flat_pitch(buffer_shape), (groups, out_channels // groups, channels // groups)
    phases = itertools.product(itertools.product(*sizes), itertools.product(*taps))
    work = max(
        correlate_bytes(channels, (*grouped, math.prod(t)), g, pitch, compute, converted=False) for g, t in phases
    )
    weights = 2 * math.prod(w_shape) * compute  # converted whole, then regrouped phase by phase
    objects = (
        sum(s * k for _, k, s, _, _, _ in axes) + math.prod(strides) + math.prod(w_shape[2:])
    ) * OBJECT_BYTES + CALL_BYTES
    buffer = channels * math.prod(buffer_shape) * compute
    return math.prod(y_shape) * compute + buffer + weights + out_channels * compute + work + objects
