"""Outputs of two models' matched conv layers on the same input, and whether rounding explains their difference.

Both models get the same seeded input.  A model onnxruntime runs whole (ONNX) has every matched conv's input and
output captured (the ``capture_layers`` hook); when only B runs whole (A a Keras file, which cannot run without
Keras), each of A's convs runs alone (the ``run_layer`` hook) on the input B's conv saw.  A bias stored in an
``Add`` of its own is added to its conv's output, and a BatchNormalization of A folded into B is applied to A's.

What rounding explains, per element, for a conv (linear in its input and its weight)::

    |y_B - y_A| <= |w_B|∗|x_B - x_A| + allow_w∗|x_A| + allow_b + (γ_K(u_A) + γ_K(u_B))·(|w_A|∗|x_A|)
                   + u_A·|y_A| + u_B·|y_B|

with ``∗`` the layer's convolution, ``allow_w``/``allow_b`` the two storage types' rounding of the weights and
bias (:mod:`inspector.model.storage`), ``K`` the terms of one output's sum, ``u`` the unit roundoff of each side's
output type.  The difference its input carries in is measured, so a layer that fails is one where the difference
first grows past what rounding explains, not one that inherits it; and that carried difference is itself held to
what the earlier matched convs' tolerances and the rounding of the input explain (:func:`input_allowance`), so an
op without weights that changed between them (a ``Relu`` become a ``Sigmoid``) fails the next conv.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pluggy

from inspector.engine.numpy_conv import conv_magnitude
from inspector.errors import ValidationError
from inspector.model.common import ConvLayer, Model
from inspector.model.matching import Side
from inspector.validation.inputs import random_feeds
from inspector.validation.options import DEFAULT_MAX_CAPTURE_MB
from inspector.validation.rounding import gamma
from inspector.validation.runtime import RuntimeRefusal, RuntimeSettings
from inspector.validation.standalone import NotExportable


@dataclass(frozen=True, slots=True)
class OutputDiff:
    """One matched conv's outputs: the largest difference, the largest tolerance it is held to, and the share of
    its tolerance the worst element uses (past 1: rounding does not explain it); ``skipped`` says why not run."""

    max_abs: float = 0.0
    input_max_abs: float = 0.0
    """How far apart the two inputs were: a difference an op without weights made shows here first."""
    tolerance: float = 0.0
    used: float = 0.0
    channel: int | None = None
    skipped: str = ""
    input_tolerance: float = float("inf")
    """The input difference the earlier matched convs' tolerances and the input's rounding explain."""

    @property
    def agrees(self) -> bool:
        """Within what rounding explains, input and output (a skipped layer decides nothing)."""
        inputs = self.input_max_abs == 0 or self.input_max_abs <= self.input_tolerance
        return bool(self.skipped) or (self.used <= 1.0 and inputs)


@dataclass(frozen=True, slots=True)
class Effective:
    """What a side's conv computes, as compared: its input, output and what the bound needs of its values."""

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    allow_w: np.ndarray
    allow_b: np.ndarray
    u: float


def _conv_args(layer: ConvLayer) -> dict:
    return {"strides": layer.strides, "dilations": layer.dilations, "pads": layer.pads, "groups": layer.groups}


def gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|b - a|`` in float64, 0 where the two are equal (equal infinities of an overflow, NaN on both sides)."""
    a, b = a.astype(np.float64), b.reshape(a.shape).astype(np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf, masked just below
        return np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0.0, np.abs(b - a))


def bound(layer: ConvLayer, a: Effective, b: Effective) -> np.ndarray:
    """Per element, what rounding explains of ``b.y - a.y`` (module docstring), on A's geometry."""
    args = _conv_args(layer)
    x_a, x_b = a.x.astype(np.float64), b.x.reshape(a.x.shape).astype(np.float64)
    terms = int(np.prod(layer.filter_shape))
    carried = conv_magnitude(gap(x_a, x_b), b.weight.reshape(a.weight.shape), **args)
    stored = conv_magnitude(np.abs(x_a), (a.allow_w + b.allow_w).reshape(a.weight.shape), a.allow_b + b.allow_b, **args)
    magnitude = conv_magnitude(np.abs(x_a), a.weight, **args)
    summing = (gamma(terms, a.u) + gamma(terms, b.u)) * magnitude
    outputs = a.u * np.abs(a.y) + b.u * np.abs(b.y.reshape(a.y.shape).astype(np.float64))
    return carried + stored + summing + outputs


def input_allowance(a: Effective, b: Effective, earlier: float) -> float:
    """The input difference rounding explains: ``earlier`` (the sum of the earlier matched convs' largest
    tolerances or differences, and half a quantized input's step: ops without weights between them are taken to
    add branches at most, never to amplify) plus
    each side's rounding of the input, ``4·(u_A·|x_A| + u_B·|x_B|)`` at its largest."""
    rounded = a.u * np.abs(a.x).max(initial=0.0) + b.u * np.abs(b.x).max(initial=0.0)
    return earlier + 4 * float(rounded)


def compare_outputs(layer: ConvLayer, a: Effective, b: Effective, earlier: float = float("inf")) -> OutputDiff:
    """The outputs of ``a`` and ``b`` against :func:`bound`, their inputs against :func:`input_allowance`."""
    if a.y.size != b.y.size:
        return OutputDiff(skipped=f"outputs of {a.y.size} and {b.y.size} elements")
    allowed = bound(layer, a, b)
    difference = gap(a.y, b.y)
    ratio = np.where(difference > 0, difference / np.where(allowed > 0, allowed, np.finfo(np.float64).tiny), 0.0)
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    return OutputDiff(
        max_abs=float(difference.max(initial=0.0)),
        input_max_abs=float(gap(a.x, b.x).max(initial=0.0)),
        tolerance=float(allowed.max(initial=0.0)),
        used=float(ratio[worst]) if ratio.size else 0.0,
        channel=int(worst[1]) if ratio.ndim > 1 else None,
        input_tolerance=input_allowance(a, b, earlier),
    )


def _captures(manager: pluggy.PluginManager, side: Side, layers: Sequence[ConvLayer], feeds, limit_mb) -> dict | None:
    """``{layer name: (x, y)}`` from whole-model runs, or ``None`` when the model cannot run whole."""
    try:
        found = manager.hook.capture_layers(
            model=side.model,
            layers=list(layers),
            feeds=lambda: feeds,
            runtime=RuntimeSettings(),
            budget_bytes=limit_mb * 2**20,
        )
        if found is None:
            return None
        return {c.layer.name: (c.operands["x"], c.output) for c in found if c.operands.get("x") is not None}
    except RuntimeRefusal:
        return None


@dataclass(frozen=True, slots=True)
class Feeding:
    """How to make the input both models get: its seed, the sizes of open dims, the memory limit."""

    seed: int = 0
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    limit_mb: float = DEFAULT_MAX_CAPTURE_MB


def model_feeds(a: Model, b: Model, feeding: Feeding):
    """Seeded inputs for A, usable by B (same names and sizes; cast to B's types); ``(None, reason)`` if not
    (inputs that differ, open dims not given, past the memory limit)."""
    try:
        feeds = random_feeds(a, feeding.seed, feeding.input_shapes, feeding.limit_mb)
    except ValidationError as error:
        return None, f"not compared: {error}"
    names_b = {t.name: t for t in b.inputs}
    if set(feeds.arrays) != set(names_b):
        return (
            None,
            f"the models' inputs differ ({', '.join(sorted(feeds.arrays))} against {', '.join(sorted(names_b))})",
        )
    cast = {}
    for name, array in feeds.arrays.items():
        dtype = names_b[name].dtype
        cast[name] = array.astype(dtype) if dtype.startswith("float") else array
    return (feeds, type(feeds)(cast, feeds.symbols, feeds.description)), ""


def captured_or_run(
    manager: pluggy.PluginManager, a: Side, b: Side, pairs: Sequence[tuple[ConvLayer, ConvLayer]], feeding: Feeding
) -> tuple[dict, dict, str]:
    """Each pair's ``(x, y)`` on A's side and B's (on A's side, a reason instead when its layer could not run), and
    what was run (or why nothing was: inputs it cannot make, a capture past the memory limit)."""
    try:
        return _captured_or_run(manager, a, b, pairs, feeding)
    except ValidationError as error:
        return {}, {}, f"not compared: {error}"


def _captured_or_run(
    manager: pluggy.PluginManager, a: Side, b: Side, pairs: Sequence[tuple[ConvLayer, ConvLayer]], feeding: Feeding
) -> tuple[dict, dict, str]:
    fed, reason = model_feeds(a.model, b.model, feeding)
    seed = feeding.seed
    if fed is None:
        return {}, {}, reason
    feeds_a, feeds_b = fed
    seen_b = _captures(manager, b, [q for _, q in pairs], feeds_b, feeding.limit_mb)
    if seen_b is None:
        why = " (a Keras file runs only layer by layer)" if b.model.format != "onnx" else ""
        return {}, {}, f"{b.model.path} cannot run whole in onnxruntime{why}"
    seen_a = _captures(manager, a, [p for p, _ in pairs], feeds_a, feeding.limit_mb)
    if seen_a is not None:
        return seen_a, seen_b, f"both models run whole on the same input (seed {seed})"
    seen_a = {}
    for p, q in pairs:
        if q.name not in seen_b or p.input_shape is None:
            continue
        x = seen_b[q.name][0].astype(np.float32)
        try:
            x = x.reshape((x.shape[0], *p.input_shape[1:]))  # type: ignore[arg-type]
            run = manager.hook.run_layer(model=a.model, layer=p, x=x, runtime=RuntimeSettings())
        except (RuntimeRefusal, NotExportable) as error:
            seen_a[p.name] = f"A's layer does not run alone: {error}"
            continue
        except (ValueError, TypeError):
            seen_a[p.name] = f"B's layer reads an input of shape {list(x.shape)}, A's layer {list(p.input_shape)}"
            continue
        if run is not None:
            seen_a[p.name] = (x, run.output)
    how = f"{b.model.path} runs whole (seed {seed}); each conv of {a.model.path} runs alone on the input B's saw"
    return seen_a, seen_b, how
