"""Per-filter statistics of a conv layer: one row per output channel, computed in one vectorized pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from inspector.model import ConvLayer

COLUMNS = ("l1", "l2", "min", "max", "mean", "zero_fraction")
"""The statistics, in table order."""


@dataclass(frozen=True, slots=True, eq=False)
class FilterStats:
    """Statistics of every filter of a layer: arrays of length ``out``, entry ``o`` describing ``filter(o)``.

    ``l1``/``l2`` are the norms, ``zero_fraction`` the share of exact zeros, ``max_abs`` the largest magnitude,
    ``finite`` whether the filter holds no NaN or Inf (its other entries are NaN or Inf when it does not).
    Computed in float64 on the canonical weight (integer weights as stored).
    """

    l1: np.ndarray
    l2: np.ndarray
    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    zero_fraction: np.ndarray
    max_abs: np.ndarray
    finite: np.ndarray

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per output channel; values that are NaN or Inf become ``None``."""
        columns = [json_ready(getattr(self, name)) for name in COLUMNS]
        return [
            {"channel": channel, **dict(zip(COLUMNS, row, strict=True))}
            for channel, row in enumerate(zip(*columns, strict=True))
        ]


def json_ready(array: np.ndarray) -> Any:
    """``array`` as nested lists of Python numbers, NaN and Inf as ``None`` (JSON has no such numbers)."""
    values = np.asarray(array)
    ready = values.astype(object)
    ready[~np.isfinite(values)] = None
    return ready.tolist()


def filter_stats(layer: ConvLayer) -> FilterStats:
    """The statistics of every filter of ``layer`` (raises ``FilterError`` when its weight cannot be sliced)."""
    values = layer.as_matrix().astype(np.float64)
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore", over="ignore"):
        return FilterStats(
            l1=magnitude.sum(axis=1),
            l2=np.sqrt(np.square(values).sum(axis=1)),
            min=values.min(axis=1),
            max=values.max(axis=1),
            mean=values.mean(axis=1),
            zero_fraction=(values == 0).mean(axis=1),
            max_abs=magnitude.max(axis=1),
            finite=np.isfinite(values).all(axis=1),
        )
