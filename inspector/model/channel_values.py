"""A weighted layer's values one row per output channel, for comparing two models: the filter matrix, the bias
(wherever it is stored, as real numbers) and where each channel sits in the file.

Rows are float64: a conv's ``as_matrix()`` (filter ``o`` flattened, in the canonical layout), a dense layer's
canonical ``(out, in)`` weight, a batch norm's ``scale, shift, mean, var`` per channel (Keras' ``gamma``,
``beta``, ``moving_mean``, ``moving_variance``; a parameter the file leaves out takes Keras' default).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from inspector.model import layouts
from inspector.model.common import ConvLayer, DenseLayer, Layer, Weight
from inspector.model.matching import AFFINE, Side

BN_ROLES = {
    "scale": ("scale", "gamma"),
    "shift": ("B", "beta"),
    "mean": ("mean", "moving_mean"),
    "var": ("var", "moving_variance"),
}
BN_DEFAULTS = {"scale": 1.0, "shift": 0.0, "mean": 0.0, "var": 1.0}


@dataclass(frozen=True, slots=True)
class ChannelValues:
    """``rows[o]`` the values of channel ``o``, ``bias[o]`` its bias (``None``: no bias), ``weight`` the stored
    weight the rows come from, ``filter_shape`` the shape of one row before flattening, ``where`` per channel."""

    rows: np.ndarray
    bias: np.ndarray | None
    weight: Weight | None
    filter_shape: tuple[int, ...]
    where: tuple[str, ...]
    bias_where: tuple[str, ...]
    input_scale: float | None = None
    """The quantization step of the layer's input (a QDQ ``DequantizeLinear``'s or a ``QLinearConv``'s
    ``x_scale``): an int8 bias is stored in steps of it times the weight's step."""
    bias_weight: Weight | None = None
    bias_in_input_steps: bool = False
    """``bias`` is in units of the input's step, which the file keeps where no layer holds it (``x_scale`` of
    a ``QLinearConv`` fed by another): :func:`scaled_like` solves it from the other model."""


def _where(weight: Weight, o: int) -> str:
    layout = weight.native_layout or "O"
    index = tuple(o if letter in "OC" else slice(None) for letter in layout)
    return layouts.index_expression(weight.role, index, layout)


def input_scale(side: Side, layer: Layer) -> float | None:
    """The quantization step of ``layer``'s input: a ``QLinearConv``'s ``x_scale``, or the scale of the QDQ
    ``DequantizeLinear`` that makes its input; ``None`` for a float input."""
    if layer.source_op == "QLinearConv" and len(layer.inputs) > 1:
        found = (w for other in side.model.layers for w in other.weights.values() if w.source == layer.inputs[1])
    else:
        makers = [other for other in side.model.layers if layer.inputs and layer.inputs[0] in other.outputs]
        found = (w for m in makers if m.source_op == "DequantizeLinear" for w in m.weights.values())
    scale = next(found, None)
    return None if scale is None or scale.size != 1 else abs(float(scale.native.reshape(-1)[0]))


def _bias_values(layer: Layer, bias: Weight, x_scale: float | None) -> np.ndarray:
    """The bias as real numbers: a ``QLinearConv``'s int32 bias is in steps of ``x_scale·w_scale``."""
    values = bias.native.astype(np.float64).reshape(-1)
    w_scale = next((p for p in getattr(layer, "weight", None).parts if p.role == "w_scale"), None)
    if bias.dtype.startswith("int") and w_scale is not None:
        return values * (x_scale or 1.0) * w_scale.native.astype(np.float64).reshape(-1)
    return values


def channel_values(side: Side, layer: Layer) -> ChannelValues:
    """The values of ``layer`` of ``side``, one row per output channel."""
    if isinstance(layer, ConvLayer | DenseLayer):
        weight = layer.weight
        if isinstance(layer, ConvLayer):
            rows, shape = layer.as_matrix().astype(np.float64), layer.filter_shape
            where = tuple(layer.filter_index(o) for o in range(layer.out_channels))
        else:
            rows, shape = weight.array.astype(np.float64), (layer.in_features,)
            where = tuple(_where(weight, o) for o in range(layer.out_features))
        bias, _ = side.bias(layer)
        x_scale = input_scale(side, layer)
        values = None if bias is None else _bias_values(layer, bias, x_scale)
        bias_where = () if bias is None else tuple(_where(bias, o) for o in range(len(where)))
        unscaled = bias is not None and bias.dtype.startswith("int") and x_scale is None
        return ChannelValues(rows, values, weight, shape, where, bias_where, x_scale, bias, unscaled)
    if layer.source_op == AFFINE:
        scale, shift = layer.weights["scale"], layer.weights["B"]
        where = tuple(f"{_where(scale, o)}, {_where(shift, o)}" for o in range(scale.size))
        rows = scale.native.astype(np.float64).reshape(-1, 1)
        return ChannelValues(rows, shift.native.astype(np.float64).reshape(-1), scale, (1,), where, ())
    found = {
        key: next((layer.weights[r] for r in roles if r in layer.weights), None) for key, roles in BN_ROLES.items()
    }
    count = next(w.size for w in found.values() if w is not None)
    columns = [
        np.full(count, BN_DEFAULTS[key]) if w is None else w.native.astype(np.float64).reshape(-1)
        for key, w in found.items()
    ]
    where = tuple(", ".join(_where(w, o) for w in found.values() if w is not None) for o in range(count))
    first = next(w for w in found.values() if w is not None)
    return ChannelValues(np.stack(columns, axis=1), None, first, (len(columns),), where, ())


def bn_factors(values: ChannelValues, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """A batch norm's per-channel ``(scale, shift)``: ``y = scale·x + shift``."""
    gamma, beta, mean, var = values.rows.T
    scale = gamma / np.sqrt(var + epsilon)
    return scale, beta - mean * scale


def identity(values: ChannelValues) -> ChannelValues:
    """A batch norm's channels as the identity ``y = 1·x + 0``, to compare a BN with its factors (a ``Mul`` and
    an ``Add``) as a BN folded into the identity."""
    count = len(values.rows)
    return ChannelValues(np.ones((count, 1)), np.zeros(count), None, (1,), values.where, ())


def scaled_like(values: ChannelValues, reference: ChannelValues) -> ChannelValues:
    """``values`` with a bias in units of an input step no layer holds brought to real numbers: the step is the
    median over channels of ``reference``'s bias over these units (a wrong channel stands out against it)."""
    if not values.bias_in_input_steps or reference.bias is None or values.bias is None:
        return values
    usable = values.bias != 0
    if not usable.any():
        return values
    step = abs(float(np.median(reference.bias[usable] / values.bias[usable])))
    return replace(values, bias=values.bias * step, input_scale=step, bias_in_input_steps=False)
