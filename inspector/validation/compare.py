"""Comparing a layer's output from onnxruntime with the NumPy engine's, down to the output channel.

An element passes when ``|actual - expected| <= atol + rtol * |expected|``.  The default ``atol`` is not one number
but one per element: what rounding can explain for that element, from the bound :mod:`inspector.validation.rounding`
derives (``rule`` ``"probabilistic"`` or ``"worst-case"``).  The default ``rtol`` is 0.  Integer (quantized) outputs
compare exactly by default.  Differences are taken in float64, where the engine's reference is computed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from inspector.errors import ValidationError
from inspector.validation.rounding import RoundingBound

MAX_LISTED_CHANNELS = 32
CHUNK_ELEMENTS = 1 << 16
"""Elements compared at a time (whole output channels of one sample): the temporaries of a block stay in cache."""

ToleranceRule = Literal["probabilistic", "worst-case", "given", "exact"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """How one output tensor of a layer compares with its reference.

    ``rule`` says where ``atol`` came from: ``"given"``, ``"probabilistic"`` or ``"worst-case"`` (the per-element
    default, described by ``bound``; ``atol`` reports its largest value) or ``"exact"`` (0, integer outputs).
    ``worst_index`` is the element whose error is the largest fraction of its allowance (the first violation
    when the allowance is 0; ``None`` when the outputs are equal), ``worst_channel`` its output channel (axis 1),
    ``tolerance_used`` that fraction (below 1 for a pass; 0 for equal outputs, inf past an allowance of 0);
    ``failed_channels`` lists the
    channels with any violation (at most ``MAX_LISTED_CHANNELS``, ``failed_channel_count`` says how many).
    """

    passed: bool
    max_abs_error: float
    max_rel_error: float
    atol: float
    rtol: float
    rule: ToleranceRule
    worst_index: tuple[int, ...] | None
    worst_channel: int | None
    worst_allowed: float
    tolerance_used: float
    violations: int
    elements: int
    failed_channels: tuple[int, ...]
    failed_channel_count: int
    bound: RoundingBound | None = None


def compare(
    actual: np.ndarray,
    expected: np.ndarray,
    *,
    magnitude: np.ndarray | None = None,
    bound: RoundingBound | None = None,
    filter_sums: np.ndarray | None = None,
    atol: float | None = None,
    rtol: float | None = None,
) -> Comparison:
    """Compare ``actual`` (onnxruntime) with ``expected`` (the engine), elementwise.

    The relative error is taken where ``expected`` is not 0.

    Parameters
    ----------
    actual, expected
        Arrays of one shape, ``(N, C, ...)`` so that axis 1 is the output channel.
    magnitude, bound
        ``conv(|x|, |w|) + |b|`` and the layer's rounding bound, for the default ``atol``; without them (integer
        outputs) the default ``atol`` is 0, an exact comparison.
    filter_sums
        Each output channel's ``sum|w|``, which the bound needs for data narrower than its accumulation.
    atol, rtol
        Given tolerances; ``None`` keeps the default of each.
    """
    if actual.shape != expected.shape:
        raise ValidationError(f"cannot compare shapes {actual.shape} and {expected.shape}")
    if (magnitude is None) != (bound is None):
        raise ValidationError("the default tolerance needs both the magnitude and the rounding bound")
    if magnitude is not None and magnitude.shape != expected.shape:
        raise ValidationError(f"magnitude shape {magnitude.shape} differs from the output shape {expected.shape}")
    rule: ToleranceRule = "given" if atol is not None else bound.rule if bound is not None else "exact"
    tally = _Tally(expected.shape)
    for where, offset, channels in _chunks(expected.shape):
        block = _errors(
            actual[where],
            expected[where],
            None if magnitude is None else magnitude[where],
            bound,
            None if filter_sums is None else filter_sums[channels],
            atol,
            rtol,
        )
        tally.add(offset, channels, block)
    worst, used, worst_allowed = tally.worst()
    failed = np.flatnonzero(tally.failed_channels)
    return Comparison(
        passed=tally.violations == 0,
        max_abs_error=_max(tally.max_error),
        max_rel_error=_max(tally.max_relative),
        atol=float(atol) if atol is not None else _max(tally.max_allowed),
        rtol=float(rtol or 0.0),
        rule=rule,
        worst_index=worst,
        worst_channel=worst[1] if worst is not None and len(worst) > 1 else None,
        worst_allowed=worst_allowed,
        tolerance_used=used,
        violations=tally.violations,
        elements=int(expected.size),
        failed_channels=tuple(int(c) for c in failed[:MAX_LISTED_CHANNELS]),
        failed_channel_count=len(failed),
        bound=bound if rule in ("probabilistic", "worst-case") else None,
    )


def _chunks(shape: tuple[int, ...]) -> Iterator[tuple[tuple, tuple[int, ...], slice]]:
    """``(where, offset, channels)``: blocks of whole output channels of one sample, about ``CHUNK_ELEMENTS`` each (at
    least one channel), in the order of the flat array; one block for small arrays or fewer than 2 axes."""
    size = math.prod(shape)
    if len(shape) < 2 or size <= CHUNK_ELEMENTS:
        yield (...,), (0,) * len(shape), slice(None)
        return
    step = max(1, CHUNK_ELEMENTS // max(1, math.prod(shape[2:])))
    for n in range(shape[0]):
        for c in range(0, shape[1], step):
            channels = slice(c, min(c + step, shape[1]))
            yield (slice(n, n + 1), channels), (n, c) + (0,) * (len(shape) - 2), channels


def _errors(
    actual: np.ndarray,
    expected: np.ndarray,
    magnitude: np.ndarray | None,
    bound: RoundingBound | None,
    filter_sums: np.ndarray | None,
    atol: float | None,
    rtol: float | None,
) -> _Block:
    """The errors and allowances of one block."""
    b = expected.astype(np.float64, copy=False)
    error = np.subtract(actual, b, dtype=np.float64)  # actual widened exactly; then |actual - expected| in place
    np.abs(error, out=error)
    largest_error = error.max(initial=0)
    finite = math.isfinite(largest_error)  # NaN or inf somewhere: the largest is not finite
    if not finite:  # equal infinities and NaN against NaN agree; anything else against NaN does not
        a = actual.astype(np.float64, copy=False)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        error = np.where(same, 0.0, np.where(np.isnan(error), np.inf, error))
    reference = np.abs(b)
    if atol is not None:
        allowed = np.full(error.shape, atol, dtype=np.float64)
    elif magnitude is not None and bound is not None:
        allowed = bound.allowed(magnitude, b, filter_sums)
    else:
        allowed = np.zeros(error.shape, dtype=np.float64)
    largest = allowed.max(initial=0)
    if rtol:
        allowed += rtol * reference
    if not finite and actual.dtype.kind == "f":
        # a result past the output type's largest finite value is that value's infinity: onnxruntime's float32 sum
        # rounds to it in float16 when the exact sum is within the allowance of the limit
        limit = np.finfo(actual.dtype).max
        overflowed = (
            np.isinf(actual) & np.isfinite(b) & (np.sign(actual) == np.sign(b)) & (reference + allowed >= limit)
        )
        error[overflowed] = 0.0
    if not finite:
        largest_error = error.max(initial=0)
    return _Block(error, allowed, reference, float(largest), float(largest_error))


class _Block(NamedTuple):
    """One block's ``|actual - expected|``, allowance and ``|expected|`` (float64), its largest allowance before
    ``rtol``'s share and its largest error."""

    error: np.ndarray
    allowed: np.ndarray
    reference: np.ndarray
    largest_allowed: float
    largest_error: float


class _Tally:
    """What :func:`compare` reports, gathered block by block (the blocks in flat order)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.violations = 0
        self.failed_channels = np.zeros(shape[1] if len(shape) > 1 else 0, dtype=bool)
        self.max_error: list[float] = []
        self.max_relative: list[float] = []
        self.max_allowed: list[float] = []
        self.any_allowed = False
        # the largest error as a fraction of its allowance, and the largest error: (value, index, allowance)
        self.by_fraction: tuple[float, tuple[int, ...], float] | None = None
        self.by_error: tuple[float, tuple[int, ...], float] | None = None

    def add(self, offset: tuple[int, ...], channels: slice, block: _Block) -> None:
        error, allowed, reference = block.error, block.allowed, block.reference
        failing = error > allowed
        self.violations += int(np.count_nonzero(failing))
        if error.ndim > 1:
            self.failed_channels[channels] |= failing.any(axis=tuple(i for i in range(failing.ndim) if i != 1))
        self.max_error.append(block.largest_error)
        self.max_allowed.append(block.largest_allowed)
        positive = reference > 0
        with np.errstate(all="ignore"):  # the relative error where expected is 0 is left out
            relative = np.divide(error, reference, out=reference)
        self.max_relative.append(relative.max(where=positive, initial=0))
        if not error.size:
            return
        self.any_allowed = self.any_allowed or bool(allowed.any())
        with np.errstate(over="ignore", invalid="ignore"):
            fraction = np.maximum(allowed, np.finfo(np.float64).tiny)
            np.divide(error, fraction, out=fraction)
        # the largest error matters only while no element anywhere has an allowance
        scores = (("by_fraction", fraction),) if self.any_allowed else (("by_fraction", fraction), ("by_error", error))
        for name, score in scores:
            index = np.unravel_index(int(np.argmax(score)), score.shape)
            value, best = float(score[index]), getattr(self, name)
            # np.argmax's choice over the whole array: the first NaN, else the first largest value
            if best is None or (not math.isnan(best[0]) and (math.isnan(value) or value > best[0])):
                place = tuple(int(i) + o for i, o in zip(index, offset, strict=True))
                setattr(self, name, (value, place, float(allowed[index])))

    def worst(self) -> tuple[tuple[int, ...] | None, float, float]:
        """The worst element's index, the fraction of its allowance its error takes (inf past an allowance of 0)
        and its allowance; ``(None, 0, 0)`` for equal outputs."""
        if not _max(self.max_error) > 0:
            return None, 0.0, 0.0
        if self.any_allowed:
            assert self.by_fraction is not None
            return self.by_fraction[1], self.by_fraction[0], self.by_fraction[2]
        assert self.by_error is not None
        return self.by_error[1], math.inf, self.by_error[2]


def _max(values: list[float]) -> float:
    """The largest of per-block maxima, NaN when one is (as ``ndarray.max`` over the whole array)."""
    return float(np.max(values, initial=0))
