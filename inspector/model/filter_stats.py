"""Per-filter statistics of a conv layer: one row per output channel, computed a bounded chunk of filters at a time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from inspector.model.mapped import drop_pages

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


CHUNK_BYTES = 16 * 2**20
"""Float64 working memory of one pass: filters are taken this many bytes at a time, so a layer of any size costs
its (memory-mapped) weight plus this."""


def row_chunks(rows: int, row_bytes: int) -> Iterator[slice]:
    """Slices of ``rows`` rows of ``row_bytes`` bytes each, a chunk fitting ``CHUNK_BYTES`` (at least one row)."""
    step = max(1, CHUNK_BYTES // max(1, row_bytes))
    return (slice(start, start + step) for start in range(0, rows, step))


def filter_stats(layer: ConvLayer) -> FilterStats:
    """The statistics of every filter of ``layer`` (raises ``FilterError`` when its weight cannot be sliced)."""
    return matrix_stats(layer.as_matrix())


def matrix_stats(matrix: np.ndarray) -> FilterStats:
    """The statistics of every row of ``matrix`` (filters as rows, as ``ConvLayer.as_matrix()``), a chunk at a time;
    a row's statistics do not depend on the rows around it."""
    parts = []
    for rows in row_chunks(matrix.shape[0], matrix.shape[1] * 8):
        parts.append(_chunk_stats(_summable(matrix[rows])))
        drop_pages(matrix[rows])
    if not parts:  # no filters
        return FilterStats(*_chunk_stats(np.zeros(matrix.shape)))
    if len(parts) == 1:
        return FilterStats(*parts[0])
    return FilterStats(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def matrices_stats(matrices: dict[int, np.ndarray]) -> dict[int, FilterStats]:
    """The statistics of each of several matrices (by key): one pass over the matrices of each row width and
    dtype, stacked, then cut apart again (the statistics of a row do not depend on the other rows)."""
    if len(matrices) == 1:
        return {index: matrix_stats(matrix) for index, matrix in matrices.items()}  # a chunk at a time
    alike: dict[tuple[int, np.dtype], list[int]] = {}
    for index, matrix in matrices.items():
        alike.setdefault((matrix.shape[1], matrix.dtype), []).append(index)
    stats = {}
    for members in alike.values():
        together = matrix_stats(np.concatenate([matrices[index] for index in members]))
        columns = [getattr(together, field.name) for field in dataclasses.fields(FilterStats)]
        start = 0
        for index in members:
            end = start + matrices[index].shape[0]
            stats[index] = FilterStats(*(column[start:end] for column in columns))
            start = end
    return stats


_NUMPY_FLOATS = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64))


def _summable(values: np.ndarray) -> np.ndarray:
    """``values`` as they are when NumPy sums them into float64 itself (its own floats), else in float64."""
    return values if values.dtype in _NUMPY_FLOATS else values.astype(np.float64)


def _chunk_stats(values: np.ndarray) -> tuple[np.ndarray, ...]:
    """The ``FilterStats`` fields of the filters in ``values`` (one per row), in field order; sums in float64."""
    with np.errstate(invalid="ignore", over="ignore"):
        width = values.shape[1]  # a filter has at least one weight
        magnitudes = np.abs(values)
        largest = np.maximum.reduce(magnitudes, axis=1, dtype=np.float64, initial=-np.inf)  # floats widen exactly
        return (
            magnitudes.sum(axis=1, dtype=np.float64),
            np.sqrt(np.einsum("ij,ij->i", values, values, dtype=np.float64)),
            np.minimum.reduce(values, axis=1, dtype=np.float64, initial=np.inf),
            np.maximum.reduce(values, axis=1, dtype=np.float64, initial=-np.inf),
            values.sum(axis=1, dtype=np.float64) / width,
            (values == 0).sum(axis=1) / width,
            largest,
            np.isfinite(largest),  # a NaN makes it NaN, an infinity infinite
        )
