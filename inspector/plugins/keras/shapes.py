"""Output shapes of Keras layers from their config and input shapes, in Keras' own layout (batch dim ``None``).

Covers convolutions, pooling, global pooling, flatten, reshape, merges, zero-padding, cropping, upsampling,
dense, and the layers that keep their input's shape (activations, dropout, normalization).  Any other layer, an
input shape that is not known, or an argument Keras refuses (a pool size below 1, a cropping that leaves nothing:
``layer_checks.py`` reports them) gives ``None``.  Lengths follow Keras' ``conv_utils`` formulas.

A config value of the wrong type, or an input whose rank the layer cannot take, raises ``LayerConfigError``
where it is read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from inspector.plugins.keras.config import KerasShape, LayerConfigError

SHAPE_KEEPING = frozenset(
    {
        "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax", "Dropout",
        "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
        "AlphaDropout", "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
        "Rescaling", "Normalization", "ActivityRegularization", "Masking", "Identity",
    }
)  # fmt: skip
MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
_RANKED = re.compile(r"^(?P<base>[A-Za-z]+?)(?P<rank>[123])D(?P<tail>[A-Za-z]*)$")
POOLS = frozenset({"MaxPooling", "AveragePooling", "MaxPool", "AvgPool"})
_RESIZES = frozenset({"ZeroPadding", "Cropping", "UpSampling"})


def class_rank(class_name: str) -> tuple[str, int] | None:
    """``"Conv2DTranspose"`` → ``("ConvTranspose", 2)``; ``None`` for classes without a rank suffix."""
    match = _RANKED.match(class_name)
    return (match["base"] + match["tail"], int(match["rank"])) if match else None


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about config values."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def as_tuple(value: Any, rank: int, name: str) -> tuple[int, ...]:
    """A Keras int-or-tuple argument (``kernel_size=3``, ``strides=(2, 1)``) as a ``rank``-tuple of ints."""
    values = (value,) * rank if isinstance(value, int) else tuple(value) if isinstance(value, list | tuple) else ()
    if len(values) != rank or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise LayerConfigError(f"{name} {shown(value)} is not {rank} int(s)")
    return values


def config_int(config: dict[str, Any], key: str, default: int) -> int:
    """The integer a layer config holds at ``key`` (``default`` when absent)."""
    value = config.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise LayerConfigError(f"{key} {shown(value)} is not an integer")
    return value


def require_rank(shape: KerasShape, rank: int, what: str) -> None:
    """Refuse an input of a rank ``what`` (a layer class) cannot take."""
    if len(shape) != rank:
        raise LayerConfigError(f"{what} takes an input of rank {rank}, this one has shape {shape} (rank {len(shape)})")


DATA_FORMATS = ("channels_last", "channels_first")


def channels_first(config: dict[str, Any]) -> bool:
    """Whether the layer's ``data_format`` is ``channels_first`` (any case, as Keras reads it; absent or ``null``:
    Keras' default, ``channels_last``); any other value is refused."""
    value = config.get("data_format")
    if value is None:
        return False
    if not isinstance(value, str) or value.lower() not in DATA_FORMATS:
        raise LayerConfigError(f"data_format {shown(value)} is not channels_last or channels_first")
    return value.lower() == "channels_first"


def split_channels(shape: KerasShape, first: bool) -> tuple[int | None, tuple[int | None, ...]]:
    """``(channels, spatial)`` of a batch-leading shape in either data format."""
    return (shape[1], tuple(shape[2:])) if first else (shape[-1], tuple(shape[1:-1]))


def join_channels(batch: int | None, channels: int | None, spatial: Sequence[int | None], first: bool) -> KerasShape:
    """The inverse of ``split_channels``."""
    return (batch, channels, *spatial) if first else (batch, *spatial, channels)


def conv_length(size: int | None, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    """Output length of a convolution or pooling (``valid``, ``same`` or ``causal``); unknown for a kernel, stride
    or dilation below 1."""
    if size is None or min(kernel, stride, dilation) < 1:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding in ("same", "causal"):
        return -(-size // stride)
    return max(-(-(size - effective + 1) // stride), 0)


def transpose_length(
    size: int | None, kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None
) -> int | None:
    """Output length of a transposed convolution (Keras ``deconv_output_length``)."""
    if size is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == "valid":
            return size * stride + max(effective - stride, 0)
        return size * stride
    pad = effective // 2 if padding == "same" else 0
    return (size - 1) * stride + effective - 2 * pad + output_padding


def pool_geometry(config: dict[str, Any], rank: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A pooling layer's ``pool_size`` and ``strides`` (the pool size when absent or ``null``)."""
    pool = as_tuple(config.get("pool_size", 2), rank, "pool_size")
    return pool, as_tuple(config.get("strides") or pool, rank, "strides")


def _pool(config: dict[str, Any], shape: KerasShape, rank: int) -> KerasShape:
    first = channels_first(config)
    pool, strides = pool_geometry(config, rank)
    padding = config.get("padding", "valid")
    channels, spatial = split_channels(shape, first)
    out = [conv_length(n, k, s, 1, padding) for n, k, s in zip(spatial, pool, strides, strict=True)]
    return join_channels(shape[0], channels, out, first)


def _global_pool(config: dict[str, Any], shape: KerasShape, rank: int) -> KerasShape:
    if len(shape) < 2:
        raise LayerConfigError(f"global pooling takes an input of (batch, ..., channels), this one has shape {shape}")
    first = channels_first(config)
    channels, _ = split_channels(shape, first)
    if config.get("keepdims", False):
        return join_channels(shape[0], channels, (1,) * rank, first)
    return (shape[0], channels)


def pairs(value: Any, rank: int, name: str) -> list[tuple[int, int]]:
    """Zero-padding or cropping amounts: an int, one int per axis, or a (begin, end) pair per axis."""
    if isinstance(value, int):
        return [(value, value)] * rank
    items = list(value) if isinstance(value, list | tuple) else []
    if rank == 1 and len(items) == 2 and all(isinstance(v, int) for v in items):
        return [(items[0], items[1])]
    if len(items) != rank:
        raise LayerConfigError(f"{name} {shown(value)} does not give {rank} axes")
    return [(v, v) if isinstance(v, int) else tuple(as_tuple(v, 2, name)) for v in items]  # type: ignore[misc]


def _resize(config: dict[str, Any], shape: KerasShape, amounts: Sequence[Any], step: Callable) -> KerasShape:
    first = channels_first(config)
    channels, spatial = split_channels(shape, first)
    out = [None if n is None else step(n, a) for n, a in zip(spatial, amounts, strict=True)]
    return join_channels(shape[0], channels, out, first)


def _crop(size: int, amounts: tuple[int, int]) -> int | None:
    """What a cropping leaves of an axis; unknown when Keras refuses it (negative, or nothing left)."""
    return size - sum(amounts) if min(amounts) >= 0 and sum(amounts) < size else None


def _flatten(shape: KerasShape) -> KerasShape:
    if not shape:
        raise LayerConfigError("Flatten takes an input with a batch dimension, this one has shape ()")
    rest = shape[1:]
    return (shape[0], None if any(d is None for d in rest) else math.prod(rest))  # type: ignore[arg-type]


def _reshape(config: dict[str, Any], shape: KerasShape) -> KerasShape | None:
    value = config.get("target_shape", ())
    if not isinstance(value, list | tuple) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise LayerConfigError(f"target_shape {shown(value)} is not a list of ints")
    if value.count(-1) > 1 or any(d < -1 for d in value):
        raise LayerConfigError(f"target_shape {shown(value)} is not sizes of at least 0 with at most one unknown (-1)")
    if not shape:
        raise LayerConfigError("Reshape takes an input with a batch dimension, this one has shape ()")
    target = list(value)
    if any(d is None for d in shape[1:]):
        return None if -1 in target else (shape[0], *target)
    size, rest = math.prod(shape[1:]), math.prod(d for d in target if d != -1)  # type: ignore[misc]
    if (rest == 0 or size % rest) if -1 in target else rest != size:
        raise LayerConfigError(f"target_shape {shown(value)} cannot hold the input's {size:,} values (shape {shape})")
    if -1 in target:
        target[target.index(-1)] = size // rest
    return (shape[0], *target)


def _concatenate(config: dict[str, Any], shapes: Sequence[KerasShape]) -> KerasShape | None:
    axis = config_int(config, "axis", -1)
    if any(len(s) != len(shapes[0]) for s in shapes) or not shapes[0]:
        ranks = ", ".join(str(len(s)) for s in shapes)
        raise LayerConfigError(f"Concatenate joins inputs of one rank (at least 1), these have ranks {ranks}")
    first = list(shapes[0])
    axis %= len(first)
    sizes = [s[axis] for s in shapes]
    first[axis] = None if any(d is None for d in sizes) else sum(sizes)  # type: ignore[arg-type]
    return tuple(first)


def output_shape(class_name: str, config: dict[str, Any], inputs: Sequence[KerasShape | None]) -> KerasShape | None:
    """The output shape of a non-convolution layer, or ``None`` when it cannot be known."""
    if not inputs or any(s is None for s in inputs):
        return None
    shape = inputs[0]
    assert shape is not None
    ranked = class_rank(class_name)
    base, rank = ranked if ranked else (class_name, 0)
    if class_name in SHAPE_KEEPING:
        return shape
    if class_name in MERGES:
        return shape
    if class_name == "Concatenate":
        return _concatenate(config, inputs)  # type: ignore[arg-type]
    if class_name == "Flatten":
        return _flatten(shape)
    if class_name == "Reshape":
        return _reshape(config, shape)
    if class_name == "Dense":
        return (*shape[:-1], config.get("units"))
    if base in POOLS | _RESIZES or (ranked and base.startswith("Global")):
        require_rank(shape, rank + 2, class_name)  # (batch, *spatial, channels), in either data format
    if base in POOLS:
        return _pool(config, shape, rank)
    if base.startswith("Global"):
        return _global_pool(config, shape, rank)
    if base == "ZeroPadding":
        return _resize(
            config,
            shape,
            pairs(config.get("padding", 1), rank, "padding"),
            lambda n, p: n + sum(p) if min(p) >= 0 else None,
        )
    if base == "Cropping":
        return _resize(config, shape, pairs(config.get("cropping", 0), rank, "cropping"), _crop)
    if base == "UpSampling":
        return _resize(
            config, shape, as_tuple(config.get("size", 2), rank, "size"), lambda n, s: n * s if s >= 1 else None
        )
    return None
