"""Filter slicing: the filter behind each output channel, its kernels F_ij, and where it sits in the file.

Output map ``o`` of a conv is ``b_o + sum_i x_i * F_io`` over the input maps ``i`` of its group.  Everything here
is driven by the layout strings of ``inspector.model.layouts`` and the weight's role, so a Keras ``HWIO`` kernel and the
same kernel stored ``OIHW`` by ONNX give the same filters.  Arrays handed out are read-only views of the lazily
read weight (``as_matrix`` of a transposed conv is a read-only copy).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np

from inspector.errors import FilterError
from inspector.model import invariants, layouts

if TYPE_CHECKING:
    from inspector.model.common import ConvLayer, Weight

_CANONICAL = {"conv": "OI", "conv_transpose": "IO"}
"""The canonical layouts' leading axes; the spatial axes after them stay whole."""


def checked_weight(layer: ConvLayer) -> Weight:
    """The layer's weight, when it is stored and keeps the invariants of :mod:`inspector.model.invariants`.

    Raises ``FilterError`` naming the first broken rule, or the canonical shape the attributes promise when it is
    the weight's shape that disagrees.
    """
    weight = layer.weight
    if weight is None:
        raise FilterError(f"layer {layer.name}: the weight is computed at run time, not stored: no filters to slice")
    violations = invariants.layer_weight_violations(layer)
    if not violations:
        return weight
    first = violations[0]
    if first.check != "groups":
        expected = invariants.canonical_weight_shape(
            layer.kind,
            in_channels=layer.in_channels,
            out_channels=layer.out_channels,
            groups=layer.groups,
            kernel_shape=layer.kernel_shape,
        )
        if weight.shape != expected:
            raise FilterError(
                f"layer {layer.name}: weight {weight.source} has canonical shape {list(weight.shape)}, "
                f"the layer's attributes promise {list(expected)}"
            )
    raise FilterError(f"layer {layer.name}: {first.message}")


def _integer(layer: ConvLayer, value: object, what: str, count: int) -> int:
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise FilterError(f"layer {layer.name}: {what} must be an integer, got {value!r}") from None
    if not 0 <= number < count:
        raise FilterError(f"layer {layer.name}: no {what} {number}; it has {count} {what}s (0…{count - 1})")
    return number


def _selector(layer: ConvLayer, layout: str, o: int) -> layouts.Index:
    return layouts.filter_selector(
        layout,
        o,
        transposed=layer.kind == "conv_transpose",
        in_channels=layer.in_channels,
        out_channels=layer.out_channels,
        groups=layer.groups,
    )


def _native_layout(layer: ConvLayer, weight: Weight) -> str:
    # "" means "kept as stored", which for a conv weight (an ONNX conv of rank > 3) is the canonical layout
    return weight.native_layout or _CANONICAL[layer.kind]


def filter_values(layer: ConvLayer, o: int, layout: Literal["canonical", "native"] = "canonical") -> np.ndarray:
    """The filter producing output channel ``o``: canonical ``(in/groups, *kernel)``, or as the file stores it."""
    weight = checked_weight(layer)
    o = _integer(layer, o, "output channel", layer.out_channels)
    if layout == "canonical":
        return weight.array[_selector(layer, _CANONICAL[layer.kind], o)]
    if layout == "native":
        return weight.native[_selector(layer, _native_layout(layer, weight), o)]
    raise ValueError(f"layout must be 'canonical' or 'native', got {layout!r}")


def filter_index(layer: ConvLayer, o: int) -> str:
    """Where filter ``o`` sits in the file, as NumPy code on the stored array named by its role: ``W[5]``."""
    weight = checked_weight(layer)
    o = _integer(layer, o, "output channel", layer.out_channels)
    layout = _native_layout(layer, weight)
    return layouts.index_expression(weight.role, _selector(layer, layout, o), layout)


def input_channels(layer: ConvLayer, o: int) -> range:
    """The input maps filter ``o`` reads: its group's range."""
    o = _integer(layer, o, "output channel", layer.out_channels)
    groups = max(layer.groups, 1)
    group = o // (layer.out_channels // groups)
    per_group = layer.in_channels // groups
    return range(group * per_group, (group + 1) * per_group)


def kernel(layer: ConvLayer, i: int, o: int) -> np.ndarray:
    """F_io: the ``kernel_shape`` kernel joining input map ``i`` to output map ``o``."""
    values = filter_values(layer, o)
    i = _integer(layer, i, "input map", layer.in_channels)
    reads = input_channels(layer, o)
    if i not in reads:
        raise FilterError(
            f"layer {layer.name}: output map {o} does not read input map {i}; its group "
            f"({o // (layer.out_channels // layer.groups)}) reads input maps {reads.start}…{reads.stop - 1}"
        )
    return values[i - reads.start]


def iter_filters(layer: ConvLayer) -> Iterator[np.ndarray]:
    """Every canonical filter, output channel 0 first."""
    for o in range(layer.out_channels):
        yield filter_values(layer, o)


def filter_matrix(layer: ConvLayer) -> np.ndarray:
    """All filters as rows: ``out × (in/groups · prod(kernel))``, row ``o`` being ``filter(o)`` flattened."""
    array = checked_weight(layer).array
    if layer.kind == "conv_transpose":
        groups = layer.groups
        per_group_out = layer.out_channels // groups
        grouped = array.reshape(groups, layer.in_channels // groups, per_group_out, math.prod(layer.kernel_shape))
        matrix = grouped.transpose(0, 2, 1, 3).reshape(layer.out_channels, -1)
    else:
        matrix = array.reshape(layer.out_channels, math.prod(layer.filter_shape))
    matrix.flags.writeable = False
    return matrix
