"""How far onnxruntime's output of a correct conv can lie from the exact one: the default tolerance, derived.

**What is bounded.**  One output element of a conv is a sum of ``n`` terms, ``y = b + sum_i x_i * w_i``: the
products of its receptive field (``K = C/groups * prod(kernel)`` of them; a transposed conv has at most that
many) and the bias, so ``n = K + 1`` with a bias and ``K`` without.  Its *magnitude* is the same sum of absolute
values, ``mag = sum_i |x_i * w_i| + |b|`` (the engine computes it as ``conv(|x|, |w|) + |b|``).

**How onnxruntime computes it is unknown, and need not be known.**  Blocked GEMM, FMA, NCHWc kernels and
threads all change the order of the additions.  In floating point with unit roundoff ``u`` (``2**-24`` in
float32) every operation returns ``(a op b)(1 + d)`` with ``|d| <= u``; in *any* summation order, with or without
fused multiply-adds, each term passes through at most ``n`` such factors (one product and at most ``n - 1``
additions: the depth of a summation tree over ``n`` leaves).  So ``yhat = sum_i t_i (1 + theta_i)`` with each
``theta_i`` a product of at most ``n`` factors ``(1 + d)``, and ``|yhat - y| <= max_i |theta_i| * mag``.

* Worst case (Higham, *Accuracy and Stability of Numerical Algorithms*, lemma 3.1):
  ``|theta_i| <= gamma_n = n*u / (1 - n*u)`` always (when ``n*u < 1``).
* Probabilistic (Higham & Mary, "A new approach to probabilistic rounding error analysis", SIAM J. Sci.
  Comput. 41(5), 2019, theorems 2.4 and 3.1): if the ``d`` are independent, mean-zero random variables,
  ``|theta_i| <= gamma~_n(lam) = exp(lam*sqrt(n)*u + n*u**2/(1 - u)) - 1`` (about ``lam*sqrt(n)*u``) fails
  with probability at most ``2*exp(-lam**2 * (1 - u)**2 / 2)``, so one element's bound fails with probability
  at most ``2*n*exp(-lam**2 * (1 - u)**2 / 2)``.

**Choosing lam: a union bound.**  A validation run compares ``E_l`` elements in each of its ``L`` conv layers.
Give each layer a failure budget ``P / L`` (``P = FALSE_ALARM_PROBABILITY = 1e-6``) and solve
``E_l * 2*n*exp(-lam**2 (1 - u)**2 / 2) = P / L``: ``lam_l = sqrt(2*ln(2*n*E_l*L / P)) / (1 - u)``.  Then the
probability that any element of any layer of a correct model exceeds its bound is at most ``P``.  The
coefficient used is the smaller of the two, ``c = min(gamma_n, gamma~_n(lam_l))`` (``gamma_n`` wins below
``n`` of about ``lam**2``), and the report names which (``worst-case`` or ``probabilistic``) and ``lam``.

**The reference's share.**  The engine sums in float64, so its own error is at most ``gamma64_n * mag``
(``u64 = 2**-53``), added to the bound: only onnxruntime's rounding is left to explain, not the engine's.
The magnitude is computed in its own precision ``u_m`` from non-negative terms, so the computed ``mag^``
satisfies ``mag <= mag^ / (1 - gamma_m_n)`` (worst case, no assumption); the bound uses that.

**Underflow.**  A product in the subnormal range loses up to half the smallest subnormal; sums of subnormals are
exact with gradual underflow, and a runtime that flushes subnormal results to zero loses less than the smallest
normal number ``tiny`` on each product and each addition.  The ``n`` terms and at most ``n - 1`` additions
therefore add at most ``2*n*tiny`` of absolute error (of the accumulation type, and of the magnitude's type for
``mag^``).

**Output narrower than the accumulation.**  onnxruntime's CPU provider has no float16 Conv kernel on most CPUs:
it inserts casts, computes in float32 and rounds the result to float16 (one more rounding,
``|fl16(z) - z| <= u16*|z| + tiny16`` with ``|z| <= |y| + c*mag``).  Where a provider has a float16 kernel,
the accumulation is assumed to be float16 itself (``u = 2**-11``), the cautious reading.  bfloat16 the same
way (``u = 2**-8``).

**Together**, for an element of output channel ``o`` with engine result ``r`` (float64) and computed magnitude
``mag^``, ``m = mag^ / (1 - gamma_m_n) + 2 * n * tiny_m`` bounding the true magnitude::

    core    = (c + gamma64_n) * m * (1 + v_in) + v_in * m + tiny_in * sum|w_o|
    allowed = core + u_out * (|r| + core) + 2 * n * tiny + tiny_out

where ``v_in = u_in / (1 - u_in)``, ``tiny_in``, ``u_out`` and ``tiny_out`` are 0 unless the data type is
narrower than the accumulation.

**Inputs rounded after onnxruntime read them.**  Where onnxruntime computes a float16 model in float32, it
also drops the float16 round trip between two such nodes, so a conv may read its producer's float32 result while
the captured input is that result rounded to float16 (the only copy a graph output can hold).  Each input then
differs from what onnxruntime read by at most ``u_in*|x'|`` or, below float16's normal range, ``tiny_in``: at
most ``u_in/(1 - u_in) * mag^`` plus ``tiny_in * sum|w|`` (the filter's absolute sum) on the output.  That term is
added whenever the accumulation is wider than the data.

**When the probabilistic model does not apply.**  Independent rounding errors are an assumption, and sums of
one repeated product break it: adding the same value again and again rounds the same way each time.  That
happens where a filter's weights repeat (a box or binomial filter, a constant test weight) and its input repeats
over a window (flat image regions, constant activations), which one flat patch in an otherwise varied image is
enough for.  Measured here: a 15×15 mean filter on an image of flat patches exceeded ``gamma~`` (3.0e-6 against
1.9e-6 allowed), and constant kernels on constant inputs grew like ``0.03*K*u`` in one long chain.  So a layer
takes the probabilistic bound only when no filter repeats its weights: in an evenly strided sample of each
filter's nonzero weights at most half repeat another (``REPEAT_LIMIT``); otherwise the worst case, which needs
no assumption.  (Trained float filters repeat few of their weights; int8-quantized ones, with 255 levels, about
one in eight of a 64-weight sample.)

**What the argument assumes.**  IEEE arithmetic with round-to-nearest in the accumulation type, operands that
are exactly the file's values (float16 and bfloat16 widen exactly), and a conv computed as a sum of products,
which is what MLAS and every CPU kernel of onnxruntime do (a Winograd or FFT kernel, or TF32 tensor cores on a
GPU provider, would break it: they do not compute in the precision they are given).  The probabilistic bound
further assumes independent rounding errors, which the repetition check above guards where it is known to
fail; ``bound="worst-case"`` uses ``gamma_n`` alone everywhere, which holds without that assumption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

FALSE_ALARM_PROBABILITY = 1e-6
"""The largest probability, per validation run, that a correct model is flagged (the union bound's ``P``)."""
REPEAT_LIMIT = 0.5
"""Above this fraction of repeated weights in a filter, its products may repeat (see the module docstring)."""
FILTER_SAMPLE = 64
"""Weights sampled (evenly strided) from each filter to look for repetition."""
USEFUL_COEFFICIENT = 1.0
"""A bound of this many times the magnitude or more allows any result: such a layer cannot be validated."""

BoundRule = Literal["probabilistic", "worst-case"]
BoundChoice = Literal["auto", "worst-case"]


@dataclass(frozen=True, slots=True)
class FloatFormat:
    """What rounding in one floating-point type costs: unit roundoff ``u`` and the smallest normal ``tiny``."""

    name: str
    unit_roundoff: float
    tiny: float


FORMATS = {
    "float64": FloatFormat("float64", 2.0**-53, 2.0**-1022),
    "float32": FloatFormat("float32", 2.0**-24, 2.0**-126),
    "float16": FloatFormat("float16", 2.0**-11, 2.0**-14),
    "bfloat16": FloatFormat("bfloat16", 2.0**-8, 2.0**-126),
}


def float_format(dtype: str | np.dtype) -> FloatFormat:
    """The :class:`FloatFormat` of a float dtype (a NumPy dtype or its name)."""
    name = getattr(dtype, "name", str(dtype))
    if name not in FORMATS:
        raise ValueError(f"no rounding model for dtype {name}")
    return FORMATS[name]


def gamma(n: int, u: float) -> float:
    """``gamma_n = n*u / (1 - n*u)``, the worst-case relative error of ``n`` rounded operations (inf past 1)."""
    return n * u / (1 - n * u) if n * u < 1 else math.inf


def probabilistic_gamma(n: int, u: float, lam: float) -> float:
    """Higham & Mary's ``gamma~_n(lam) = exp(lam*sqrt(n)*u + n*u**2 / (1 - u)) - 1``."""
    return math.expm1(lam * math.sqrt(n) * u + n * u * u / (1 - u))


def union_lambda(n: int, elements: int, layers: int, u: float, probability: float = FALSE_ALARM_PROBABILITY) -> float:
    """The ``lam`` whose per-element failure chance ``2*n*exp(-lam**2 (1-u)**2 / 2)``, summed over ``elements``
    elements of each of ``layers`` layers, stays below ``probability``."""
    return math.sqrt(2 * math.log(2 * n * max(elements, 1) * max(layers, 1) / probability)) / (1 - u)


def weights_repeat(filters: np.ndarray) -> bool:
    """Whether some filter (a row of ``filters``) repeats more than ``REPEAT_LIMIT`` of its sampled nonzero weights."""
    step = max(1, filters.shape[1] // FILTER_SAMPLE)
    picked = np.sort(np.abs(filters[:, ::step]), axis=1)
    repeated = ((picked[:, 1:] == picked[:, :-1]) & (picked[:, 1:] != 0)).sum(axis=1)
    fraction = repeated / np.maximum(np.count_nonzero(picked, axis=1) - 1, 1)
    return bool(fraction.max(initial=0) > REPEAT_LIMIT)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundingBound:
    """The default tolerance of one layer: ``allowed = core + u_out*(|r| + core) + absolute`` per element,
    ``core = scale * mag^ + floor + tiny_in * sum|w_o|`` (see the module docstring for every term)."""

    rule: BoundRule
    terms: int
    accumulation: str
    output: str
    lam: float | None
    coefficient: float
    scale: float
    floor: float
    output_roundoff: float
    absolute: float
    input_tiny: float
    false_alarm_probability: float | None

    def allowed(
        self, magnitude: np.ndarray, reference: np.ndarray, filter_sums: np.ndarray | None = None
    ) -> np.ndarray:
        """Per-element allowance (float64) from the computed magnitude, the engine's float64 result and, for data
        narrower than the accumulation, each output channel's ``sum|w|`` (``filter_sums``)."""
        core = np.multiply(magnitude, np.float64(self.scale), dtype=np.float64)  # exact widening, then the product
        core += self.floor
        if self.input_tiny and filter_sums is not None:
            core += self.input_tiny * filter_sums.reshape((1, -1) + (1,) * (core.ndim - 2))
        if self.output_roundoff:
            core += self.output_roundoff * (np.abs(reference) + core)
        core += self.absolute
        return core

    @property
    def useful(self) -> bool:
        """Whether the bound allows less than the magnitude itself (float16 sums of thousands of terms do not)."""
        return math.isfinite(self.scale) and self.coefficient < USEFUL_COEFFICIENT

    def describe(self) -> str:
        """The rule in a few symbols, for the table: ``8.3·√n·u·mag (n=289)`` or ``γn·mag (n=28)``."""
        if self.rule == "worst-case":
            return f"γn·mag (n={self.terms:,})"
        return f"{self.lam:.1f}·√n·u·mag (n={self.terms:,})"


def rounding_bound(
    *,
    terms: int,
    accumulation: str,
    output: str,
    magnitude_dtype: str,
    elements: int,
    layers: int,
    choice: BoundChoice = "auto",
    probability: float = FALSE_ALARM_PROBABILITY,
) -> RoundingBound:
    """The tolerance for a layer whose elements each sum ``terms`` terms in ``accumulation`` precision.

    ``output`` is the dtype onnxruntime returns, ``magnitude_dtype`` the one the magnitude was computed in,
    ``elements`` how many elements this layer compares and ``layers`` how many layers the run compares (for
    the union bound).  ``choice="worst-case"`` skips the probabilistic bound (as the caller must when
    :func:`weights_repeat`).  ``false_alarm_probability`` is the layer's share of ``probability``.
    """
    acc, out, mag = float_format(accumulation), float_format(output), float_format(magnitude_dtype)
    u = acc.unit_roundoff
    worst = gamma(terms, u)
    lam = union_lambda(terms, elements, layers, u, probability)
    likely = probabilistic_gamma(terms, u, lam)
    probabilistic = choice == "auto" and likely < worst
    coefficient = likely if probabilistic else worst
    reference = gamma(terms, FORMATS["float64"].unit_roundoff)
    narrower = out.unit_roundoff > u
    # data held in the output's type (float16 computed in float32) may have been read unrounded: see the docstring
    v_in = out.unit_roundoff / (1 - out.unit_roundoff) if narrower else 0.0
    bound_magnitude = 1 / (1 - gamma(terms, mag.unit_roundoff))
    return RoundingBound(
        rule="probabilistic" if probabilistic else "worst-case",
        terms=terms,
        accumulation=acc.name,
        output=out.name,
        lam=lam if probabilistic else None,
        coefficient=coefficient,
        scale=((coefficient + reference) * (1 + v_in) + v_in) * bound_magnitude,
        floor=((coefficient + reference) * (1 + v_in) + v_in) * 2 * terms * mag.tiny,
        output_roundoff=out.unit_roundoff if narrower else 0.0,
        absolute=2 * terms * acc.tiny + (out.tiny if narrower else 0.0),
        input_tiny=out.tiny if narrower else 0.0,
        false_alarm_probability=probability / max(layers, 1) if probabilistic else None,
    )
