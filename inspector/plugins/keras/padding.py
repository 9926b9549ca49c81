"""Keras padding modes as ONNX's explicit pads: ``same`` with the odd pixel at the end (TensorFlow), ``causal``
on the start only, and a transposed conv's output length as pads plus ``output_padding``."""

from __future__ import annotations

from collections.abc import Sequence

from inspector.plugins.keras.config import LayerConfigError
from inspector.plugins.keras.shapes import shown, transpose_length


def keras_pads(
    padding: str,
    spatial: Sequence[int | None] | None,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[int, ...] | None:
    """Explicit ONNX pads (all begins, then all ends) for Keras ``valid``/``same``/``causal``; unknown for a stride
    or dilation below 1 (the parameter check reports it)."""
    if min((*strides, *dilations), default=1) < 1:
        return None
    begins, ends = [], []
    for axis, (k, s, d) in enumerate(zip(kernel, strides, dilations, strict=True)):
        effective = (k - 1) * d + 1
        size = spatial[axis] if spatial is not None else None
        if padding == "valid":
            total, begin = 0, 0
        elif padding == "causal":
            total, begin = effective - 1, effective - 1
        elif padding == "same":
            if s == 1:
                total = effective - 1
            elif size is None:
                return None
            else:
                total = max((-(-size // s) - 1) * s + effective - size, 0)
            begin = total // 2
        else:
            raise LayerConfigError(f"padding {shown(padding)} is not valid, same or causal")
        begins.append(begin)
        ends.append(total - begin)
    return tuple(begins + ends)


def transpose_pads(
    padding: str,
    spatial: Sequence[int | None] | None,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    output_padding: Sequence[int] | None,
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """ONNX ``pads`` and ``output_padding`` that give a Keras transposed conv's output.

    TensorFlow computes the full result, ``(in - 1)·s + k_eff`` long, and keeps ``out`` values from ``begin``
    (``total // 2`` for ``same``, 0 for ``valid``); when ``out`` is longer, the extra is ``output_padding``.
    """
    if spatial is None or any(n is None for n in spatial):
        return None
    begins, ends, extras = [], [], []
    for axis, (n, k, s, d) in enumerate(zip(spatial, kernel, strides, dilations, strict=True)):
        assert n is not None
        effective = (k - 1) * d + 1
        out = transpose_length(n, k, s, d, padding, None if output_padding is None else output_padding[axis])
        assert out is not None
        full = (n - 1) * s + effective
        begin = max(full - out, 0) // 2 if padding == "same" else 0
        end = full - begin - out
        begins.append(begin)
        ends.append(max(end, 0))
        extras.append(max(-end, 0))
    return tuple(begins + ends), tuple(extras)
