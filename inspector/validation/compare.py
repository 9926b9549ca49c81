"""Comparing a layer's output from onnxruntime with the NumPy engine's, down to the output channel.

An element passes when ``|actual - expected| <= atol + rtol * |expected|``.  The default ``atol`` is not one number
but one per element: what rounding can explain for that element, from the bound :mod:`inspector.validation.rounding`
derives (``rule`` ``"probabilistic"`` or ``"worst-case"``).  The default ``rtol`` is 0.  Integer (quantized) outputs
compare exactly by default.  Differences are taken in float64, where the engine's reference is computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from inspector.errors import ValidationError
from inspector.validation.rounding import RoundingBound

MAX_LISTED_CHANNELS = 32

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
    b = expected.astype(np.float64, copy=False)
    error = actual.astype(np.float64)  # a fresh array, turned into |actual - expected| in place
    np.subtract(error, b, out=error)
    np.abs(error, out=error)
    finite = bool(np.isfinite(error).all())
    if not finite:  # equal infinities and NaN against NaN agree; anything else against NaN does not
        a = actual.astype(np.float64, copy=False)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        error = np.where(same, 0.0, np.where(np.isnan(error), np.inf, error))
    reference = np.abs(b)
    if atol is not None:
        rule: ToleranceRule = "given"
        allowed = np.full(error.shape, atol, dtype=np.float64)
    elif magnitude is not None and bound is not None:
        rule = bound.rule
        allowed = bound.allowed(magnitude, b, filter_sums)
    else:
        rule = "exact"
        allowed = np.zeros(error.shape, dtype=np.float64)
    atol_used = float(atol) if atol is not None else float(allowed.max(initial=0))
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
    failing = error > allowed
    # The worst element: the largest error as a fraction of its allowance (the largest error when none is allowed).
    if allowed.any():
        with np.errstate(over="ignore", invalid="ignore"):
            score = np.maximum(allowed, np.finfo(np.float64).tiny)
            np.divide(error, score, out=score)
    else:
        score = error
    worst = np.unravel_index(int(np.argmax(score)), error.shape) if error.any() else ()
    used = float(score[worst]) if worst and score is not error else (math.inf if worst else 0.0)
    channels = (
        np.flatnonzero(failing.any(axis=tuple(i for i in range(failing.ndim) if i != 1))) if error.ndim > 1 else ()
    )
    relative = np.divide(error, reference, out=np.zeros_like(error), where=reference > 0)
    return Comparison(
        passed=not failing.any(),
        max_abs_error=float(error.max(initial=0)),
        max_rel_error=float(relative.max(initial=0)),
        atol=atol_used,
        rtol=float(rtol or 0.0),
        rule=rule,
        worst_index=tuple(int(i) for i in worst) if worst else None,
        worst_channel=int(worst[1]) if len(worst) > 1 else None,
        worst_allowed=float(allowed[worst]) if worst else 0.0,
        tolerance_used=used,
        violations=int(np.count_nonzero(failing)),
        elements=int(error.size),
        failed_channels=tuple(int(c) for c in channels[:MAX_LISTED_CHANNELS]),
        failed_channel_count=len(channels),
        bound=bound if rule in ("probabilistic", "worst-case") else None,
    )
