"""A Keras ``model_config`` as a flat graph of leaf layer calls: Sequential, Functional and nested models.

Handles both ``inbound_nodes`` formats (Keras 2 ``[[["conv", 0, 0, {}]]]``, Keras 3 ``[{"args": [...]}]``),
single and listed ``input_layers``/``output_layers``, the pre-2.2.3 Sequential whose ``config`` is the layer
list, and ``batch_input_shape`` (Keras 2) as well as ``batch_shape`` (Keras 3).  Nothing here reads weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from inspector.errors import LoadError
from inspector.model.budget import MAX_NESTING
from inspector.plugins.keras.pass_order import PassOrder

MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})

KerasShape = tuple[int | None, ...]


class LayerConfigError(LoadError):
    """A layer's config or weights contradict what its class needs (a ``kernel_size`` that is not two ints, a
    padding mode Keras does not have).  Raised where the value is read; the loader adds the file and layer."""


@dataclass(frozen=True, slots=True)
class LayerCall:
    """One call of a leaf layer: its file name, enclosing models, config, and the tensors it reads and writes.

    ``recorded_shapes`` are the input shapes Keras 3 writes into ``inbound_nodes`` (empty for Keras 2).
    """

    layer: str
    path: tuple[str, ...]
    class_name: str
    config: dict[str, Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    call_index: int = 0
    trainable: bool = True
    recorded_shapes: tuple[KerasShape | None, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelInput:
    """A model input tensor with the shape its InputLayer (or first layer) declares."""

    tensor: str
    shape: KerasShape | None
    dtype: str


@dataclass(slots=True)
class KerasGraph:
    """Every leaf layer call in an order where inputs come first, and the model's boundary tensors."""

    name: str
    calls: list[LayerCall] = field(default_factory=list)
    inputs: list[ModelInput] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LayerEntry:
    """One entry of a model's ``layers`` list, in file order; ``children`` for a nested model."""

    name: str
    class_name: str
    config: dict[str, Any]
    children: tuple[LayerEntry, ...] = ()
    functional: bool = False


def _fail(where: str, what: str) -> LoadError:
    return LoadError(f"{where}: model_config {what}")


def _dict(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"{what} is not an object")
    return value


def _list(value: Any, where: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"{what} is not a list")
    return value


def dtype_name(value: Any) -> str:
    """A config ``dtype`` (Keras 2 string, Keras 3 DTypePolicy dict) as a name; ``float32`` when it names none."""
    if isinstance(value, dict):
        policy = value.get("config")
        value = policy.get("name") if isinstance(policy, dict) else None
    return value if isinstance(value, str) else "float32"


def _shape(value: Any, where: str) -> KerasShape | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(d is None or _count(d) for d in value):
        raise _fail(where, f"input shape {value!r} is not a list of non-negative ints")
    return tuple(value)


def _count(value: Any) -> bool:
    """Whether ``value`` is a JSON integer of at least 0 (``true`` is no size)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def declared_shape(config: dict[str, Any], where: str) -> KerasShape | None:
    """``batch_shape`` (Keras 3) or ``batch_input_shape`` (Keras 2), or ``input_shape`` with a batch dim."""
    if "batch_shape" in config:
        return _shape(config["batch_shape"], where)
    if "batch_input_shape" in config:
        return _shape(config["batch_input_shape"], where)
    if "input_shape" in config:
        shape = _shape(config["input_shape"], where)
        return None if shape is None else (None, *shape)
    return None


def _entry_layers(entry_class: str, config: Any, where: str) -> tuple[list[Any], bool]:
    """The layer list of a model config and whether it is functional (has ``inbound_nodes``)."""
    if entry_class == "Sequential" and isinstance(config, list):
        return config, False
    config = _dict(config, where, f"{entry_class} config")
    layers = _list(config.get("layers"), where, f"{entry_class} 'layers'")
    return layers, entry_class != "Sequential"


def is_model(entry: dict[str, Any]) -> bool:
    """Whether a layer entry is itself a model (a nested Sequential or Functional)."""
    config, class_name = entry.get("config"), entry.get("class_name")
    return (
        isinstance(class_name, str)
        and class_name in MODEL_CLASSES
        and (isinstance(config, list) or (isinstance(config, dict) and "layers" in config))
    )


def layer_tree(root: dict[str, Any], where: str, depth: int = 0) -> LayerEntry:
    """The model's layers as a tree of ``LayerEntry`` (file order), for matching weights to layers."""
    if depth > MAX_NESTING:
        raise _fail(where, f"nests models more than {MAX_NESTING} deep")
    class_name = root.get("class_name")
    if not isinstance(class_name, str):
        raise _fail(where, "has a layer without a class_name")
    config = root.get("config", {})
    name = layer_name(root, where)
    if not is_model(root):
        return LayerEntry(name=name, class_name=class_name, config=_dict(config, where, f"config of {name!r}"))
    layers, functional = _entry_layers(class_name, config, where)
    children = tuple(layer_tree(_dict(child, where, "a layer entry"), where, depth + 1) for child in layers)
    return LayerEntry(name=name, class_name=class_name, config={}, children=children, functional=functional)


def layer_name(entry: dict[str, Any], where: str) -> str:
    """The name of a layer entry (top-level ``name`` in functional configs, else ``config.name``)."""
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None) or ""
    if not isinstance(name, str):
        raise _fail(where, f"has a layer name that is not a string: {name!r}")
    return name


def tensor_id(path: tuple[str, ...], layer: str, node: int = 0, index: int = 0) -> str:
    """A tensor's name in the common model: ``layer`` for its first output, ``layer:node:index`` otherwise."""
    base = "/".join((*path, layer))
    return base if (node, index) == (0, 0) else f"{base}:{node}:{index}"


def read_graph(root: dict[str, Any], where: str) -> KerasGraph:
    """Flatten a ``model_config`` (or a ``.keras`` ``config.json``) into leaf layer calls."""
    root = _dict(root, where, "root")
    graph = KerasGraph(name=layer_name(root, where) or "model")
    class_name = root.get("class_name")
    if not isinstance(class_name, str) or class_name not in MODEL_CLASSES:
        raise _fail(where, f"root is a {class_name!r}, not a Sequential or Functional model")
    graph.outputs = _expand(root, _Scope(graph=graph, where=where), None)
    return graph


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where the expansion is: the graph being filled, the file, the enclosing models and their trainability."""

    graph: KerasGraph
    where: str
    path: tuple[str, ...] = ()
    depth: int = 0
    trainable: bool = True

    def inner(self, name: str) -> _Scope:
        """The scope inside nested model ``name``."""
        if self.depth >= MAX_NESTING:
            raise _fail(self.where, f"nests models more than {MAX_NESTING} deep")
        return dataclasses.replace(self, path=(*self.path, name), depth=self.depth + 1)


def _expand(entry: dict[str, Any], scope: _Scope, given_inputs: list[str] | None) -> list[str]:
    class_name = entry.get("class_name", "")
    layers, functional = _entry_layers(class_name, entry.get("config"), scope.where)
    config = entry.get("config")
    if isinstance(config, dict) and config.get("trainable", True) is False:
        scope = dataclasses.replace(scope, trainable=False)
    if functional:
        return _expand_functional(_dict(config, scope.where, "config"), layers, scope, given_inputs)
    return _expand_sequential(layers, scope, given_inputs)


def _expand_sequential(layers: list[Any], scope: _Scope, given_inputs: list[str] | None) -> list[str]:
    where = scope.where
    entries = [_dict(layer, where, "a layer entry") for layer in layers]
    current = given_inputs
    if entries and entries[0].get("class_name") == "InputLayer":
        first, entries = entries[0], entries[1:]
        if current is None:
            config = _dict(first.get("config", {}), where, "InputLayer config")
            current = [_model_input(scope, layer_name(first, where), config)]
    if current is None:
        if not entries:
            raise _fail(where, "describes a Sequential model with no layers")
        config = _dict(entries[0].get("config", {}), where, "first layer config")
        current = [_model_input(scope, f"{layer_name(entries[0], where)}_input", config)]
    for entry in entries:
        name = layer_name(entry, where)
        if is_model(entry):
            current = _expand(entry, scope.inner(name), current)
            continue
        _add_call(scope, entry, name, tuple(current), 0, ())
        current = [tensor_id(scope.path, name)]
    return current


def _model_input(scope: _Scope, name: str, config: dict[str, Any]) -> str:
    tensor = tensor_id(scope.path, name)
    shape = declared_shape(config, scope.where)
    scope.graph.inputs.append(ModelInput(tensor, shape, dtype_name(config.get("dtype"))))
    return tensor


def _add_call(
    scope: _Scope,
    entry: dict[str, Any],
    name: str,
    inputs: tuple[str, ...],
    call_index: int,
    recorded: tuple[KerasShape | None, ...],
) -> None:
    where, path = scope.where, scope.path
    config = _dict(entry.get("config", {}), where, f"config of layer {name!r}")
    class_name = entry.get("class_name")
    if not isinstance(class_name, str):
        raise _fail(where, f"layer {name!r} has no class_name")
    scope.graph.calls.append(
        LayerCall(
            layer=name,
            path=path,
            class_name=class_name,
            config=config,
            inputs=inputs,
            outputs=(tensor_id(path, name, call_index),),
            call_index=call_index,
            trainable=scope.trainable and config.get("trainable", True) is not False,
            recorded_shapes=recorded,
        )
    )


def _reference(item: Any, where: str, form: str) -> tuple[str, int, int]:
    """``(layer, node, index)`` from a reference ``[layer, node, index, ...]`` (``form`` names it for messages)."""
    if not (isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str)):
        raise _fail(where, f"is malformed: {item!r} is not a {form} reference")
    node, index = item[1], item[2]
    for number in (node, index):
        if not isinstance(number, int) or isinstance(number, bool):
            raise _fail(where, f"is malformed: {item!r} has a node or tensor index that is not an integer")
    return item[0], node, index


def _references(value: Any, where: str) -> list[tuple[str, int, int]]:
    """``[layer, node, index]`` triples a history names (one bare triple or a list of them; nothing otherwise)."""
    if isinstance(value, list) and len(value) >= 1 and isinstance(value[0], str):
        value = [value]
    return [_reference(item, where, "[layer, node, index]") for item in (value if isinstance(value, list) else [])]


def _boundary(config: dict[str, Any], key: str, where: str) -> list[tuple[str, int, int]]:
    """The references of ``input_layers`` or ``output_layers`` (absent: none), which must be a list."""
    value = config.get(key, [])
    if not isinstance(value, list):
        raise _fail(where, f"{key} {repr(value)[:60]} is not a list of [layer, node, index] references")
    return _references(value, where)


def _keras3_tensors(value: Any, where: str) -> Iterator[dict[str, Any]]:
    """The ``__keras_tensor__`` configs anywhere in a Keras 3 node's ``args``/``kwargs``, in document order."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:  # depth first without recursion: the document may nest deeper than Python's stack
        item, depth = pending.pop()
        if depth > MAX_NESTING:
            raise _fail(where, f"is malformed: an inbound node nests its arguments more than {MAX_NESTING} deep")
        if isinstance(item, dict) and item.get("class_name") == "__keras_tensor__":
            yield _dict(item.get("config"), where, "keras tensor")
        elif isinstance(item, dict | list):
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in reversed(list(children)))


def _inbound_calls(entry: dict[str, Any], where: str) -> list[tuple[list[tuple[str, int, int]], list[Any]]]:
    """Each call of a functional layer: the tensors it reads and the shapes Keras 3 recorded for them."""
    calls = []
    for node in _list(entry.get("inbound_nodes", []), where, "inbound_nodes"):
        if isinstance(node, dict):
            tensors = [*_keras3_tensors(node.get("args", []), where), *_keras3_tensors(node.get("kwargs", {}), where)]
            references = []
            for tensor in tensors:
                history = tensor.get("keras_history")
                references.extend(_references(history, where))
            calls.append((references, [tensor.get("shape") for tensor in tensors]))
        elif isinstance(node, list):
            calls.append(([_reference(r, where, "[layer, node, index, kwargs]") for r in node], []))
        else:
            raise _fail(where, f"has an inbound node that is neither a list nor an object: {node!r}")
    return calls


def _skipped_first_node(entry: dict[str, Any]) -> int:
    """1 when Keras 2 numbers a nested model's calls from 1: its first node is its own Input (tf-keras
    ``_should_skip_first_node``); Keras 3 numbers them from 0."""
    nodes = entry.get("inbound_nodes") or []
    config = entry.get("config")
    layers = config if isinstance(config, list) else config.get("layers", []) if isinstance(config, dict) else []
    starts_with_input = bool(layers) and isinstance(layers[0], dict) and layers[0].get("class_name") == "InputLayer"
    return int(isinstance(nodes[0], list) and starts_with_input) if nodes else 0


def _expand_functional(
    config: dict[str, Any], layers: list[Any], scope: _Scope, given_inputs: list[str] | None
) -> list[str]:
    where, path = scope.where, scope.path
    tensors: dict[tuple[str, int, int], str] = {}
    input_refs = _boundary(config, "input_layers", where)
    if given_inputs is not None and len(given_inputs) != len(input_refs):
        raise _fail(
            where, f"nested model {'/'.join(path)!r} takes {len(input_refs)} inputs, is given {len(given_inputs)}"
        )
    entries = {layer_name(e, where): e for e in (_dict(item, where, "a layer entry") for item in layers)}
    for position, reference in enumerate(input_refs):
        if reference[0] not in entries:
            raise _fail(where, f"input_layers names {reference[0]!r}, which is not a layer")
        if given_inputs is not None:
            tensors[reference] = given_inputs[position]
        else:
            input_config = _dict(entries[reference[0]].get("config", {}), where, "InputLayer config")
            tensors[reference] = _model_input(scope, reference[0], input_config)
    pending = [
        (name, entry, index, call)
        for name, entry in entries.items()
        if entry.get("class_name") != "InputLayer"
        for index, call in enumerate(_inbound_calls(entry, where))
    ]
    order = PassOrder([references for *_, (references, _) in pending], tensors)
    for item in order:
        name, entry, index, (references, shapes) = pending[item]
        inputs = [tensors[r] for r in references]
        if is_model(entry):
            outputs = _expand(entry, scope.inner(name), inputs)
            node = index + _skipped_first_node(entry)
            for position, tensor in enumerate(outputs):
                tensors[(name, node, position)] = tensor
                order.provide((name, node, position))
            continue
        recorded = tuple(_shape(s, where) if isinstance(s, list) else None for s in shapes)
        _add_call(scope, entry, name, tuple(inputs), index, recorded)
        tensors[(name, index, 0)] = tensor_id(path, name, index)
        order.provide((name, index, 0))
    if order.stuck():
        missing = sorted({r[0] for item in order.stuck() for r in pending[item][3][0] if r not in tensors})
        raise _fail(where, f"has layers whose inputs never appear: {', '.join(missing[:5])}")
    outputs = []
    for reference in _boundary(config, "output_layers", where):
        if reference not in tensors:
            raise _fail(where, f"output_layers names {reference[0]!r}, which produces no such tensor")
        outputs.append(tensors[reference])
    return outputs
