"""Per-filter statistics of a conv layer: one row per output channel, computed in one vectorized pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from inspector.model.common import ConvLayer

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


def filter_stats(layer: ConvLayer) -> FilterStats:
    """The statistics of every filter of ``layer`` (raises ``FilterError`` when its weight cannot be sliced)."""
    with np.errstate(invalid="ignore", over="ignore"):
        values = layer.as_matrix().astype(np.float64, copy=False)
        width = values.shape[1]  # a filter has at least one weight
        low, high = values.min(axis=1, initial=np.inf), values.max(axis=1, initial=-np.inf)
        return FilterStats(
            l1=np.abs(values).sum(axis=1),
            l2=np.sqrt(np.einsum("ij,ij->i", values, values)),
            min=low,
            max=high,
            mean=values.sum(axis=1) / width,
            zero_fraction=(width - np.count_nonzero(values, axis=1)) / width,
            max_abs=np.maximum(high, -low),
            finite=np.isfinite(low) & np.isfinite(high),  # NaN makes both NaN, an infinity one of them
        )
