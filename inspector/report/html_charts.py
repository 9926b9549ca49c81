"""Charts of the HTML report as inline SVG geometry: per-filter norm bars, a weight histogram, validation errors.

Each function returns plain numbers and SVG path strings (digits, spaces and path letters only) that the template
places; nothing here knows HTML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspector.model.filter_stats import row_chunks
from inspector.model.mapped import drop_pages

WIDTH = 520
BARS_HEIGHT = 72
HISTOGRAM_HEIGHT = 96
HISTOGRAM_BINS = 61
"""Odd, so that 0 is the middle of a bin and a layer's exact zeros stand in one bar."""


def _bars_path(lefts: np.ndarray, width: float, heights: np.ndarray, base: float) -> str:
    """One SVG path of vertical bars standing on ``base`` (bars of height 0 are left out)."""
    return " ".join(
        f"M{left:.2f} {base:.2f}v{-height:.2f}h{width:.2f}v{height:.2f}z"
        for left, height in zip(lefts.tolist(), heights.tolist(), strict=True)
        if height > 0
    )


@dataclass(frozen=True, slots=True)
class Mark:
    """Filters marked on the norm bars: ``kind`` (``dead``, ``duplicate``, ``range``, ``non_finite``, ``failed``),
    the channels, and the ticks under the axis that point at them."""

    kind: str
    label: str
    channels: tuple[int, ...]
    path: str


def norm_bars(l2: np.ndarray, marks: Sequence[tuple[str, str, Sequence[int]]]) -> dict:
    """Bars of every filter's L2 norm (filter 0 on the left, the tallest bar the largest finite norm) and, below the
    axis, a row of ticks per kind of mark ``(kind, label, channels)``."""
    count = len(l2)
    step = WIDTH / max(count, 1)
    finite = np.where(np.isfinite(l2), l2, 0.0)
    top = float(finite.max()) if count else 0.0
    heights = finite / top * BARS_HEIGHT if top > 0 else np.zeros(count)
    lefts = np.arange(count) * step
    shown = []
    tick = max(step, 1.5)
    for row, (kind, label, channels) in enumerate(m for m in marks if m[2]):
        y = BARS_HEIGHT + 4 + row * 7
        path = " ".join(f"M{c * step + step / 2 - tick / 2:.2f} {y}h{tick:.2f}v5h{-tick:.2f}z" for c in channels)
        shown.append(Mark(kind=kind, label=label, channels=tuple(channels), path=path))
    return {
        "width": WIDTH,
        "height": BARS_HEIGHT + 4 + 7 * len(shown),
        "base": BARS_HEIGHT,
        "path": _bars_path(lefts, step * 0.8 if count > 160 else step * 0.7, heights, BARS_HEIGHT),
        "largest": top,
        "count": count,
        "marks": shown,
    }


def weight_counts(matrix: np.ndarray, limit: float, bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, int]:
    """Counts of ``matrix``'s finite values in ``bins`` equal bins over ``[-limit, limit]``, a chunk of rows at a
    time, and how many values are not finite."""
    counts = np.zeros(bins, dtype=np.int64)
    non_finite = 0
    for rows in row_chunks(matrix.shape[0], matrix.shape[1] * 8):
        values = np.asarray(matrix[rows], dtype=np.float64).ravel()
        finite = np.isfinite(values)
        non_finite += int(values.size - finite.sum())
        counts += np.histogram(values[finite], bins=bins, range=(-limit, limit))[0]
        drop_pages(matrix[rows])
    return counts, non_finite


def histogram(counts: np.ndarray, limit: float) -> dict:
    """Bars of ``counts`` over ``[-limit, limit]`` (height linear in the count; the tallest bar the largest)."""
    bins = len(counts)
    step = WIDTH / bins
    top = int(counts.max()) if bins else 0
    heights = counts / top * HISTOGRAM_HEIGHT if top > 0 else np.zeros(bins)
    return {
        "width": WIDTH,
        "height": HISTOGRAM_HEIGHT,
        "path": _bars_path(np.arange(bins) * step, step * 0.9, heights, HISTOGRAM_HEIGHT),
        "limit": limit,
        "bins": bins,
        "largest": top,
        "total": int(counts.sum()),
    }


@dataclass(frozen=True, slots=True)
class ErrorPoint:
    """One validated layer on the error chart: where its error dot and its tolerance dash sit."""

    anchor: str
    name: str
    status: str
    error: float
    tolerance: float
    x: float
    error_y: float
    tolerance_y: float


ERROR_CHART_HEIGHT = 200
ERROR_STEP = 18


def _log_range(values: Sequence[float]) -> tuple[float, float]:
    """Decades ``(low, high)`` covering the positive finite ``values`` (a decade of margin under the smallest)."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return -12.0, 0.0
    low, high = math.floor(math.log10(min(positive))) - 1, math.ceil(math.log10(max(positive)))
    return float(low), float(max(high, low + 1))


def error_chart(rows: Sequence[tuple[str, str, str, float, float]]) -> dict:
    """Each layer's max abs error (a dot) against its tolerance (a dash), log scale; ``rows`` are
    ``(anchor, name, status, max_abs_error, tolerance)``.  An error of 0 sits on the bottom line."""
    low, high = _log_range([v for row in rows for v in row[3:]])

    def y(value: float) -> float:
        if not value > 0:
            return float(ERROR_CHART_HEIGHT)
        decade = math.log10(value) if math.isfinite(value) else high
        return ERROR_CHART_HEIGHT * (high - min(max(decade, low), high)) / (high - low)

    points = [
        ErrorPoint(
            anchor=anchor,
            name=name,
            status=status,
            error=error,
            tolerance=tolerance,
            x=ERROR_STEP * (index + 0.5),
            error_y=y(error),
            tolerance_y=y(tolerance),
        )
        for index, (anchor, name, status, error, tolerance) in enumerate(rows)
    ]
    decades = [
        (ERROR_CHART_HEIGHT * (high - d) / (high - low), f"1e{int(d)}") for d in np.arange(low, high + 1).tolist()
    ]
    return {
        "width": max(ERROR_STEP * len(rows), 120),
        "height": ERROR_CHART_HEIGHT,
        "points": points,
        "decades": decades,
    }
