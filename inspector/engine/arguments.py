"""Validation of convolution arguments for the NumPy engine, with errors that name the offending values.

The invariants every conv has (groups, weight and bias shapes, strides, dilations, pads, output padding) are
those of :mod:`inspector.model.invariants`, applied to the arrays' shapes; this module adds what only the engine
has: the input's rank, the defaults of the geometry, positive output sizes and the dtypes of float convolutions.
Every error is a ``ConvolutionError`` whose message starts with the operator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from inspector.errors import ConvolutionError
from inspector.model import invariants

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
ACCUMULATE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Window:
    """Kernel geometry along the spatial axes; pads split into begins and ends."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    begins: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, axis: int) -> int:
        """Extent of the dilated kernel along ``axis``."""
        return (self.kernel[axis] - 1) * self.dilations[axis] + 1


def window(
    op: str,
    x: np.ndarray,
    w: np.ndarray,
    strides: Sequence[int] | None,
    dilations: Sequence[int] | None,
    pads: Sequence[int] | None,
) -> Window:
    """Validated geometry of ``op`` (strides and dilations default to 1, pads to 0)."""
    check_ranks(op, x.shape, w.shape)
    rank = x.ndim - 2
    chosen = {
        "strides": int_values(strides, rank, default=1),
        "dilations": int_values(dilations, rank, default=1),
        "pads": int_values(pads, 2 * rank, default=0),
    }
    require(op, invariants.geometry_violations(rank, **chosen))
    return Window(
        kernel=tuple(w.shape[2:]),
        strides=chosen["strides"],
        dilations=chosen["dilations"],
        begins=chosen["pads"][:rank],
        ends=chosen["pads"][rank:],
    )


def check_ranks(op: str, x_shape: Sequence[int], w_shape: Sequence[int]) -> None:
    """``x`` of shape ``(N, C, *spatial)`` and ``w`` of the same rank."""
    if len(x_shape) < 3 or len(w_shape) != len(x_shape):
        raise ConvolutionError(
            f"{op} needs x of shape (N, C, *spatial) and w of the same rank, got x {tuple(x_shape)} and w "
            f"{tuple(w_shape)}"
        )


def int_values(values: Sequence[int] | None, count: int, *, default: int) -> tuple[int, ...]:
    """``values`` as ints, or ``default`` repeated ``count`` times when they are None (checked by the caller)."""
    return (default,) * count if values is None else tuple(int(v) for v in values)


def transpose_output_padding(op: str, output_padding: Sequence[int] | None, geometry: Window) -> tuple[int, ...]:
    """A transposed conv's output padding (default 0), each value smaller than its stride or its dilation."""
    rank = len(geometry.kernel)
    chosen = int_values(output_padding, rank, default=0)
    violations = invariants.geometry_violations(
        rank, strides=geometry.strides, dilations=geometry.dilations, pads=None, output_padding=chosen
    )
    require(op, violations)
    return chosen


def output_size(op: str, output_shape: Sequence[int], rank: int) -> tuple[int, ...]:
    """A requested spatial output size: one positive int per spatial axis."""
    chosen = int_values(output_shape, rank, default=0)
    violation = invariants.axis_values("output_shape", chosen, rank, minimum=1, rank=rank)
    require(op, [violation] if violation else [])
    return chosen


def check_channels(op: str, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, groups: int) -> int:
    """Groups, weight and bias consistent with ``x``'s channels (``op`` is ``Conv`` or ``ConvTranspose``).

    Returns the output channel count: ``w.shape[0]`` for a Conv, ``w.shape[1] * groups`` for a ConvTranspose.
    """
    bad_count = invariants.group_count(groups)
    require(op, [bad_count] if bad_count else [])
    transposed = op == "ConvTranspose"
    out_channels = w.shape[1] * groups if transposed else w.shape[0]
    violations = invariants.conv_violations(
        "conv_transpose" if transposed else "conv",
        rank=x.ndim - 2,
        in_channels=x.shape[1],
        out_channels=out_channels,
        groups=groups,
        kernel_shape=w.shape[2:],
        weight_shape=w.shape,
        bias_shape=None if bias is None else bias.shape,
    )
    require(op, violations)
    return out_channels


def require(op: str, violations: Iterable[invariants.Violation]) -> None:
    """Raise the first violation as a ``ConvolutionError`` naming ``op``."""
    for violation in violations:
        raise ConvolutionError(f"{op}: {violation.message}")


def positive_sizes(op: str, sizes: list[int], reason: Callable[[int], str]) -> list[int]:
    """``sizes`` if every output size is at least 1, else an error explained by ``reason(axis)``."""
    for j, size in enumerate(sizes):
        if size < 1:
            raise ConvolutionError(f"{op}: output size {size} on spatial axis {j} is not positive: {reason(j)}")
    return sizes


def float_operands(
    x: ArrayLike, w: ArrayLike, bias: ArrayLike | None, accumulate: DTypeLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.dtype, np.dtype]:
    """Arrays, compute dtype and result dtype of a float convolution (see ``numpy_conv`` on precision)."""
    arrays = {"x": np.asarray(x), "w": np.asarray(w)}
    if bias is not None:
        arrays["bias"] = np.asarray(bias)
    for name, array in arrays.items():
        if array.dtype not in FLOAT_DTYPES:
            raise ConvolutionError(
                f"{name} has dtype {array.dtype}; float16, float32 or float64 expected "
                "(conv_integer handles integer convolutions)"
            )
    native = np.result_type(*arrays.values())
    if accumulate is None:
        compute, out_dtype = np.result_type(native, np.float32), native
    else:
        compute = out_dtype = np.dtype(accumulate)
        if compute not in ACCUMULATE_DTYPES:
            raise ConvolutionError(f"accumulate must be float32 or float64, got {compute}")
    return arrays["x"], arrays["w"], arrays.get("bias"), compute, out_dtype
