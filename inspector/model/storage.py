"""What storing a weight costs: the largest change the storage type's rounding can make to each stored value.

float32 and float16: half an ulp of the stored value.  int8 (a ``QLinearConv``'s weight, whose scales the file
holds; or a QDQ ``DequantizeLinear`` weight the loader folded to float32, whose values then lie on a grid): half a
quantization step, per channel or per tensor.  A float32 weight is taken as int8 when the file says it was
dequantized (or it holds at least :data:`MIN_LEVELS` distinct values: a ternary ``{-1, 0, 1}`` float32 weight is
float32) and every value of a channel (or of the tensor) is an integer multiple of one step, its largest magnitude
127 or 128 steps, or its values minus the smallest are multiples of a 255th of its range (asymmetric uint8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspector.model.common import Weight

GRID_SLACK = 1e-3
"""How far from an integer number of steps a dequantized value may be (float32 dequantization rounds)."""
U32 = 2.0**-24
MIN_LEVELS = 64
"""Distinct values from which a float32 weight on an int8 grid is taken as int8 though its file does not say so."""


@dataclass(frozen=True, slots=True)
class Storage:
    """How a matrix of per-channel rows is stored: ``name`` for reports, ``allowance`` per element."""

    name: str
    allowance: np.ndarray
    step: np.ndarray | None = None
    """An int8 storage's quantization step per row (``None`` for floats)."""


def _half_ulp(rows: np.ndarray, dtype: type) -> np.ndarray:
    return np.spacing(np.abs(rows).astype(dtype)).astype(np.float64) / 2


def _on_grid(values: np.ndarray, step: np.ndarray, origin: np.ndarray) -> bool:
    if not np.all(step > 0):
        return False
    units = (values - origin) / step
    return bool(np.all(np.abs(units - np.rint(units)) <= GRID_SLACK))


def _grid(rows: np.ndarray) -> tuple[str, np.ndarray] | None:
    """``(name, step per row)`` of an integer grid every row lies on, or ``None``."""
    if rows.size < 16:
        return None
    for per_channel in (True, False) if rows.shape[1] >= 4 else (False,):
        values = rows if per_channel else rows.reshape(1, -1)
        peak = np.abs(values).max(axis=1, keepdims=True)
        low, high = values.min(axis=1, keepdims=True), values.max(axis=1, keepdims=True)
        where = "per channel" if per_channel and rows.shape[0] > 1 else "per tensor"
        candidates = [("int8", peak / 127, 0.0), ("int8", peak / 128, 0.0), ("uint8", (high - low) / 255, low)]
        for name, step, origin in candidates:
            if _on_grid(values, step, origin):
                return f"{name} {where}", np.broadcast_to(step, (rows.shape[0], 1)) if not per_channel else step
    return None


def storage(rows: np.ndarray, weight: Weight | None) -> Storage:
    """The storage of ``rows`` (one row per output channel, float64) read from ``weight``."""
    scale = next((part for part in weight.parts if part.role == "w_scale"), None) if weight is not None else None
    if scale is not None:
        steps = np.abs(scale.native.astype(np.float64)).reshape(-1, 1)
        where = "per channel" if steps.size > 1 else "per tensor"
        allowance = np.broadcast_to(steps / 2, rows.shape) + U32 * np.abs(rows)
        return Storage(f"int8 {where}", allowance, np.broadcast_to(steps, (rows.shape[0], 1)))
    dtype = weight.dtype if weight is not None else "float32"
    if dtype == "float16":
        return Storage("float16", _half_ulp(rows, np.float16))
    if dtype != "float64":
        dequantized = weight is not None and "DequantizeLinear" in weight.source
        grid = _grid(rows) if dequantized or np.unique(rows).size >= MIN_LEVELS else None
        if grid is not None:
            name, step = grid
            allowance = np.broadcast_to(step / 2, rows.shape) + U32 * np.abs(rows)
            return Storage(f"{name} (dequantized)", allowance, step)
        return Storage("float32", _half_ulp(rows, np.float32))
    return Storage("float64", _half_ulp(rows, np.float64))
