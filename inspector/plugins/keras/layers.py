"""One Keras layer call into common-model layers: convolutions (a SeparableConv becomes two), dense, BatchNorm,
and everything else as ``other``.

Keras shapes are worked out in Keras' own layout; the common model shows every tensor of rank ≥ 3
channels-first (``N, C, *spatial``), as ONNX does.  ``same`` padding becomes explicit pads with the odd pixel at
the end (TensorFlow), ``causal`` pads only the start, and a transposed conv's Keras output length becomes ONNX
pads plus ``output_padding``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.model.common import ConvLayer, DenseLayer, Layer, Shape, Weight
from inspector.model.layouts import keras_conv_layout
from inspector.plugins.keras.config import KerasShape, LayerCall, LayerConfigError
from inspector.plugins.keras.hdf5_access import read_array
from inspector.plugins.keras.padding import keras_pads, transpose_pads
from inspector.plugins.keras.shapes import (
    as_tuple,
    channels_first,
    class_rank,
    config_int,
    conv_length,
    join_channels,
    output_shape,
    require_rank,
    split_channels,
    transpose_length,
)
from inspector.plugins.keras.weights import NON_TRAINABLE_ROLES, StoredWeight

CONV_BASES = {
    "Conv": "conv",
    "Convolution": "conv",
    "DepthwiseConv": "depthwise",
    "SeparableConv": "separable",
    "SeparableConvolution": "separable",
    "ConvTranspose": "conv_transpose",
    "ConvolutionTranspose": "conv_transpose",
    "Deconvolution": "conv_transpose",
}


@dataclass(frozen=True, slots=True)
class BuiltCall:
    """The layers one call became and its output shape in Keras' layout."""

    layers: tuple[Layer, ...]
    output: KerasShape | None


def conv_family(class_name: str) -> tuple[str, int] | None:
    """``("conv" | "depthwise" | "separable" | "conv_transpose", rank)`` for a Keras conv class."""
    ranked = class_rank(class_name)
    if ranked is None or ranked[0] not in CONV_BASES:
        return None
    return CONV_BASES[ranked[0]], ranked[1]


def common_shape(shape: KerasShape | None, first: bool) -> Shape | None:
    """A Keras shape as the common model shows it: batch ``N``, unknown ``?``, channels-first at rank ≥ 3."""
    if shape is None:
        return None
    dims: list[int | str] = ["N" if shape[0] is None else shape[0]] if shape else []
    dims += ["?" if d is None else d for d in shape[1:]]
    if len(dims) >= 3 and not first:
        dims.insert(1, dims.pop())
    return tuple(dims)


def make_weight(stored: StoredWeight, layout: str, trainable: bool) -> Weight:
    """A lazy ``Weight`` over one HDF5 dataset (its values are read into memory on first use)."""

    def read() -> np.ndarray:
        return read_array(stored.dataset, f"weight {stored.source}")

    return Weight(
        role=stored.role,
        source=stored.source,
        native_shape=stored.shape,
        native_layout=layout,
        dtype=stored.dtype,
        trainable=trainable and stored.role not in NON_TRAINABLE_ROLES,
        read_native=read,
    )


def _conv_layer(weight: Weight, bias: Weight | None, **fields: Any) -> ConvLayer:
    return ConvLayer(weights={w.role: w for w in (weight, bias) if w is not None}, weight=weight, bias=bias, **fields)


@dataclass(frozen=True, slots=True)
class _ConvCall:
    """What every conv kind needs: the call, its attributes, its input and its weights by role."""

    call: LayerCall
    name: str
    rank: int
    first: bool
    kernel: StoredWeight
    roles: dict[str, StoredWeight]
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    padding: str
    in_shape: KerasShape | None

    @property
    def kernel_native(self) -> tuple[int, ...]:
        return self.kernel.shape

    @property
    def split_input(self) -> tuple[int | None, tuple[int | None, ...] | None]:
        if self.in_shape is None:
            return None, None
        return split_channels(self.in_shape, self.first)

    @property
    def batch(self) -> int | None:
        return self.in_shape[0] if self.in_shape else None

    def weight(self, stored: StoredWeight, part: str) -> Weight:
        return make_weight(stored, keras_conv_layout(self.rank, part), self.call.trainable)

    def bias(self) -> Weight | None:
        stored = self.roles.get("bias")
        return make_weight(stored, "O", self.call.trainable) if stored is not None else None

    def fields(self, out_shape: KerasShape | None, **overrides: Any) -> dict[str, Any]:
        activation = self.call.config.get("activation")
        fields = {
            "name": self.name,
            "kind": "conv",
            "source_op": self.call.class_name,
            "source_layer": self.name,
            "inputs": self.call.inputs,
            "outputs": self.call.outputs,
            "input_shape": common_shape(self.in_shape, self.first),
            "output_shape": common_shape(out_shape, self.first),
            "activation": None if activation in (None, "linear") else str(activation),
            "rank": self.rank,
            "kernel_shape": self.kernel_size,
            "strides": self.strides,
            "dilations": self.dilations,
        }
        fields.update(overrides)
        return fields

    def out_spatial(self) -> list[int | None]:
        _, spatial = self.split_input
        sizes = spatial or (None,) * self.rank
        return [
            conv_length(n, k, s, d, self.padding)
            for n, k, s, d in zip(sizes, self.kernel_size, self.strides, self.dilations, strict=True)
        ]

    def pads(self) -> tuple[int, ...] | None:
        _, spatial = self.split_input
        return keras_pads(self.padding, spatial, self.kernel_size, self.strides, self.dilations)


def _conv_call(
    call: LayerCall, name: str, kind: str, rank: int, weights: Sequence[StoredWeight], inputs, first
) -> _ConvCall:
    config = call.config
    roles = {w.role: w for w in weights}
    kernel_role = "depthwise_kernel" if kind in ("separable", "depthwise") else "kernel"
    kernel = roles.get(kernel_role) or roles.get("kernel")
    if kernel is None:
        raise LayerConfigError(f"has no {kernel_role} weight (weights: {', '.join(roles) or 'none'})")
    if kernel.ndim != rank + 2:
        raise LayerConfigError(f"kernel has shape {kernel.shape}, not that of a {rank}-D kernel")
    in_shape = inputs[0] if inputs else None
    if in_shape is not None:
        require_rank(in_shape, rank + 2, call.class_name)  # (batch, *spatial, channels), in either data format
    return _ConvCall(
        call=call,
        name=name,
        rank=rank,
        first=first,
        kernel=kernel,
        roles=roles,
        kernel_size=as_tuple(config.get("kernel_size", kernel.shape[:rank]), rank, "kernel_size"),
        strides=as_tuple(config.get("strides", 1), rank, "strides"),
        dilations=as_tuple(config.get("dilation_rate", 1), rank, "dilation_rate"),
        padding=str(config.get("padding", "valid")).lower(),
        in_shape=in_shape,
    )


def _plain_conv(conv: _ConvCall) -> BuiltCall:
    groups = config_int(conv.call.config, "groups", 1)
    channels, _ = conv.split_input
    out_channels = conv.kernel_native[-1]
    out_shape = join_channels(conv.batch, out_channels, conv.out_spatial(), conv.first)
    layer = _conv_layer(
        conv.weight(conv.kernel, "conv"),
        conv.bias(),
        **conv.fields(
            out_shape,
            in_channels=channels if isinstance(channels, int) else conv.kernel_native[-2] * groups,
            out_channels=out_channels,
            groups=groups,
            pads=conv.pads(),
        ),
    )
    return BuiltCall((layer,), out_shape)


def _depthwise_conv(conv: _ConvCall) -> BuiltCall:
    channels, _ = conv.split_input
    in_channels = channels if isinstance(channels, int) else conv.kernel_native[-2]
    out_channels = conv.kernel_native[-2] * conv.kernel_native[-1]
    out_shape = join_channels(conv.batch, out_channels, conv.out_spatial(), conv.first)
    layer = _conv_layer(
        conv.weight(conv.kernel, "depthwise"),
        conv.bias(),
        **conv.fields(
            out_shape,
            in_channels=in_channels,
            out_channels=out_channels,
            groups=conv.kernel_native[-2],
            pads=conv.pads(),
        ),
    )
    return BuiltCall((layer,), out_shape)


def _separable_conv(conv: _ConvCall) -> BuiltCall:
    """A depthwise step (strides, dilation, padding) then a 1×1 pointwise step (bias, activation)."""
    pointwise = conv.roles.get("pointwise_kernel")
    if pointwise is None or pointwise.ndim != conv.rank + 2:
        raise LayerConfigError("has no pointwise_kernel of the right rank")
    depth = _depthwise_conv(conv)
    depth_layer = depth.layers[0]
    assert isinstance(depth_layer, ConvLayer) and depth_layer.weight is not None
    middle = tuple(f"{t}/depthwise" for t in conv.call.outputs)
    out_channels = pointwise.shape[-1]
    out_shape = join_channels(conv.batch, out_channels, conv.out_spatial(), conv.first)
    rank = conv.rank
    first_step = _conv_layer(
        depth_layer.weight,
        None,
        **conv.fields(
            depth.output,
            name=f"{conv.name}/depthwise",
            outputs=middle,
            activation=None,
            in_channels=depth_layer.in_channels,
            out_channels=depth_layer.out_channels,
            groups=depth_layer.groups,
            pads=depth_layer.pads,
        ),
    )
    second_step = _conv_layer(
        conv.weight(pointwise, "conv"),
        conv.bias(),
        **conv.fields(
            out_shape,
            name=f"{conv.name}/pointwise",
            inputs=middle,
            input_shape=common_shape(depth.output, conv.first),
            in_channels=depth_layer.out_channels,
            out_channels=out_channels,
            groups=1,
            kernel_shape=(1,) * rank,
            strides=(1,) * rank,
            dilations=(1,) * rank,
            pads=(0,) * (2 * rank),
        ),
    )
    return BuiltCall((first_step, second_step), out_shape)


def _transposed_conv(conv: _ConvCall) -> BuiltCall:
    config = conv.call.config
    rank = conv.rank
    channels, spatial = conv.split_input
    output_padding = config.get("output_padding")
    output_padding = None if output_padding is None else as_tuple(output_padding, rank, "output_padding")
    resolved = transpose_pads(conv.padding, spatial, conv.kernel_size, conv.strides, conv.dilations, output_padding)
    out_spatial = [
        transpose_length(n, k, s, d, conv.padding, None if output_padding is None else output_padding[axis])
        for axis, (n, k, s, d) in enumerate(
            zip(spatial or (None,) * rank, conv.kernel_size, conv.strides, conv.dilations, strict=True)
        )
    ]
    out_channels = conv.kernel_native[-2]
    out_shape = join_channels(conv.batch, out_channels, out_spatial, conv.first)
    layer = _conv_layer(
        conv.weight(conv.kernel, "conv_transpose"),
        conv.bias(),
        **conv.fields(
            out_shape,
            kind="conv_transpose",
            in_channels=channels if isinstance(channels, int) else conv.kernel_native[-1],
            out_channels=out_channels,
            groups=config_int(config, "groups", 1),
            pads=None if resolved is None else resolved[0],
            output_padding=None if resolved is None else resolved[1],
        ),
    )
    return BuiltCall((layer,), out_shape)


_CONV_BUILDERS = {
    "conv": _plain_conv,
    "depthwise": _depthwise_conv,
    "separable": _separable_conv,
    "conv_transpose": _transposed_conv,
}


def _dense(call: LayerCall, name: str, weights: Sequence[StoredWeight], inputs, first: bool) -> BuiltCall:
    roles = {w.role: w for w in weights}
    kernel = roles.get("kernel")
    if kernel is None or kernel.ndim != 2:
        raise LayerConfigError("has no 2-D kernel weight")
    weight = make_weight(kernel, "IO", call.trainable)
    bias = make_weight(roles["bias"], "O", call.trainable) if "bias" in roles else None
    in_shape = inputs[0] if inputs else None
    out_shape = output_shape("Dense", {"units": kernel.shape[1]}, inputs)
    activation = call.config.get("activation")
    layer = DenseLayer(
        name=name,
        kind="dense",
        source_op=call.class_name,
        inputs=call.inputs,
        outputs=call.outputs,
        input_shape=common_shape(in_shape, first),
        output_shape=common_shape(out_shape, first),
        weights={w.role: w for w in (weight, bias) if w is not None},
        activation=None if activation in (None, "linear") else str(activation),
        in_features=kernel.shape[0],
        out_features=kernel.shape[1],
        weight=weight,
        bias=bias,
    )
    return BuiltCall((layer,), out_shape)


def _epsilon(config: dict) -> float | None:
    """A BatchNormalization's epsilon (Keras' default 1e-3); ``None`` when no config states it (weights only)."""
    value = config.get("epsilon", 1e-3) if config else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _plain(call: LayerCall, name: str, weights: Sequence[StoredWeight], inputs, first: bool) -> BuiltCall:
    """BatchNormalization (per-channel vectors) or any other layer (weights kept as stored)."""
    batch_norm = call.class_name == "BatchNormalization"
    out_shape = output_shape(call.class_name, call.config, inputs)
    activation = call.config.get("activation") if call.class_name == "Activation" else None
    layer = Layer(
        name=name,
        kind="batch_norm" if batch_norm else "other",
        source_op=call.class_name,
        inputs=call.inputs,
        outputs=call.outputs,
        input_shape=common_shape(inputs[0] if inputs else None, first),
        output_shape=common_shape(out_shape, first),
        weights={w.role: make_weight(w, "C" if batch_norm else "", call.trainable) for w in weights},
        activation=activation,
        epsilon=_epsilon(call.config) if batch_norm else None,
    )
    return BuiltCall((layer,), out_shape)


def build_call(
    call: LayerCall, name: str, weights: Sequence[StoredWeight], inputs: Sequence[KerasShape | None], first: bool
) -> BuiltCall:
    """The common-model layers of one Keras layer call, and its output shape (Keras layout).

    ``first`` is whether tensors around this layer are channels-first (its ``data_format``, else the model's).
    Raises ``LayerConfigError`` for a config or weight that contradicts itself.
    """
    first = channels_first(call.config) if "data_format" in call.config else first
    family = conv_family(call.class_name)
    if family is not None:
        kind, rank = family
        return _CONV_BUILDERS[kind](_conv_call(call, name, kind, rank, weights, inputs, first))
    if call.class_name == "Dense":
        return _dense(call, name, weights, inputs, first)
    return _plain(call, name, weights, inputs, first)
