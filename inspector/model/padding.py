"""Turning ONNX ``auto_pad`` settings into explicit begin/end pads.

Pads use ONNX order: all begins, then all ends.  The same helper serves the loaders (which must record
explicit pads) and the NumPy engine (which only ever computes with explicit pads).
"""

from __future__ import annotations

from collections.abc import Sequence

from inspector.errors import ConvolutionError

AUTO_PAD_MODES = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def _split(total: int, extra_at_end: bool) -> tuple[int, int]:
    small = total // 2
    return (small, total - small) if extra_at_end else (total - small, small)


def conv_pads(
    auto_pad: str,
    input_spatial: Sequence[int],
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[int, ...]:
    """Explicit pads of a ``Conv`` whose ``auto_pad`` is ``SAME_UPPER``, ``SAME_LOWER`` or ``VALID``.

    ``SAME_*`` makes ``out = ceil(in / stride)``; the odd pixel goes at the end for ``SAME_UPPER`` (as
    TensorFlow's ``same``) and at the start for ``SAME_LOWER``.
    """
    mode = auto_pad.upper()
    rank = len(kernel_shape)
    if mode == "VALID":
        return (0,) * (2 * rank)
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        raise ConvolutionError(f"auto_pad must be one of {', '.join(AUTO_PAD_MODES)}, got {auto_pad!r}")
    begins, ends = [], []
    for size, k, s, d in zip(input_spatial, kernel_shape, strides, dilations, strict=True):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        begin, end = _split(total, extra_at_end=mode == "SAME_UPPER")
        begins.append(begin)
        ends.append(end)
    return tuple(begins + ends)


def conv_transpose_pads(
    auto_pad: str,
    input_spatial: Sequence[int],
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    output_padding: Sequence[int],
    output_shape: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Explicit pads of a ``ConvTranspose`` from ``auto_pad`` or a requested ``output_shape``.

    Follows the ONNX operator text: the target output is ``in * stride`` for ``SAME_*`` (or ``output_shape``
    when given), ``total = stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - out``; ``SAME_UPPER``
    puts the odd pixel at the end, every other mode at the start (as the operator text says).
    """
    mode = auto_pad.upper()
    rank = len(kernel_shape)
    if mode == "VALID" and output_shape is None:
        return (0,) * (2 * rank)
    if mode not in ("SAME_UPPER", "SAME_LOWER", "NOTSET", "VALID"):
        raise ConvolutionError(f"auto_pad must be one of {', '.join(AUTO_PAD_MODES)}, got {auto_pad!r}")
    targets = output_shape if output_shape is not None else [n * s for n, s in zip(input_spatial, strides, strict=True)]
    begins, ends = [], []
    for size, k, s, d, op, out in zip(
        input_spatial, kernel_shape, strides, dilations, output_padding, targets, strict=True
    ):
        total = max(s * (size - 1) + op + (k - 1) * d + 1 - out, 0)
        begin, end = _split(total, extra_at_end=mode == "SAME_UPPER")
        begins.append(begin)
        ends.append(end)
    return tuple(begins + ends)
