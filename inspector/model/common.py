"""The common model every loader produces: a ``Model`` of ``Layer``s holding lazy ``Weight``s.

Everything is frozen and filled at load time.  Weight bytes are not: a ``Weight`` knows its shape, layout and
where it lives in the file, and reads its array on first use.  So a model keeps its file open (an HDF5 file, a
memory map) until ``Model.close()``, or the end of a ``with`` block; arrays read before that stay valid after it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

import numpy as np

from inspector.errors import LoadError
from inspector.model import layouts
from inspector.model import slicing as filter_slicing
from inspector.model.findings import Finding
from inspector.model.mapped import mapped_file

Dim = int | str
"""One dimension of a tensor shape: an int, a symbolic name, or ``"?"`` when unknown."""
Shape = tuple[Dim, ...]

LayerKind = Literal["conv", "conv_transpose", "dense", "batch_norm", "other"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorInfo:
    """A named tensor at the model's boundary: its shape (``None`` when unknown) and dtype."""

    name: str
    shape: Shape | None
    dtype: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Weight:
    """One stored parameter tensor, read lazily.

    ``shape`` is the canonical shape (DESIGN.md's layouts); ``native_shape``/``native_layout`` describe the
    array as the file stores it, and ``source`` says where (an HDF5 dataset path, an ONNX initializer name).
    ``read_native`` returns the stored array; it runs at most once, and never once its model is closed.
    ``parts`` are the weights this one is computed from (a dequantized weight's integers and scales), closed
    with it.
    """

    role: str
    source: str
    native_shape: tuple[int, ...]
    native_layout: str
    dtype: str
    trainable: bool = True
    read_native: Callable[[], np.ndarray] = field(repr=False)
    parts: tuple[Weight, ...] = field(default=(), repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """The canonical shape."""
        return layouts.canonical_shape(self.native_shape, self.native_layout)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.native_shape)

    @property
    def native(self) -> np.ndarray:
        """The array as stored in the file (read-only)."""
        if "native" not in self._cache:
            if "closed" in self._cache:
                raise LoadError(
                    f"{self._cache['closed']}: weight {self.source} was not read before the model was closed "
                    "(read the weights you need inside the `with` block, or before `close()`)"
                )
            array = np.asarray(self.read_native())
            if tuple(array.shape) != self.native_shape:
                raise LoadError(
                    f"weight {self.source}: the file declares shape {self.native_shape} but holds {tuple(array.shape)}"
                )
            array.flags.writeable = False
            self._cache["native"] = array
        return self._cache["native"]

    @property
    def array(self) -> np.ndarray:
        """The array in the canonical layout (read-only)."""
        if "canonical" not in self._cache:
            array = np.ascontiguousarray(layouts.to_canonical(self.native, self.native_layout))
            array.flags.writeable = False
            self._cache["canonical"] = array
        return self._cache["canonical"]

    def held(self) -> dict:
        """What this weight holds in memory now, for :meth:`restore`."""
        return dict(self._cache)

    def restore(self, held: dict) -> None:
        """Drop the arrays read since ``held = self.held()`` (a weight whose model was closed keeps them)."""
        if "closed" not in self._cache:
            self._cache.clear()
            self._cache.update(held)

    def _close(self, path: str) -> None:
        """Stop reading from the file of model ``path``: a later first read raises ``LoadError``.

        An array already read from a memory map is copied into memory, so it stays valid once the map is gone.
        Called by ``Model.close()``.
        """
        for part in self.parts:
            part._close(path)
        if mapped_file(self._cache.get("native")):
            self._cache["native"] = _in_memory(self._cache["native"])
            self._cache.pop("canonical", None)  # derived again from the copy, on demand
        if mapped_file(self._cache.get("canonical")):
            self._cache["canonical"] = _in_memory(self._cache["canonical"])
        self._cache["closed"] = path


def _in_memory(array: np.ndarray) -> np.ndarray:
    copy = np.array(array, copy=True, subok=False)
    copy.flags.writeable = False
    return copy


def _frozen_weights(weights: Mapping[str, Weight]) -> Mapping[str, Weight]:
    return MappingProxyType(dict(weights))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Layer:
    """One computation of the model, in topological order.

    ``inputs``/``outputs`` are tensor names; ``input_shape``/``output_shape`` the shape of the first data
    input and first output (``None`` when unknown).  ``source_layer`` names the file's own layer when one file
    layer became several model layers (a Keras ``SeparableConv2D``), else it equals ``name``.  ``constant`` marks a
    node that only computes a constant (a weight built by ``ConstantOfShape``, a ``Constant``, a folded subgraph):
    no data flows through it, so reports list it apart from the layers.
    """

    name: str
    kind: LayerKind
    source_op: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    input_shape: Shape | None = None
    output_shape: Shape | None = None
    weights: Mapping[str, Weight] = field(default_factory=dict)
    source_layer: str = ""
    activation: str | None = None
    constant: bool = False
    epsilon: float | None = None
    """A batch norm's epsilon as the file states it (``None``: the file does not say, e.g. weights only)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _frozen_weights(self.weights))
        if not self.source_layer:
            object.__setattr__(self, "source_layer", self.name)

    @property
    def params(self) -> int:
        """Element count of all this layer's weights, trainable or not (as Keras' Param #)."""
        return sum(w.size for w in self.weights.values())

    @property
    def expected_params(self) -> int | None:
        """Parameters the layer's attributes promise, for layers that make a promise; else ``None``."""
        return None

    @property
    def macs(self) -> int | None:
        """Multiply-accumulates per sample, when the shapes allow; ``None`` otherwise."""
        return None


def _per_sample(shape: Shape | None) -> tuple[int, ...] | None:
    """The dims after the batch dim, when all are known."""
    if shape is None or len(shape) < 1 or any(not isinstance(d, int) for d in shape[1:]):
        return None
    return tuple(shape[1:])  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class DenseLayer(Layer):
    """A fully connected layer: canonical weight ``(out, in)``."""

    in_features: int
    out_features: int
    weight: Weight | None = None
    bias: Weight | None = None

    @property
    def expected_params(self) -> int:
        """``in·out`` (+ ``out`` with a bias)."""
        return self.in_features * self.out_features + (self.out_features if self.bias is not None else 0)

    @property
    def macs(self) -> int | None:
        out = _per_sample(self.output_shape)
        if out is None or len(out) < 1:
            return None
        return math.prod(out[:-1]) * self.in_features * self.out_features


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ConvLayer(Layer):
    """A convolution (``kind="conv"``) or transposed convolution (``kind="conv_transpose"``).

    Channels-first shapes (``N, C, *spatial``) in ``input_shape``/``output_shape`` whatever the file's
    layout.  Attributes a file does not record (a weights-only Keras file has no strides) are ``None``.
    ``in_channels`` is the channel count of the layer's input (from shape inference when known, else implied
    by the weight), so a weight that disagrees with it shows in the parameter check.
    """

    rank: int
    in_channels: int
    out_channels: int
    groups: int
    kernel_shape: tuple[int, ...]
    strides: tuple[int, ...] | None
    dilations: tuple[int, ...] | None
    pads: tuple[int, ...] | None
    output_padding: tuple[int, ...] | None = None
    auto_pad: str = "NOTSET"
    quantized: bool = False
    weight: Weight | None = None
    bias: Weight | None = None

    @property
    def kernel_size(self) -> int:
        """Elements of one spatial kernel (prod of ``kernel_shape``)."""
        return math.prod(self.kernel_shape)

    @property
    def filter_shape(self) -> tuple[int, ...]:
        """Shape of one output channel's filter in the canonical layout: ``(in/groups, *kernel)``."""
        return (self.in_channels // max(self.groups, 1), *self.kernel_shape)

    @property
    def params_product(self) -> str:
        """``expected_params`` written as the product it is: ``3·3·32·64 + 64``."""
        kernel = "·".join(str(k) for k in self.kernel_shape)
        text = f"{kernel}·{self.in_channels // max(self.groups, 1)}·{self.out_channels}"
        return text + (f" + {self.out_channels}" if self.bias is not None else "")

    @property
    def expected_params(self) -> int:
        """Parameters the attributes promise: ``prod(kernel)·(in/groups)·out`` (+ ``out`` with a bias)."""
        per_group_in = self.in_channels // max(self.groups, 1)
        count = self.kernel_size * per_group_in * self.out_channels
        return count + (self.out_channels if self.bias is not None else 0)

    @property
    def macs(self) -> int | None:
        if self.kind == "conv_transpose":
            per_sample = _per_sample(self.input_shape)
            channels = self.out_channels // max(self.groups, 1) * self.in_channels
        else:
            per_sample = _per_sample(self.output_shape)
            channels = self.in_channels // max(self.groups, 1) * self.out_channels
        if per_sample is None or len(per_sample) != self.rank + 1:
            return None
        return math.prod(per_sample[1:]) * channels * self.kernel_size

    def filter(self, o: int, layout: Literal["canonical", "native"] = "canonical") -> np.ndarray:
        """The filter producing output channel ``o``: canonical ``(in/groups, *kernel)``, or as the file stores it."""
        return filter_slicing.filter_values(self, o, layout)

    def filter_index(self, o: int) -> str:
        """Where filter ``o`` sits in the file, as NumPy code on the stored array: ``W[5]``, ``kernel[:, :, :, 5]``."""
        return filter_slicing.filter_index(self, o)

    def input_channels(self, o: int) -> range:
        """The input maps filter ``o`` reads: its group's range."""
        return filter_slicing.input_channels(self, o)

    def kernel(self, i: int, o: int) -> np.ndarray:
        """F_io, the ``kernel_shape`` kernel joining input map ``i`` to output map ``o``."""
        return filter_slicing.kernel(self, i, o)

    def filters(self) -> Iterator[np.ndarray]:
        """Every canonical filter, output channel 0 first."""
        return filter_slicing.iter_filters(self)

    def as_matrix(self) -> np.ndarray:
        """All filters as rows: ``out × (in/groups · prod(kernel))``."""
        return filter_slicing.filter_matrix(self)


class Closable(Protocol):
    """Anything a loader keeps open for a model's lazy reads: an ``h5py.File``, a file object, a reader."""

    def close(self) -> object:
        """Release it; calling it again does nothing."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Model:
    """A loaded model: its boundary tensors and its layers in topological order.

    A model may hold its file open to read weights lazily: ``close()`` it, or use it as a context manager
    (``with inspector.load(path) as model:``).  Weights read before closing stay valid; reading one that was not
    raises ``LoadError``.
    """

    path: str
    format: str
    producer: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    layers: tuple[Layer, ...]
    notes: tuple[Finding, ...] = ()
    """Findings the loader made while reading (an unknown op, shapes it could not infer)."""
    resources: tuple[Closable, ...] = field(default=(), repr=False, compare=False)
    """What the loader keeps open for the weights' lazy reads, closed by ``close()`` (last opened first)."""

    def close(self) -> None:
        """Close the files the model reads its weights from; closing again does nothing more.

        Arrays already read stay valid (one read from a memory map is copied into memory first); a weight not read
        yet raises ``LoadError`` when it is asked for.
        """
        for weight in self._all_weights():
            weight._close(self.path)
        with contextlib.ExitStack() as stack:  # every resource is closed even when one fails
            for resource in self.resources:
                stack.callback(resource.close)

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getitem__(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"{self.path}: no layer named {name!r}")

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def conv_layers(self) -> tuple[ConvLayer, ...]:
        """The convolution and transposed-convolution layers."""
        return tuple(layer for layer in self.layers if isinstance(layer, ConvLayer))

    def _unique_weights(self) -> list[Weight]:
        seen: dict[str, Weight] = {}
        for layer in self.layers:
            for weight in layer.weights.values():
                seen.setdefault(weight.source, weight)
        return list(seen.values())

    def _all_weights(self) -> list[Weight]:
        """Every ``Weight`` object of every layer once (two objects may read one source)."""
        seen: dict[int, Weight] = {}
        for layer in self.layers:
            for weight in layer_weights(layer):
                seen.setdefault(id(weight), weight)
        return list(seen.values())

    @property
    def total_params(self) -> int:
        """All parameters; a weight shared by several layers counts once."""
        return sum(w.size for w in self._unique_weights())

    @property
    def trainable_params(self) -> int:
        """Parameters a training run would update."""
        return sum(w.size for w in self._unique_weights() if w.trainable)

    @property
    def non_trainable_params(self) -> int:
        """Parameters kept fixed by training (BatchNorm running mean and variance)."""
        return sum(w.size for w in self._unique_weights() if not w.trainable)


def layer_weights(layer: Layer) -> list[Weight]:
    """Every ``Weight`` object ``layer`` holds: its named weights, and a conv layer's canonical weight and bias."""
    found = (*layer.weights.values(), getattr(layer, "weight", None), getattr(layer, "bias", None))
    return [weight for weight in found if weight is not None]
