"""Layer matching between two models: which layer of B holds what a layer of A holds.

Only layers that hold weights are matched (conv, transposed conv, dense, batch norm); the rest carry no values to
compare.  Four passes, each on what the earlier ones left: equal names; names that survived a conversion (a Keras
layer ``conv1`` is a path part of tf2onnx's ``model/conv1/BiasAdd``); the same without Keras' ``_1`` suffixes, only
where that leaves one candidate on each side; then graph order within each kind and shape (signature).
What is left on either side is listed, never guessed.  A layer split in two keeps its parts in order (a Keras
``SeparableConv2D`` is a depthwise and a pointwise conv, as tf2onnx writes it), and a bias stored as a separate
``Add`` after a conv or dense layer (tf2onnx's 1-D convs, ``MatMul`` + ``Add``) belongs to that layer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from inspector.model.common import ConvLayer, DenseLayer, Layer, Model, Weight

MATCHED_KINDS = ("conv", "conv_transpose", "dense", "batch_norm")
PASS_THROUGH = ("Squeeze", "Unsqueeze", "Reshape", "Identity")
"""Ops between a layer and its bias ``Add`` that keep every value where it is, for a bias per channel."""
AFFINE = "Mul+Add"
"""The ``source_op`` of a batch norm computed as a ``Mul`` and an ``Add`` (tf2onnx writes Keras 3's that way)."""
LINEAR = (None, "", "linear")
"""Fused activations that leave a conv linear, so that a BatchNormalization after it can be folded into it."""


@dataclass(frozen=True, slots=True)
class Side:
    """One model's layers as matching sees them: each weighted layer, its separate bias ``Add`` (if any) and the
    BatchNormalization that directly follows it (if any)."""

    model: Model
    layers: tuple[Layer, ...]
    bias_adds: dict[str, tuple[Layer, Weight]]
    following_bn: dict[str, Layer]

    def bias(self, layer: Layer) -> tuple[Weight | None, Layer | None]:
        """The layer's bias and, when it is stored in an ``Add`` of its own, that layer."""
        own = getattr(layer, "bias", None)
        if own is not None:
            return own, None
        separate = self.bias_adds.get(layer.name)
        return (separate[1], separate[0]) if separate else (None, None)


@dataclass(frozen=True, slots=True)
class Pair:
    """Layer ``a`` of A and ``b`` of B hold the same values, found ``by`` name or by order."""

    a: Layer
    b: Layer
    by: str


@dataclass(frozen=True, slots=True)
class Matching:
    """The pairs in A's order, and the weighted layers of each side left without a partner."""

    pairs: tuple[Pair, ...]
    only_a: tuple[Layer, ...]
    only_b: tuple[Layer, ...]


def channels(layer: Layer) -> int | None:
    """Output channels (features) of a weighted layer."""
    if isinstance(layer, ConvLayer):
        return layer.out_channels
    if isinstance(layer, DenseLayer):
        return layer.out_features
    sizes = {weight.size for weight in layer.weights.values()}
    return sizes.pop() if len(sizes) == 1 else None


def signature(layer: Layer) -> tuple:
    """What two layers holding the same values share: kind, channels and the kernel without its unit dims (a 1-D
    conv of kernel 3 and the 2-D 1×3 conv tf2onnx makes of it have one signature)."""
    if isinstance(layer, ConvLayer):
        kernel = tuple(k for k in layer.kernel_shape if k != 1)
        return (layer.kind, layer.out_channels, layer.in_channels // max(layer.groups, 1), kernel)
    if isinstance(layer, DenseLayer):
        return (layer.kind, layer.out_features, layer.in_features)
    return (layer.kind, channels(layer))


def _consumers(model: Model) -> dict[str, list[Layer]]:
    found: dict[str, list[Layer]] = {}
    for layer in model.layers:
        for tensor in layer.inputs:
            found.setdefault(tensor, []).append(layer)
    return found


def _next_layer(layer: Layer, consumers: dict[str, list[Layer]], skip: tuple[str, ...]) -> Layer | None:
    """The one layer reading ``layer``'s output, past single-reader ops of ``skip``; ``None`` when not one."""
    current = layer
    while current.outputs and len(readers := consumers.get(current.outputs[0], [])) == 1:
        current = readers[0]
        if current.source_op not in skip:
            return current
    return None


def _separate_bias(layer: Layer, consumers: dict[str, list[Layer]]) -> tuple[Layer, Weight] | None:
    if not isinstance(layer, ConvLayer | DenseLayer) or layer.bias is not None:
        return None
    add = _next_layer(layer, consumers, PASS_THROUGH)
    if add is None or add.source_op != "Add" or len(add.weights) != 1:
        return None
    weight = next(iter(add.weights.values()))
    return (add, weight) if weight.size == channels(layer) and weight.dtype.startswith("float") else None


def _one_float_weight(layer: Layer) -> Weight | None:
    weights = list(layer.weights.values())
    return weights[0] if len(weights) == 1 and weights[0].dtype.startswith("float") else None


def _affine(layer: Layer, consumers: dict[str, list[Layer]]) -> Layer | None:
    """A ``Mul`` by a per-channel constant then an ``Add`` of one (tf2onnx's BatchNormalization) as one batch norm
    layer of ``source_op`` :data:`AFFINE`, weights ``scale`` and ``B``; else ``None``."""
    scale = _one_float_weight(layer) if layer.source_op == "Mul" and not layer.constant else None
    add = _next_layer(layer, consumers, ()) if scale is not None else None
    shift = _one_float_weight(add) if add is not None and add.source_op == "Add" else None
    if shift is None or shift.size != scale.size or scale.size < 2:
        return None
    weights = {"scale": scale, "B": shift}
    return Layer(
        name=layer.name,
        kind="batch_norm",
        source_op=AFFINE,
        inputs=layer.inputs,
        outputs=add.outputs,
        input_shape=layer.input_shape,
        output_shape=add.output_shape,
        weights=weights,
    )


def side(model: Model) -> Side:
    """``model`` prepared for matching."""
    consumers = _consumers(model)
    layers = tuple(
        found
        for layer in model.layers
        if (found := layer if layer.kind in MATCHED_KINDS and not layer.constant else _affine(layer, consumers))
    )
    bias_adds = {layer.name: found for layer in layers if (found := _separate_bias(layer, consumers)) is not None}
    following = {}
    for layer in layers:
        nxt = _next_layer(layer, consumers, ())
        if isinstance(layer, ConvLayer) and layer.activation in LINEAR and nxt is not None and nxt.kind == "batch_norm":
            following[layer.name] = nxt
    return Side(model, layers, bias_adds, following)


def _stripped(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


def _parts(layer: Layer, strip: bool) -> set[str]:
    parts = set(layer.name.split("/")) | {layer.source_layer}
    return parts | {_stripped(part) for part in parts} if strip else parts


def _own(layer: Layer, strip: bool) -> set[str]:
    return {layer.source_layer, _stripped(layer.source_layer)} if strip else {layer.source_layer}


def _index(layers: list[Layer], keys) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for position, layer in enumerate(layers):
        for key in keys(layer):
            found.setdefault(key, []).append(position)
    return found


def _candidates(a: list[Layer], b: list[Layer], strip: bool) -> list[list[int]]:
    """For each layer of ``a``, the positions in ``b`` of the layers sharing its signature whose name holds its
    name as a path part, or whose name is a path part of its (Keras' ``_1`` suffixes dropped when ``strip``)."""
    parts_b, own_b = _index(b, lambda y: _parts(y, strip)), _index(b, lambda y: _own(y, strip))
    signatures = [signature(y) for y in b]
    found = []
    for layer in a:
        near = {p for key in _own(layer, strip) for p in parts_b.get(key, ())}
        near |= {p for key in _parts(layer, strip) for p in own_b.get(key, ())}
        wanted = signature(layer)
        found.append(sorted(p for p in near if signatures[p] == wanted))
    return found


def _by_name(a: list[Layer], b: list[Layer], how: str) -> Iterator[tuple[Layer, Layer]]:
    """Layers of ``a`` and ``b`` of one signature paired by name: ``exact`` equal names; ``parts`` each with the
    first unpaired layer whose name path holds it; ``stripped`` the same with suffixes dropped, only where the
    pair is the one candidate of both its layers (``conv_1`` and ``conv_2`` are both ``conv``)."""
    if how == "exact":
        names = _index(b, lambda y: {y.name})
        wanted = [signature(y) for y in b]
        candidates = [[p for p in names.get(x.name, ()) if wanted[p] == signature(x)] for x in a]
    else:
        candidates = _candidates(a, b, how == "stripped")
    counts: dict[int, int] = {}
    for found in candidates:
        for position in found:
            counts[position] = counts.get(position, 0) + 1
    taken: set[int] = set()
    for layer, found in zip(a, candidates, strict=True):
        if how == "stripped" and (len(found) != 1 or counts[found[0]] != 1):
            continue
        position = next((p for p in found if p not in taken), None)
        if position is not None:
            taken.add(position)
            yield layer, b[position]


def _by_order(a: list[Layer], b: list[Layer]) -> list[tuple[int, int]]:
    """Index pairs of the layers of each signature, in graph order on both sides (the longest common subsequence
    of one signature's layers)."""
    buckets: dict[tuple, tuple[list[int], list[int]]] = {}
    for side_index, layers in enumerate((a, b)):
        for position, layer in enumerate(layers):
            buckets.setdefault(signature(layer), ([], []))[side_index].append(position)
    return [pair for in_a, in_b in buckets.values() for pair in zip(in_a, in_b, strict=False)]


def match(a: Side, b: Side) -> Matching:
    """Pair the weighted layers of ``a`` and ``b`` (module docstring); separate bias ``Add`` layers are not
    layers of their own here."""
    absorbed_a = {add.name for add, _ in a.bias_adds.values()}
    absorbed_b = {add.name for add, _ in b.bias_adds.values()}
    left_a = [layer for layer in a.layers if layer.name not in absorbed_a]
    left_b = [layer for layer in b.layers if layer.name not in absorbed_b]
    pairs: list[Pair] = []
    for how in ("exact", "parts", "stripped"):
        found = list(_by_name(left_a, left_b, how))
        pairs += [Pair(x, y, "name") for x, y in found]
        paired = {id(layer) for pair in found for layer in pair}
        left_a = [x for x in left_a if id(x) not in paired]
        left_b = [y for y in left_b if id(y) not in paired]
    ordered = _by_order(left_a, left_b)
    pairs += [Pair(left_a[i], left_b[j], "order") for i, j in ordered]
    paired_a = {id(p.a) for p in pairs}
    paired_b = {id(p.b) for p in pairs}
    position = {id(layer): n for n, layer in enumerate(a.layers)}
    pairs.sort(key=lambda p: position.get(id(p.a), math.inf))
    return Matching(
        pairs=tuple(pairs),
        only_a=tuple(x for x in left_a if id(x) not in paired_a),
        only_b=tuple(y for y in left_b if id(y) not in paired_b),
    )
