"""Validation of convolution arguments for the NumPy engine, with errors that name the offending values.

Covers the kernel geometry (strides, dilations, pads, their defaults), the channel and group counts of
input and weights, bias shape, output sizes and the dtypes of float convolutions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from inspector.errors import ValidationError

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
    if x.ndim < 3 or w.ndim != x.ndim:
        raise ValidationError(
            f"{op} needs x of shape (N, C, *spatial) and w of the same rank, got x {x.shape} and w {w.shape}"
        )
    rank = x.ndim - 2
    if 0 in w.shape[2:]:
        raise ValidationError(f"{op} kernel shape {w.shape[2:]} has an empty axis")
    all_pads = int_tuple("pads", pads, 2 * rank, default=0, minimum=0)
    return Window(
        kernel=tuple(w.shape[2:]),
        strides=int_tuple("strides", strides, rank, default=1, minimum=1),
        dilations=int_tuple("dilations", dilations, rank, default=1, minimum=1),
        begins=all_pads[:rank],
        ends=all_pads[rank:],
    )


def int_tuple(name: str, values: Sequence[int] | None, count: int, *, default: int, minimum: int) -> tuple[int, ...]:
    """``count`` ints, each at least ``minimum``; ``default`` repeated when ``values`` is None."""
    if values is None:
        return (default,) * count
    result = tuple(int(v) for v in values)
    if len(result) != count:
        raise ValidationError(f"{name} {list(result)} has {len(result)} values, expected {count}")
    if any(v < minimum for v in result):
        limit = "positive" if minimum == 1 else "non-negative"
        raise ValidationError(f"{name} must be {limit}, got {list(result)}")
    return result


def check_groups(op: str, x: np.ndarray, w: np.ndarray, groups: int, *, weight_inputs: int, outputs: int) -> None:
    """Channel counts consistent with ``groups``; ``weight_inputs`` is the input-channel count ``w`` implies."""
    channels = x.shape[1]
    if int(groups) != groups or groups < 1:
        raise ValidationError(f"{op} groups must be a positive integer, got {groups}")
    if channels % groups:
        raise ValidationError(f"{op} input channels C={channels} are not divisible by groups={groups}")
    if outputs % groups:
        raise ValidationError(f"{op} output channels {outputs} are not divisible by groups={groups}")
    if weight_inputs != channels:
        raise ValidationError(
            f"{op} weight shape {w.shape} expects {weight_inputs} input channels with groups={groups}, "
            f"but x {x.shape} has C={channels}"
        )


def check_bias(bias: np.ndarray | None, out_channels: int) -> None:
    if bias is not None and bias.shape != (out_channels,):
        raise ValidationError(f"bias shape {bias.shape} does not match the {out_channels} output channels")


def positive_sizes(op: str, sizes: list[int], reason: Callable[[int], str]) -> list[int]:
    """``sizes`` if every output size is at least 1, else an error explained by ``reason(axis)``."""
    for j, size in enumerate(sizes):
        if size < 1:
            raise ValidationError(f"{op} output size {size} on spatial axis {j} is not positive: {reason(j)}")
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
            raise ValidationError(
                f"{name} has dtype {array.dtype}; float16, float32 or float64 expected "
                "(conv_integer handles integer convolutions)"
            )
    native = np.result_type(*arrays.values())
    if accumulate is None:
        compute, out_dtype = np.result_type(native, np.float32), native
    else:
        compute = out_dtype = np.dtype(accumulate)
        if compute not in ACCUMULATE_DTYPES:
            raise ValidationError(f"accumulate must be float32 or float64, got {compute}")
    return arrays["x"], arrays["w"], arrays.get("bias"), compute, out_dtype
