"""One ONNX graph (or control-flow body) seen from a loader: tensor shapes, and which tensors are constants.

Constants are initializers, ``Constant`` outputs, and outputs of deterministic, cheap nodes (no conv or matrix
product) whose inputs are all constant (``ConstantOfShape``, ``Reshape``/``Cast``/``DequantizeLinear`` of
constants…).  Their shapes come from static information; their values are computed on first use by onnx's own
``ReferenceEvaluator``, one node at a time, each output sized from the values before it is made
(:mod:`inspector.plugins.onnx.folding`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import onnx

from inspector.errors import LoadError
from inspector.model.budget import DEFAULT_FOLD_MB
from inspector.model.common import Shape
from inspector.plugins.onnx.folding import fold
from inspector.plugins.onnx.tensors import tensor_dtype, tensor_reader
from inspector.plugins.onnx.type_shapes import shape_of

RANDOM_OPS = frozenset(
    {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}
)
"""Ops whose output is not a function of their inputs alone: never constants."""
# Ops never folded into constants: random ones, and ones whose cost grows faster than their output, which a hostile
# file could make run for minutes while loading.
_NOT_FOLDED = RANDOM_OPS | {
    "Conv",
    "ConvInteger",
    "ConvTranspose",
    "QLinearConv",
    "MatMul",
    "MatMulInteger",
    "QLinearMatMul",
    "Gemm",
    "Einsum",
}


@dataclass(frozen=True, slots=True)
class ConstantInfo:
    """A constant tensor: where it comes from, its shape (``None`` if unknown until read), dtype and reader."""

    source: str
    shape: tuple[int, ...] | None
    dtype: str
    read: Callable[[], np.ndarray]


class Node(NamedTuple):
    """A graph node with its input and output names, read once (protobuf makes new strings on every read)."""

    proto: onnx.NodeProto
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def named_subgraphs(node: onnx.NodeProto) -> list[tuple[str, onnx.GraphProto]]:
    """A node's control-flow bodies with their attribute names (``then_branch``, ``body``…)."""
    named = []
    for attribute in node.attribute:
        if attribute.type == onnx.AttributeProto.GRAPH:
            named.append((attribute.name, attribute.g))
        elif attribute.type == onnx.AttributeProto.GRAPHS:
            named.extend((f"{attribute.name}[{i}]", g) for i, g in enumerate(attribute.graphs))
    return named


class GraphScope:
    """Shapes and constants visible inside one graph, including those of the graphs enclosing it."""

    def __init__(
        self,
        graph: onnx.GraphProto,
        *,
        model_dir: Path,
        file_label: str,
        opsets: list[onnx.OperatorSetIdProto],
        parent: GraphScope | None = None,
        stored: Mapping[str, bytes] | None = None,
        fold_limit_mb: float = DEFAULT_FOLD_MB,
    ) -> None:
        """``stored`` holds the bytes of initializers whose ``raw_data`` was taken out of ``graph``;
        ``fold_limit_mb`` bounds each tensor computed while folding a constant (``--max-fold-mb``)."""
        self.graph = graph
        self.fold_limit_mb = fold_limit_mb
        self._stored = stored or {}
        self.model_dir = model_dir
        self.file_label = file_label
        self.opsets = opsets
        # the standard domain's opset version the graph is written for
        self.version = next((o.version for o in opsets if o.domain in ("", "ai.onnx")), onnx.defs.onnx_opset_version())
        self.parent = parent
        self._types: dict[str, onnx.TypeProto] = {}
        for value in [*graph.input, *graph.output, *graph.value_info]:
            self._types[value.name] = value.type
        self._initializers = {tensor.name: tensor for tensor in graph.initializer}
        self._inputs = {value.name for value in graph.input}
        self.nodes = [Node(node, tuple(node.input), tuple(node.output)) for node in graph.node]
        self._producers: dict[str, Node] = {}
        for node in self.nodes:
            for output in node.outputs:
                if output:
                    self._producers.setdefault(output, node)
        self._constant_cache: dict[str, bool] = {}
        self._readers: dict[str, ConstantInfo] = {}
        self._shapes: dict[str, Shape | None] = {}  # what ``shape`` and ``is_constant`` found, asked again per use
        self._constants: dict[str, bool] = {}

    def child(self, graph: onnx.GraphProto) -> GraphScope:
        """The scope of a control-flow body nested in this graph."""
        return GraphScope(
            graph,
            model_dir=self.model_dir,
            file_label=self.file_label,
            opsets=self.opsets,
            parent=self,
            fold_limit_mb=self.fold_limit_mb,
        )

    def provides(self, name: str) -> bool:
        """Whether tensor ``name`` comes from a node, an initializer or an input of this graph or of one enclosing
        it (a name nothing provides makes the file invalid: onnx.checker and onnxruntime refuse it)."""
        scope: GraphScope | None = self
        while scope is not None:
            if name in scope._producers or name in scope._initializers or name in scope._inputs:
                return True
            scope = scope.parent
        return False

    # -- shapes ---------------------------------------------------------------------------------------------

    def shape(self, name: str) -> Shape | None:
        """Static shape of tensor ``name`` (initializer dims, or what shape inference found)."""
        if name not in self._shapes:
            self._shapes[name] = self._find_shape(name)
        return self._shapes[name]

    def _find_shape(self, name: str) -> Shape | None:
        if name in self._initializers:
            return tuple(self._initializers[name].dims)
        if name in self._types:
            return shape_of(self._types[name])
        if name in self._producers or self.parent is None:
            return None
        return self.parent.shape(name)

    def dtype(self, name: str) -> str:
        """Element type name of tensor ``name`` (``"?"`` when unknown)."""
        if name in self._initializers:
            return tensor_dtype(self._initializers[name].data_type)
        if name in self._types and self._types[name].HasField("tensor_type"):
            return tensor_dtype(self._types[name].tensor_type.elem_type)
        if name in self._producers or self.parent is None:
            return "?"
        return self.parent.dtype(name)

    # -- constants ------------------------------------------------------------------------------------------

    def _owner(self, name: str) -> GraphScope | None:
        scope: GraphScope | None = self
        while scope is not None:
            if name in scope._initializers or name in scope._producers:
                return scope
            if name in scope._types and name not in scope._initializers:
                return scope  # a graph input: not constant
            scope = scope.parent
        return None

    def is_constant(self, name: str) -> bool:
        """Whether tensor ``name`` is known before the model runs."""
        if name not in self._constants:
            owner = self._owner(name)
            self._constants[name] = owner is not None and owner._is_local_constant(name, depth=0)
        return self._constants[name]

    def _is_local_constant(self, name: str, depth: int) -> bool:
        if name in self._initializers:
            return True
        if name not in self._producers:
            return False
        if name not in self._constant_cache:
            if depth > 200:
                return False
            node = self._producers[name]
            foldable = node.proto.domain in ("", "ai.onnx") and node.proto.op_type not in _NOT_FOLDED
            self._constant_cache[name] = (
                foldable
                and not named_subgraphs(node.proto)
                and all(self._input_is_constant(i, depth + 1) for i in node.inputs if i)
            )
        return self._constant_cache[name]

    def _input_is_constant(self, name: str, depth: int) -> bool:
        owner = self._owner(name)
        return owner is not None and owner._is_local_constant(name, depth)

    def constant(self, name: str) -> ConstantInfo:
        """Shape, dtype and lazy reader of constant ``name`` (call ``is_constant`` first)."""
        owner = self._owner(name)
        if owner is None:
            raise LoadError(f"{self.file_label}: tensor {name!r} is not defined")
        return owner._local_constant(name)

    def _local_constant(self, name: str) -> ConstantInfo:
        if name in self._readers:
            return self._readers[name]
        where = self.file_label
        if name in self._initializers:
            shape, dtype, read = tensor_reader(self._initializers[name], self.model_dir, where, self._stored.get(name))
            info = ConstantInfo(source=name, shape=shape, dtype=dtype, read=read)
        else:
            node = self._producers[name].proto
            value = _stored_value(node)
            if value is not None:
                shape, dtype, read = tensor_reader(value, self.model_dir, where)
                info = ConstantInfo(source=f"Constant {node.name or name}", shape=shape, dtype=dtype, read=read)
            else:
                static = self.shape(name)
                known = tuple(static) if static is not None and all(isinstance(d, int) for d in static) else None
                info = ConstantInfo(
                    source=f"{node.op_type} {node.name or name} (folded)",
                    shape=known,  # type: ignore[arg-type]
                    dtype=self.dtype(name),
                    read=lambda: self._evaluate(name),
                )
        self._readers[name] = info
        return info

    def _evaluate(self, name: str) -> np.ndarray:
        """Compute a folded constant, node by node, with ``onnx.reference``.

        Stored tensors (initializers, ``Constant`` values) are read by this package, so external data stays in the
        model's folder; each node's outputs are sized from its inputs' values before it runs (:mod:`.folding`).
        """
        nodes: list[onnx.NodeProto] = []
        feeds: dict[str, np.ndarray] = {}
        seen: set[str] = set()
        added: set[int] = set()
        stack: list[tuple[str, bool]] = [(name, False)]
        while stack:  # depth first, a node after its inputs' nodes (no recursion: chains may be long)
            tensor, inputs_done = stack.pop()
            if not inputs_done and tensor in seen:
                continue
            owner = self._owner(tensor)
            assert owner is not None
            if inputs_done:
                node = owner._producers[tensor].proto
                if id(node) not in added:
                    added.add(id(node))
                    nodes.append(node)
                continue
            seen.add(tensor)
            if tensor in owner._initializers or _stored_value(owner._producers[tensor].proto) is not None:
                feeds[tensor] = np.asarray(owner._local_constant(tensor).read())
                continue
            stack.append((tensor, True))
            stack.extend((item, False) for item in reversed(owner._producers[tensor].inputs) if item)
        return fold(
            nodes, feeds, name, self.opsets, self.fold_limit_mb, f"{self.file_label}: cannot compute constant {name!r}"
        )


def _stored_value(node: onnx.NodeProto) -> onnx.TensorProto | None:
    """The tensor a ``Constant`` node stores in its ``value`` attribute."""
    if node.op_type != "Constant":
        return None
    return next((a.t for a in node.attribute if a.name == "value"), None)
