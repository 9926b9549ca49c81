"""``inspect diff A B``: did a conversion, quantization or optimization keep every filter of A in B?

Layers are matched (:mod:`inspector.model.matching`), every matched layer's values compared filter by filter
(:mod:`inspector.model.filter_diff`), and, where both models can run, every matched conv's output on the same input
(:mod:`inspector.validation.output_diff`).  A BatchNormalization of A that B folded into the conv before it is
agreement, with its factors checked against the BN's parameters.  A weighted layer left without a partner is a
difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pluggy

from inspector.errors import FilterError
from inspector.model.channel_values import ChannelValues, channel_values, identity, scaled_like
from inspector.model.common import ConvLayer, Layer, Model
from inspector.model.filter_diff import WeightDiff, compare_weights
from inspector.model.input_shapes import check_input_names
from inspector.model.matching import AFFINE, Pair, Side, match, side
from inspector.model.storage import storage
from inspector.plugin_manager import get_plugin_manager, load_model
from inspector.validation.final_outputs import FinalOutput, compare_final
from inspector.validation.options import DEFAULT_MAX_CAPTURE_MB
from inspector.validation.output_diff import (
    Effective,
    Feeding,
    OutputDiff,
    captured_or_run,
    compare_outputs,
    model_feeds,
)
from inspector.validation.rounding import float_format

DIFF_VERSION = 1


@dataclass(frozen=True, slots=True)
class LayerDiff:
    """One matched pair: how it was matched, its weights compared, its outputs compared (``None``: not run)."""

    a: str
    b: str
    kind: str
    by: str
    weights: WeightDiff
    output: OutputDiff | None

    @property
    def agrees(self) -> bool:
        """Weights and outputs within what rounding (or a folded BN) explains."""
        return self.weights.agrees and (self.output is None or self.output.agrees)


@dataclass(frozen=True, slots=True)
class DiffResult:
    """Everything ``inspect diff`` found, in A's layer order."""

    path_a: str
    path_b: str
    format_a: str
    format_b: str
    layers: tuple[LayerDiff, ...]
    only_a: tuple[tuple[str, str], ...]
    only_b: tuple[tuple[str, str], ...]
    outputs: str
    """How outputs were compared, or why they were not."""
    final: tuple[FinalOutput, ...] = ()
    """The graph outputs compared (both models ONNX and run whole)."""

    @property
    def agrees(self) -> bool:
        """Every layer matched, every pair agrees, and so does every graph output compared."""
        matched = not self.only_a and not self.only_b and all(layer.agrees for layer in self.layers)
        return matched and all(output.agrees for output in self.final)

    @property
    def first_unexplained(self) -> str | None:
        """A's first layer whose output difference grows past what rounding explains, else a graph output's."""
        layer = next((d.a for d in self.layers if d.output is not None and not d.output.agrees), None)
        final = (f"graph output {f.a}" for f in self.final if not f.agrees)
        return layer if layer is not None else next(final, None)


def _folded_bn(pair: Pair, a: Side, b: Side, unmatched_a: set[str]) -> Layer | None:
    """A's BN after ``pair.a`` that B no longer has (folded into ``pair.b``, or lost: the values tell)."""
    bn = a.following_bn.get(pair.a.name)
    if bn is None or bn.name not in unmatched_a or pair.b.name in b.following_bn:
        return None
    return bn


def _effective(layer: ConvLayer, values: ChannelValues, seen: tuple, fold: tuple | None) -> Effective:
    x, y = (np.asarray(v, dtype=np.float64) for v in seen)
    shape = (y.shape[0], y.shape[1]) + (1,) * (y.ndim - 2)
    weight = values.rows.copy()
    bias = np.zeros(len(weight)) if values.bias is None else values.bias
    if layer.bias is None and values.bias is not None:
        y = y + bias.reshape(shape)  # tf2onnx's separate bias Add
    allow_w = storage(values.rows, values.weight).allowance
    allow_b = storage(bias.reshape(-1, 1), layer.bias).allowance.reshape(-1) if values.bias is not None else 0 * bias
    if fold is not None:  # A's conv as B holds it: weights, bias and their rounding times the BN's factors
        y = y * fold[0].reshape(shape) + fold[1].reshape(shape)
        weight = weight * fold[0][:, None]
        allow_w, allow_b = allow_w * np.abs(fold[0])[:, None], allow_b * np.abs(fold[0])
    output_type = np.asarray(seen[1]).dtype
    unit = float_format(output_type if output_type.kind == "f" else np.float32).unit_roundoff
    return Effective(x, y, np.abs(weight).reshape(layer.weight.shape), allow_w, allow_b, unit)


def _outputs(manager, a: Side, b: Side, compared: list, feeding: Feeding) -> tuple[dict[str, OutputDiff], str, float]:
    """Each usable conv pair's outputs compared, how they were run, and the sum of what the convs explain."""
    convs = [
        (pair, wa, wb, diff)
        for pair, wa, wb, diff in compared
        if isinstance(pair.a, ConvLayer) and isinstance(pair.b, ConvLayer) and pair.a.kind == "conv"
    ]
    usable = [
        item for item in convs if not item[0].b.quantized and item[0].a.weight is not None and item[1] is not None
    ]
    if not usable:
        integer = "B's convs compute in integers (QLinearConv, ConvInteger): compared by their weights only"
        return {}, integer if convs else "no conv layer matched in both models", 0.0
    seen_a, seen_b, how = captured_or_run(manager, a, b, [(p.a, p.b) for p, *_ in usable], feeding)
    if not seen_b:  # nothing ran: ``how`` says why, no layer needs to repeat it
        return {}, how, 0.0
    found: dict[str, OutputDiff] = {}
    earlier = 0.0  # the differences the convs compared so far explain or made, in A's order
    for pair, wa, wb, diff in usable:
        if isinstance(seen_a.get(pair.a.name), str) or pair.a.name not in seen_a or pair.b.name not in seen_b:
            found[pair.a.name] = OutputDiff(skipped=seen_a.get(pair.a.name) or "not captured from the model's run")
            continue
        fold = None if diff.fold is None else (np.array(diff.fold.scale), np.array(diff.fold.shift))
        ea = _effective(pair.a, wa, seen_a[pair.a.name], fold)
        eb = _effective(pair.b, wb, seen_b[pair.b.name], None)
        steps = sum((values.input_scale or 0.0) / 2 for values in (wa, wb))  # a quantized input's rounding
        found[pair.a.name] = compare_outputs(pair.a, ea, eb, earlier + steps)
        earlier += max(found[pair.a.name].tolerance, found[pair.a.name].max_abs)
    return found, how, earlier


def _final(a: Model, b: Model, compared: list, feeding: Feeding, explained: float) -> tuple[tuple, str]:
    """The graph outputs compared (:mod:`inspector.validation.final_outputs`) where both models run whole."""
    if a.format != "onnx" or b.format != "onnx":
        return (), ""
    if any(pair.a.kind == "dense" for pair, *_ in compared):
        return (), "graph outputs not compared: a matched dense layer's rounding is not bounded"
    fed, reason = model_feeds(a, b, feeding)
    return compare_final(a, b, fed, explained) if fed is not None else ((), reason)


def diff(
    a: Model | str | Path,
    b: Model | str | Path,
    *,
    seed: int = 0,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    max_capture_mb: float = DEFAULT_MAX_CAPTURE_MB,
    outputs: bool = True,
    plugin_manager: pluggy.PluginManager | None = None,
) -> DiffResult:
    """Compare model ``b`` with model ``a`` (paths are loaded, and closed again, here)."""
    manager = plugin_manager or get_plugin_manager()
    model_a = a if isinstance(a, Model) else load_model(a, manager)
    try:
        model_b = b if isinstance(b, Model) else load_model(b, manager)
    except BaseException:
        if model_a is not a:
            model_a.close()
        raise
    try:
        feeding = Feeding(seed, dict(input_shapes or {}), max_capture_mb)
        return _diff(model_a, model_b, feeding=feeding, outputs=outputs, manager=manager)
    finally:
        for model, given in ((model_a, a), (model_b, b)):
            if model is not given:
                model.close()


def _compare(pair: Pair, a: Side, b: Side, values_a, values_b, unmatched_a: set[str]) -> WeightDiff:
    """The pair's weights, a BN held as its factors on either side (folded into a conv, or ``Mul`` + ``Add``)
    checked against the BN's parameters."""
    bn = _folded_bn(pair, a, b, unmatched_a)
    if pair.a.source_op == AFFINE and pair.b.kind == "batch_norm" and pair.b.source_op != AFFINE:
        reference = (pair.b.name, channel_values(b, pair.b), pair.b.epsilon)  # A computes B's BN by its factors
        return compare_weights(identity(values_a), replace(values_a, where=values_b.where), reference)
    if pair.b.source_op == AFFINE and pair.a.source_op != AFFINE:  # B computes A's BN by its factors
        bn, values_a = pair.a, identity(values_a)
    weights = compare_weights(values_a, values_b, None)
    if bn is not None and not weights.agrees:  # B may hold the BN folded in (else it computes it otherwise)
        weights = compare_weights(values_a, values_b, (bn.name, channel_values(a, bn), bn.epsilon))
    return weights


def _diff(model_a: Model, model_b: Model, *, feeding: Feeding, outputs: bool, manager) -> DiffResult:
    check_input_names(feeding.input_shapes, model_a.inputs, model_a.path)  # a misspelt name is a usage error
    side_a, side_b = side(model_a), side(model_b)
    matching = match(side_a, side_b)
    unmatched_a = {layer.name for layer in matching.only_a}
    folded: set[str] = set()
    compared = []
    for pair in matching.pairs:
        try:
            values_a = channel_values(side_a, pair.a)
            values_b = scaled_like(channel_values(side_b, pair.b), values_a)
        except FilterError as error:  # a weight its own layer contradicts: nothing to compare
            compared.append((pair, None, None, WeightDiff("", "", (), skipped=str(error))))
            continue
        weights = _compare(pair, side_a, side_b, values_a, values_b, unmatched_a)
        if weights.fold is not None and weights.agrees and weights.fold.bn != pair.b.name:
            folded.add(weights.fold.bn)
        compared.append((pair, values_a, values_b, weights))
    found, how, explained = _outputs(manager, side_a, side_b, compared, feeding) if outputs else ({}, "", 0.0)
    final, note = _final(model_a, model_b, compared, feeding, explained) if found else ((), "")
    how = "; ".join(filter(None, (how, note))) if outputs else "not compared (outputs off)"
    layers = tuple(
        LayerDiff(pair.a.name, pair.b.name, pair.a.kind, pair.by, weights, found.get(pair.a.name))
        for pair, _, _, weights in compared
    )
    return DiffResult(
        path_a=model_a.path,
        path_b=model_b.path,
        format_a=model_a.format,
        format_b=model_b.format,
        layers=layers,
        only_a=tuple((x.name, x.source_op) for x in matching.only_a if x.name not in folded),
        only_b=tuple((y.name, y.source_op) for y in matching.only_b),
        outputs=how,
        final=final,
    )
