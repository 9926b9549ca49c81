"""Per-filter comparison of two matched layers, in the canonical layout.

Each output channel's filter (and bias) of B is, against A's: ``identical`` bit for bit; ``rounding``, within
what the two storage types' rounding can change (:mod:`inspector.model.storage`: half an ulp, half an int8
step); ``folded``, A's filter times the per-channel factor of the BatchNormalization that follows A's layer and
that B no longer has, its bias A's times that factor plus the BN's shift (``scale = gamma/sqrt(var + eps)``,
``shift = beta - mean·scale``, ``eps`` the BN's own as its file states it; only a file that does not state it
(weights only) has it solved from the filters, held to at most :data:`MAX_SOLVED_EPSILON`, and reported as solved);
``scaled``, A's filter times a factor with no BN of A to explain it; ``dead``, all zero on one side
only; ``swapped``, equal within rounding to another channel of A; else ``different``, with its largest difference,
where in the filter, and its share of A's filter's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspector.model.channel_values import ChannelValues, bn_factors
from inspector.model.storage import U32, Storage, storage

AGREEING = ("identical", "rounding", "folded")
FOLD_SLACK = 8 * U32
"""Relative rounding of a folded value: the product, the shift's two terms and the fitted factor, float32."""
MAX_SOLVED_EPSILON = 1e-2
"""The largest epsilon a solved fit may take (frameworks use 1e-5…1e-3): a larger one hides a wrong fold."""


@dataclass(frozen=True, slots=True)
class FilterDiff:
    """One output channel: its place in both files, the verdict and the numbers behind it."""

    channel: int
    where_a: str
    where_b: str
    verdict: str
    max_abs: float
    at: tuple[int, ...]
    share: float
    scale: float = 1.0
    shift: float = 0.0
    other: int | None = None
    """The channel of A that B's filter equals (``swapped``)."""
    bias_only: bool = False
    """The filter agrees, its bias does not (``max_abs`` is the bias' difference)."""

    @property
    def agrees(self) -> bool:
        """Whether B keeps this filter."""
        return self.verdict in AGREEING


@dataclass(frozen=True, slots=True)
class Fold:
    """The BatchNormalization of A folded into B's layer: its name, its epsilon (``solved``: fitted from the
    filters, the file not stating it) and the factors."""

    bn: str
    epsilon: float
    scale: tuple[float, ...]
    shift: tuple[float, ...]
    solved: bool = False


@dataclass(frozen=True, slots=True)
class WeightDiff:
    """Two matched layers' weights compared filter by filter."""

    storage_a: str
    storage_b: str
    filters: tuple[FilterDiff, ...]
    fold: Fold | None = None
    problem: str = ""
    """Why the values differ before any filter is compared (shapes that differ), else empty."""
    skipped: str = ""
    """Why the values could not be read (a weight its layer contradicts): decides nothing, as a skipped output."""

    @property
    def verdict(self) -> str:
        """The least agreeing verdict of the filters (``different`` when they differ in shape)."""
        if self.problem:
            return "different"
        if self.skipped:
            return "not_compared"
        order = ("identical", "rounding", "folded", "scaled", "dead", "swapped", "different")
        return max((f.verdict for f in self.filters), key=order.index, default="identical")

    @property
    def agrees(self) -> bool:
        """Whether every filter agrees."""
        return not self.problem and all(f.agrees for f in self.filters)


def solve_epsilon(a_rows: np.ndarray, b_rows: np.ndarray, bn: ChannelValues) -> float:
    """The epsilon of A's BN that makes B's filters A's times its factors: the median over channels of
    ``(gamma/s)² - var``, ``s`` fitted per channel by least squares (never negative)."""
    gamma, var = bn.rows[:, 0], bn.rows[:, 3]
    norms = np.einsum("ij,ij->i", a_rows, a_rows)
    fitted = np.einsum("ij,ij->i", a_rows, b_rows) / np.where(norms > 0, norms, 1)
    usable = (norms > 0) & (fitted != 0)
    if not usable.any():
        return 0.0
    return max(float(np.median((gamma[usable] / fitted[usable]) ** 2 - var[usable])), 0.0)


def _bias_allowance(values: ChannelValues) -> np.ndarray | float:
    if values.bias is None:
        return 0.0
    return storage(values.bias.reshape(-1, 1), values.bias_weight).allowance.reshape(-1)


def _fit(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(a @ a)
    return float(a @ b) / norm if norm > 0 else 0.0


def _within(a: np.ndarray, b: np.ndarray, allowance: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= allowance))


class _Comparer:
    def __init__(self, a: ChannelValues, b: ChannelValues, storage_a: Storage, storage_b: Storage) -> None:
        self.a, self.b, self.storage_a, self.storage_b = a, b, storage_a, storage_b
        self.allowance = storage_a.allowance + storage_b.allowance
        zeros = np.zeros(len(a.rows))
        self.bias_a = zeros if a.bias is None else a.bias
        self.bias_b = zeros if b.bias is None else b.bias
        magnitude = np.maximum(np.abs(self.bias_a), np.abs(self.bias_b))  # a bias computed in float32 rounds
        self.bias_allowance = _bias_allowance(a) + _bias_allowance(b) + 2 * U32 * magnitude
        for values, kept in ((a, storage_a), (b, storage_b)):  # an int8 layer's bias: steps of x_scale·w_scale
            if values.bias is not None and kept.step is not None and values.input_scale is not None:
                self.bias_allowance = self.bias_allowance + values.input_scale * kept.step.reshape(-1) / 2

    def _largest(self, o: int, expected: np.ndarray) -> dict:
        difference = np.abs(self.b.rows[o] - expected)
        position = int(np.argmax(difference))
        span = float(np.ptp(self.a.rows[o])) if self.a.rows[o].size else 0.0
        biggest = float(difference[position])
        at = tuple(int(i) for i in np.unravel_index(position, self.a.filter_shape))
        share = biggest / span if span > 0 else float("inf") if biggest else 0.0
        return {"max_abs": biggest, "at": at, "share": share}

    def filter(self, o: int, fold: tuple[np.ndarray, np.ndarray] | None) -> FilterDiff:
        a, b = self.a.rows[o], self.b.rows[o]
        where = {"channel": o, "where_a": self.a.where[o], "where_b": self.b.where[o]}
        if fold is not None:
            scale, shift = float(fold[0][o]), float(fold[1][o])
            expected, bias = a * scale, self.bias_a[o] * scale + shift
            slack = FOLD_SLACK * (np.abs(b) + np.abs(expected))
            bias_slack = FOLD_SLACK * (abs(self.bias_b[o]) + abs(self.bias_a[o] * scale) + abs(shift) + abs(bias))
            fits = _within(expected, b, self.storage_b.allowance[o] + abs(scale) * self.storage_a.allowance[o] + slack)
            if fits and abs(self.bias_b[o] - bias) <= bias_slack + self.bias_allowance[o]:
                return FilterDiff(**where, verdict="folded", max_abs=0.0, at=(), share=0.0, scale=scale, shift=shift)
            return FilterDiff(**where, verdict="different", scale=scale, shift=shift, **self._largest(o, expected))
        bias_same = abs(self.bias_a[o] - self.bias_b[o]) <= self.bias_allowance[o]
        if np.array_equal(a, b) and self.bias_a[o] == self.bias_b[o]:
            return FilterDiff(**where, verdict="identical", max_abs=0.0, at=(), share=0.0)
        largest = self._largest(o, a)
        if _within(a, b, self.allowance[o]):
            if bias_same:
                return FilterDiff(**where, verdict="rounding", **largest)
            bias = abs(float(self.bias_b[o] - self.bias_a[o]))
            return FilterDiff(**where, verdict="different", max_abs=bias, at=(), share=0.0, bias_only=True)
        if not b.any() or not a.any():
            return FilterDiff(**where, verdict="dead", **largest)
        for p in range(len(self.a.rows)):
            if p != o and _within(self.a.rows[p], b, self.allowance[p] + self.storage_b.allowance[o]):
                return FilterDiff(**where, verdict="swapped", other=p, **largest)
        scale = _fit(a, b)
        if (
            abs(scale - 1) > U32
            and scale != 0
            and _within(a * scale, b, self.allowance[o] * max(abs(scale), 1) + FOLD_SLACK * np.abs(b))
        ):
            shift = float(self.bias_b[o] - scale * self.bias_a[o])
            return FilterDiff(**where, verdict="scaled", scale=scale, shift=shift, **largest)
        return FilterDiff(**where, verdict="different", **largest)


def compare_weights(
    a: ChannelValues, b: ChannelValues, folded_bn: tuple[str, ChannelValues, float | None] | None
) -> WeightDiff:
    """Compare B's values with A's, channel by channel; ``folded_bn`` is A's BN (name, values, epsilon or
    ``None`` when its file does not state it) that B's layer should hold folded in, when A's layer is followed by
    one that B lacks."""
    if a.rows.shape != b.rows.shape:
        problem = f"{a.rows.shape[0]}×{a.rows.shape[1]} values against {b.rows.shape[0]}×{b.rows.shape[1]}"
        return WeightDiff("", "", (), problem=f"the filters have different shapes: {problem}")
    storage_a, storage_b = storage(a.rows, a.weight), storage(b.rows, b.weight)
    comparer = _Comparer(a, b, storage_a, storage_b)
    fold = None
    factors = None
    if folded_bn is not None:
        name, bn, epsilon = folded_bn
        solved = epsilon is None
        if solved:
            epsilon = min(solve_epsilon(a.rows, b.rows, bn), MAX_SOLVED_EPSILON)
        factors = bn_factors(bn, epsilon)
        fold = Fold(name, epsilon, tuple(map(float, factors[0])), tuple(map(float, factors[1])), solved)
    filters = tuple(comparer.filter(o, factors) for o in range(len(a.rows)))
    return WeightDiff(storage_a.name, storage_b.name, filters, fold)
