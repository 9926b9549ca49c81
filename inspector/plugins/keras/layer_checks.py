"""Arguments of Keras' shape-changing layers that Keras refuses, as error findings: a pooling layer's
``pool_size`` and ``strides`` below 1, a negative zero-padding or cropping, an upsampling ``size`` below 1, and a
cropping that leaves nothing of its input.

A conv's arguments are checked by the parameter analyzer on the layer's attributes; these layers are ``other``
layers in the common model, so the loader checks them where it reads them.  Their output shapes stay unknown
where the arguments make no sense (``shapes.py``), so a later layer is not blamed for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspector.model.findings import Finding
from inspector.model.invariants import Violation, axis_values
from inspector.plugins.keras.config import KerasShape, LayerCall
from inspector.plugins.keras.shapes import (
    POOLS,
    as_tuple,
    channels_first,
    class_rank,
    pairs,
    pool_geometry,
    split_channels,
)


def _cropped_away(cropping: Sequence[tuple[int, int]], shape: KerasShape | None, first: bool) -> Violation | None:
    """A cropping that takes every position of a spatial axis (Keras: it must be smaller than the input)."""
    if shape is None:
        return None
    _, spatial = split_channels(shape, first)
    for axis, (size, pair) in enumerate(zip(spatial, cropping, strict=True)):
        if size is not None and min(pair) >= 0 and sum(pair) >= size:
            message = (
                f"cropping {list(pair)} on spatial axis {axis} takes {sum(pair):,} positions from an input of "
                f"{size:,}: nothing is left (Keras needs a cropping smaller than the input)"
            )
            return Violation("cropping", message, {"found": [list(p) for p in cropping], "input": size})
    return None


def _violations(base: str, rank: int, config: dict[str, Any], shape: KerasShape | None) -> list[Violation | None]:
    if base in POOLS:
        pool, strides = pool_geometry(config, rank)
        return [_at_least("pool_size", pool, 1), _at_least("strides", strides, 1)]
    if base == "UpSampling":
        return [_at_least("size", as_tuple(config.get("size", 2), rank, "size"), 1)]
    if base == "ZeroPadding":
        return [_at_least("padding", _flat(pairs(config.get("padding", 1), rank, "padding")), 0)]
    if base == "Cropping":
        cropping = pairs(config.get("cropping", 0), rank, "cropping")
        return [_at_least("cropping", _flat(cropping), 0), _cropped_away(cropping, shape, channels_first(config))]
    return []


def _at_least(name: str, values: Sequence[int], minimum: int) -> Violation | None:
    return axis_values(name, values, len(values), minimum=minimum, rank=len(values))


def _flat(amounts: Sequence[tuple[int, int]]) -> list[int]:
    return [v for pair in amounts for v in pair]


def layer_findings(call: LayerCall, name: str, inputs: Sequence[KerasShape | None]) -> list[Finding]:
    """Error findings on the arguments of one call of a pooling, padding, cropping or upsampling layer (none for
    any other class).  Run after the call was built, so every argument has the type its layer needs."""
    ranked = class_rank(call.class_name)
    if ranked is None:
        return []
    base, rank = ranked
    shape = inputs[0] if inputs else None
    return [
        Finding(severity="error", check=v.check, layer=name, message=v.message, data=dict(v.data))
        for v in _violations(base, rank, call.config, shape)
        if v is not None
    ]
