"""Conv, ConvTranspose and ConvInteger in plain NumPy, independent of onnxruntime and ``onnx.reference``.

Semantics are those of the ONNX operators: ``NC...`` layout with 1 to 3 (or more) spatial axes, Conv weights
``(O, C / groups, *kernel)``, ConvTranspose weights ``(C, O / groups, *kernel)``, explicit ``pads`` in ONNX
order (all begins, then all ends; turn ``auto_pad`` into pads with :mod:`inspector.model.padding`).

Precision: products are summed in the ``accumulate`` dtype.  By default that is float32 for float16 and
float32 inputs and float64 for float64 inputs, and the result is rounded to the input dtype (as the ONNX
operator returns ``T``).  Passing ``accumulate="float64"`` (or ``"float32"``) sums in that dtype and returns
the result in it, unrounded, which is what a reference for validation wants.

How it is computed: the (padded) input of one sample is copied once into a per-channel flat buffer, split into
stride phases, so every kernel tap becomes a constant shift of that buffer; :mod:`inspector.engine.flat_correlation`
then runs a blocked im2col + GEMM on it.  A ConvTranspose is one such stride-1 correlation per output phase
(sub-pixel decomposition), so no inserted zeros are multiplied.  Argument checks live in
:mod:`inspector.engine.arguments` (the conv invariants themselves in :mod:`inspector.model.invariants`, shared with
the model and its analyzers) and raise ``ConvolutionError``; reused scratch memory lives in
:mod:`inspector.engine.workspace`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from inspector.engine.arguments import (
    Window,
    check_channels,
    float_operands,
    output_size,
    positive_sizes,
    transpose_output_padding,
    window,
)
from inspector.engine.flat_correlation import correlate
from inspector.engine.workspace import scratch
from inspector.errors import ConvolutionError
from inspector.model.padding import conv_transpose_pads


def conv(
    x: ArrayLike,
    w: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    groups: int = 1,
    accumulate: DTypeLike | None = None,
) -> np.ndarray:
    """ONNX ``Conv``: cross-correlation of ``x`` (N, C, *spatial) with ``w`` (O, C / groups, *kernel).

    Parameters
    ----------
    x, w, bias
        Float16/32/64 input, weights and optional bias of shape (O,).
    strides, dilations
        One positive int per spatial axis; default 1.
    pads
        Begins then ends, one non-negative int per spatial axis each; default 0.
    groups
        Number of groups; ``groups == C`` with ``O == m * C`` is depthwise with multiplier ``m`` (output
        channel ``c * m + j`` reads input channel ``c``).
    accumulate
        Summation dtype (float32 or float64); see the module docstring.

    Returns
    -------
    (N, O, *out) array, ``out = (in + begin + end - ((k - 1) * dilation + 1)) // stride + 1``.

    Raises
    ------
    ConvolutionError
        Arguments no convolution can have, named in the message (see :mod:`inspector.model.invariants`).
    """
    return _conv(x, w, bias, strides, dilations, pads, groups, accumulate)


def _conv(
    x: ArrayLike,
    w: ArrayLike,
    bias: ArrayLike | None,
    strides: Sequence[int] | None,
    dilations: Sequence[int] | None,
    pads: Sequence[int] | None,
    groups: int,
    accumulate: DTypeLike | None,
    absolute: bool = False,
) -> np.ndarray:
    """:func:`conv`, with ``|w|`` for ``w`` when ``absolute`` (the weights converted a block at a time)."""
    x, w, bias, compute, out_dtype = float_operands(x, w, bias, accumulate)
    geometry = window("Conv", x, w, strides, dilations, pads)
    check_channels("Conv", x, w, bias, groups)
    padded = [n + b + e for n, b, e in zip(x.shape[2:], geometry.begins, geometry.ends, strict=True)]
    out_spatial = positive_sizes(
        "Conv",
        [(p - geometry.span(j)) // s + 1 for j, (p, s) in enumerate(zip(padded, geometry.strides, strict=True))],
        lambda j: f"padded input {padded[j]} < dilated kernel {geometry.span(j)}",
    )
    phase_shape = [-(-p // s) for p, s in zip(padded, geometry.strides, strict=True)]
    pitch = flat_pitch(phase_shape)
    offsets = _conv_offsets(geometry, phase_shape)
    out_channels, channels = w.shape[0], x.shape[1]
    weights = w.reshape(
        groups, out_channels // groups, channels // groups, math.prod(geometry.kernel)
    )  # converted by correlate()
    out = np.empty((x.shape[0], out_channels, *out_spatial), dtype=out_dtype)
    unpadded = all(s == 1 for s in geometry.strides) and not any(geometry.begins + geometry.ends)
    buf = None if unpadded else _zeros((channels, math.prod(geometry.strides) * math.prod(phase_shape)), compute)
    bias = _cast(bias, compute)
    for n in range(x.shape[0]):
        if buf is None:
            sample = x[n].reshape(channels, math.prod(x.shape[2:])).astype(compute, copy=False)
        else:
            sample = buf
            phases = buf.reshape(channels, *geometry.strides, *phase_shape)
            _fill_phases(phases, x[n], geometry.strides, geometry.begins)
        correlate(sample, offsets, weights, out_spatial, pitch, out[n], bias, absolute=absolute)
    return out


def conv_transpose(
    x: ArrayLike,
    w: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    groups: int = 1,
    output_padding: Sequence[int] | None = None,
    output_shape: Sequence[int] | None = None,
    accumulate: DTypeLike | None = None,
) -> np.ndarray:
    """ONNX ``ConvTranspose`` of ``x`` (N, C, *spatial) with ``w`` (C, O / groups, *kernel).

    Input pixel ``i`` spreads ``x[i] * w[k]`` onto output pixel ``i * stride + k * dilation - begin``.

    Parameters
    ----------
    x, w, bias, strides, dilations, groups, accumulate
        As in :func:`conv` (``bias`` has shape (O,), ``O = w.shape[1] * groups``).
    pads
        Begins then ends (default 0).  With ``output_shape`` only the begins matter; if ``pads`` is None
        they are derived from ``output_shape`` as ONNX does for ``auto_pad=NOTSET``.
    output_padding
        Extra output pixels at the end, each smaller than its stride or its dilation; default 0.
    output_shape
        Spatial output size; overrides ``in * stride``-style size computation when given.

    Returns
    -------
    (N, O, *out) array, ``out = stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - begin - end``
    unless ``output_shape`` is given.

    Raises
    ------
    ConvolutionError
        As :func:`conv`.
    """
    x, w, bias, compute, out_dtype = float_operands(x, w, bias, accumulate)
    geometry = window("ConvTranspose", x, w, strides, dilations, pads)
    rank = x.ndim - 2
    out_channels, channels = check_channels("ConvTranspose", x, w, bias, groups), x.shape[1]
    output_padding = transpose_output_padding("ConvTranspose", output_padding, geometry)
    if output_shape is not None:
        output_shape = output_size("ConvTranspose", output_shape, rank)
        if pads is None:
            derived = conv_transpose_pads(
                "NOTSET",
                x.shape[2:],
                geometry.kernel,
                geometry.strides,
                geometry.dilations,
                output_padding,
                output_shape,
            )
            geometry = replace(geometry, begins=derived[:rank], ends=derived[rank:])
    natural = [
        s * (n - 1) + op + geometry.span(j) - b - e
        for j, (n, s, op, b, e) in enumerate(
            zip(x.shape[2:], geometry.strides, output_padding, geometry.begins, geometry.ends, strict=True)
        )
    ]
    out_spatial = output_shape or positive_sizes(
        "ConvTranspose", natural, lambda j: f"pads {geometry.begins[j]} + {geometry.ends[j]} cut the whole output"
    )
    axes = [
        _transpose_axis(n, k, s, d, b, out)
        for n, k, s, d, b, out in zip(
            x.shape[2:],
            geometry.kernel,
            geometry.strides,
            geometry.dilations,
            geometry.begins,
            out_spatial,
            strict=True,
        )
    ]
    lows = [a.low for a in axes]
    buf_shape = [n + a.low + a.high for n, a in zip(x.shape[2:], axes, strict=True)]
    pitch = flat_pitch(buf_shape)
    # (C, O / g, *k) -> (g, O / g, C / g, taps): the layout correlate() wants
    grouped = w.astype(compute).reshape(groups, channels // groups, w.shape[1], math.prod(geometry.kernel))
    grouped = grouped.transpose(0, 2, 1, 3)
    phases = []
    for combo in itertools.product(*(a.phases for a in axes)):
        taps = list(itertools.product(*(p.taps for p in combo)))
        kernel_index = [np.ravel_multi_index(tuple(k for k, _ in tap), geometry.kernel) for tap in taps]
        offsets = [sum((e + lo) * p for (_, e), lo, p in zip(tap, lows, pitch, strict=True)) for tap in taps]
        where = (slice(None), *(slice(p.residue, None, s) for p, s in zip(combo, geometry.strides, strict=True)))
        grid = tuple(p.size for p in combo)
        phases.append((where, grid, offsets, np.ascontiguousarray(grouped[..., kernel_index])))
    out = np.empty((x.shape[0], out_channels, *out_spatial), dtype=out_dtype)
    buf = _zeros((channels, math.prod(buf_shape)), compute)
    bias = _cast(bias, compute)
    for n in range(x.shape[0]):
        _fill_phases(buf.reshape(channels, *(1,) * rank, *buf_shape), x[n], (1,) * rank, lows)
        for where, grid, offsets, weights in phases:
            correlate(buf, offsets, weights, grid, pitch, out[n][where], bias)
    return out


def conv_integer(
    x: ArrayLike,
    w: ArrayLike,
    x_zero_point: ArrayLike | None = None,
    w_zero_point: ArrayLike | None = None,
    *,
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    groups: int = 1,
) -> np.ndarray:
    """ONNX ``ConvInteger``: ``conv(x - x_zero_point, w - w_zero_point)`` with int32 accumulation, exact.

    ``x`` and ``w`` are int8 or uint8; ``x_zero_point`` is a scalar, ``w_zero_point`` a scalar or one value
    per output channel.  Padding adds zeros after the zero point is subtracted.  The sums run through float64
    BLAS: products are at most 255 * 255 in magnitude, so every partial sum of fewer than 2**37 of them is an
    integer float64 holds exactly; the int32 result wraps as int32 accumulation would.
    """
    x, w = np.asarray(x), np.asarray(w)
    for name, array in (("x", x), ("w", w)):
        if array.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
            raise ConvolutionError(f"ConvInteger: {name} must be int8 or uint8, got dtype {array.dtype}")
    shifted_x = x.astype(np.float64)
    if x_zero_point is not None:
        zero = np.asarray(x_zero_point)
        if zero.size != 1:
            raise ConvolutionError(f"ConvInteger: x_zero_point must be a scalar, got shape {zero.shape}")
        shifted_x -= zero.reshape(())
    shifted_w = w.astype(np.float64)
    if w_zero_point is not None:
        zero = np.asarray(w_zero_point)
        if zero.size not in (1, w.shape[0]) or zero.ndim > 1:
            raise ConvolutionError(
                f"ConvInteger: w_zero_point must be a scalar or have shape ({w.shape[0]},), got shape {zero.shape}"
            )
        shifted_w -= zero.reshape((-1,) + (1,) * (w.ndim - 1))
    y = conv(shifted_x, shifted_w, strides=strides, dilations=dilations, pads=pads, groups=groups)
    return y.astype(np.int64).astype(np.int32)


def conv_magnitude(x: ArrayLike, w: ArrayLike, bias: ArrayLike | None = None, **conv_args: Any) -> np.ndarray:
    """``conv(|x|, |w|) + |bias|``: the per-element scale of the rounding error of :func:`conv`.

    A float32 result is within a few ``eps32 * conv_magnitude(...)`` of the exact one.  Takes the keyword
    arguments of :func:`conv`; ``|w|`` is taken a block of weights at a time, never as a whole copy.
    """
    absolute_bias = None if bias is None else np.abs(bias)
    return _conv(np.abs(x), w, absolute_bias, *_conv_arguments(**conv_args), absolute=True)


def _conv_arguments(
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    groups: int = 1,
    accumulate: DTypeLike | None = None,
) -> tuple[Any, ...]:
    """:func:`conv`'s keyword arguments in :func:`_conv`'s order, defaults filled in."""
    return strides, dilations, pads, groups, accumulate


def conv_transpose_magnitude(
    x: ArrayLike, w: ArrayLike, bias: ArrayLike | None = None, **conv_transpose_args: Any
) -> np.ndarray:
    """``conv_transpose(|x|, |w|) + |bias|``, the error scale of :func:`conv_transpose` (same arguments)."""
    return conv_transpose(np.abs(x), np.abs(w), None if bias is None else np.abs(bias), **conv_transpose_args)


def _conv_offsets(geometry: Window, phase_shape: Sequence[int]) -> list[int]:
    """Flat buffer shift of every kernel tap (C order) in the phase-split layout of :func:`_fill_phases`.

    Tap ``k`` reads padded pixel ``t * stride + k * dilation``, which is pixel ``t + (k * dilation) // stride``
    of phase ``(k * dilation) % stride``.
    """
    phase_size, phase_pitch, pitch = math.prod(phase_shape), flat_pitch(geometry.strides), flat_pitch(phase_shape)
    offsets = []
    for tap in np.ndindex(*geometry.kernel):
        shifts = [k * d for k, d in zip(tap, geometry.dilations, strict=True)]
        phase = sum((v % s) * p for v, s, p in zip(shifts, geometry.strides, phase_pitch, strict=True))
        within = sum((v // s) * p for v, s, p in zip(shifts, geometry.strides, pitch, strict=True))
        offsets.append(phase * phase_size + within)
    return offsets


@dataclass(frozen=True)
class _Phase:
    residue: int
    size: int
    taps: tuple[tuple[int, int], ...]  # (kernel index, input shift)


@dataclass(frozen=True)
class _TransposeAxis:
    phases: tuple[_Phase, ...]
    low: int
    high: int


def _transpose_axis(n: int, k: int, s: int, d: int, begin: int, out: int) -> _TransposeAxis:
    """Split one ConvTranspose axis by output residue modulo the stride.

    Output ``y = residue + s * t`` gathers ``x[t + shift] * w[kk]`` for every ``kk`` with
    ``(residue + begin - kk * d) % s == 0``, ``shift = (residue + begin - kk * d) // s``; ``low``/``high`` are
    the zeros to pad the input with so every shift stays inside the buffer.
    """
    phases = []
    for residue in range(s):
        taps = tuple((kk, (residue + begin - kk * d) // s) for kk in range(k) if (residue + begin - kk * d) % s == 0)
        phases.append(_Phase(residue, max(0, -(-(out - residue) // s)), taps))
    used = [(p.size, shift) for p in phases if p.size for _, shift in p.taps]
    low = max([0] + [-shift for _, shift in used])
    high = max([0] + [size - 1 + shift - (n - 1) for size, shift in used])
    return _TransposeAxis(tuple(phases), low, high)


def _fill_phases(dst: np.ndarray, x: np.ndarray, strides: Sequence[int], begins: Sequence[int]) -> None:
    """Copy ``x`` (C, *spatial), zero-padded by ``begins``, into ``dst`` (C, *strides, *phase_shape).

    ``dst[:, a..., i...]`` receives padded pixel ``i * stride + a``; positions off the input are left as they
    are (zero).
    """
    rank = len(strides)
    phase_shape = dst.shape[1 + rank :]
    for phase in itertools.product(*(range(s) for s in strides)):
        targets, sources = [], []
        for a, s, b, n, size in zip(phase, strides, begins, x.shape[1:], phase_shape, strict=True):
            first_i = max(0, -((a - b) // s))
            first_x = first_i * s + a - b
            count = min(size - first_i, (n - 1 - first_x) // s + 1) if first_x < n else 0
            if count <= 0:
                break
            targets.append(slice(first_i, first_i + count))
            sources.append(slice(first_x, first_x + (count - 1) * s + 1, s))
        else:
            dst[(slice(None), *phase, *targets)] = x[(slice(None), *sources)]


def flat_pitch(shape: Sequence[int]) -> tuple[int, ...]:
    """Element strides of a C-ordered array of ``shape``."""
    return tuple(math.prod(shape[j + 1 :]) for j in range(len(shape)))


def _zeros(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The zeroed input buffer (padding and phase split), in reused scratch memory."""
    buf = scratch("input", shape, dtype)
    buf.fill(0)
    return buf


def _cast(array: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    return None if array is None else array.astype(dtype, copy=False)
