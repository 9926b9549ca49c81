"""Keras ``.h5`` (Keras 2 and 3, full or weights-only), ``.keras`` and ``.weights.h5`` files into the common model.

Pure h5py, json and zipfile: no TensorFlow, and nothing in the file is ever run.  ``Lambda`` layers (marshalled
Python bytecode) and classes the tool does not know are listed as ``other`` with a warning.

Weights are read lazily, so the HDF5 file stays open in the model until ``Model.close()`` (or the end of a
``with`` block); a file that fails to load is closed before the error propagates.  What the file says is checked
where it is read (``LoadError`` naming the file, layer and value); any other exception is a bug and propagates.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from inspector.errors import LoadError
from inspector.model.common import ConvLayer, Layer, Model, TensorInfo
from inspector.model.findings import Finding
from inspector.model.input_shapes import checked_shape
from inspector.plugins.keras.archive import KerasFile, open_keras
from inspector.plugins.keras.config import KerasGraph, KerasShape, LayerCall, LayerConfigError, layer_tree, read_graph
from inspector.plugins.keras.layer_checks import layer_findings
from inspector.plugins.keras.layers import build_call, common_shape, conv_family
from inspector.plugins.keras.shapes import MERGES, SHAPE_KEEPING, class_rank
from inspector.plugins.keras.weights import LayerKey, StoredWeight, legacy_table, legacy_weights, v3_table
from inspector.plugins.keras.weights_only import legacy_calls, v3_calls

_INTERPRETED = SHAPE_KEEPING | MERGES | {"InputLayer", "Dense", "Concatenate", "Flatten", "Reshape"}
_RESHAPING = ("MaxPooling", "AveragePooling", "MaxPool", "AvgPool", "ZeroPadding", "Cropping", "UpSampling")

WeightLookup = Callable[[LayerKey], list[StoredWeight]]


def load_keras_file(path: Path, input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Model | None:
    """The common model of ``path``, or ``None`` when it is no Keras file (an HDF5 file or zip of something else)."""
    keras_file = open_keras(path)
    if keras_file is None:
        return None
    try:
        return read_keras(path, keras_file, input_shapes)
    except BaseException:
        keras_file.close()
        raise


def read_keras(path: Path, keras_file: KerasFile, input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Model:
    """The common model of an opened Keras file; ``input_shapes`` sets open dims of named inputs (Keras layout).

    The model reads its weights from ``keras_file`` and closes it when it is closed.
    """
    where = str(path)
    if keras_file.config is None:
        return _weights_only(path, keras_file)
    graph = _with_input_shapes(read_graph(keras_file.config, where), input_shapes or {})
    if keras_file.kind == "h5":
        lookup: WeightLookup = functools.partial(legacy_weights, legacy_table(keras_file.weights, where))
    else:
        tree = layer_tree(keras_file.config, where)
        v3 = v3_table(keras_file.weights, tree, where, keras2=keras_file.keras_version.startswith("2"))
        lookup = functools.partial(_stored_in, v3)
    layers, notes, shapes = _build_graph(graph, lookup, where)
    return Model(
        path=where,
        format="keras-h5" if keras_file.kind == "h5" else "keras",
        producer=f"keras {keras_file.keras_version}",
        inputs=tuple(TensorInfo(name=i.tensor, shape=common_shape(i.shape, True), dtype=i.dtype) for i in graph.inputs),
        outputs=tuple(
            TensorInfo(name=t, shape=common_shape(shapes.get(t), True), dtype="float32") for t in graph.outputs
        ),
        layers=tuple(layers),
        notes=tuple(notes),
        resources=(keras_file,),
    )


def _with_input_shapes(graph: KerasGraph, input_shapes: Mapping[str, tuple[int, ...]]) -> KerasGraph:
    """``graph`` whose inputs named in ``input_shapes`` take those shapes (checked against the fixed dims)."""
    inputs = []
    for model_input in graph.inputs:
        given = input_shapes.get(model_input.tensor)
        if given is not None:
            declared = None if model_input.shape is None else tuple("?" if d is None else d for d in model_input.shape)
            checked = checked_shape(model_input.tensor, declared, given, f"--input-shape {model_input.tensor}")
            model_input = dataclasses.replace(model_input, shape=checked)
        inputs.append(model_input)
    return dataclasses.replace(graph, inputs=inputs)


def _known_dims(recorded: KerasShape | None, computed: KerasShape | None) -> KerasShape | None:
    """The shape Keras 3 recorded for a call's input, its open dims filled from the computed shape."""
    if recorded is None or computed is None or len(recorded) != len(computed):
        return recorded if recorded is not None else computed
    return tuple(r if r is not None else c for r, c in zip(recorded, computed, strict=True))


def _stored_in(table: dict[LayerKey, list[StoredWeight]], key: LayerKey) -> list[StoredWeight]:
    return table.get(key, [])


def _channels_first(graph: KerasGraph) -> bool:
    formats = [c.config["data_format"] for c in graph.calls if "data_format" in c.config]
    return bool(formats) and str(formats[0]).lower() == "channels_first"


def _unique_names(calls: Sequence[LayerCall]) -> list[str]:
    """Leaf names; a name used in two nested models gets its path, a shared layer's later calls ``@n``."""
    counts = Counter(c.layer for c in calls if c.call_index == 0)
    names = []
    for call in calls:
        name = "/".join((*call.path, call.layer)) if counts[call.layer] > 1 else call.layer
        names.append(name if call.call_index == 0 else f"{name}@{call.call_index}")
    return names


def _interpreted(class_name: str) -> bool:
    ranked = class_rank(class_name)
    base = ranked[0] if ranked else ""
    return (
        class_name in _INTERPRETED
        or class_name == "BatchNormalization"
        or conv_family(class_name) is not None
        or base.startswith(_RESHAPING)
        or base.startswith("Global")
    )


def _note(call: LayerCall, name: str) -> Finding | None:
    if call.class_name == "Lambda":
        message = (
            f"Lambda layer {name!r} holds Python code, which is never run: listed as other, its output shape is unknown"
        )
    elif not _interpreted(call.class_name):
        message = f"layer {name!r} has class {call.class_name!r}, which is not interpreted: listed as other"
    else:
        return None
    return Finding(
        severity="warning", check="keras-layer", layer=name, message=message, data={"class": call.class_name}
    )


def _build_graph(
    graph: KerasGraph, lookup: WeightLookup, where: str
) -> tuple[list[Layer], list[Finding], dict[str, KerasShape | None]]:
    """The layers of every call in order, the loader's notes, and every tensor's shape in Keras' layout."""
    shapes: dict[str, KerasShape | None] = {i.tensor: i.shape for i in graph.inputs}
    first = _channels_first(graph)
    layers: list[Layer] = []
    notes: list[Finding] = []
    for call, name in zip(graph.calls, _unique_names(graph.calls), strict=True):
        computed = [shapes.get(t) for t in call.inputs]
        recorded = list(call.recorded_shapes) + [None] * (len(computed) - len(call.recorded_shapes))
        inputs = [_known_dims(r, c) for r, c in zip(recorded, computed, strict=False)]
        try:
            built = build_call(call, name, lookup((*call.path, call.layer)), inputs, first)
        except LayerConfigError as error:
            raise LoadError(f"{where}: layer {name!r} ({call.class_name}): {error}") from None
        for tensor in call.outputs:
            shapes[tensor] = built.output
        layers.extend(built.layers)
        note = _note(call, name)
        notes += [note] if note is not None else []
        notes += layer_findings(call, name, inputs)
    return layers, notes, shapes


def _weights_only(path: Path, keras_file: KerasFile) -> Model:
    where = str(path)
    pairs = (
        legacy_calls(keras_file.weights, where)
        if keras_file.kind == "h5-weights"
        else v3_calls(keras_file.weights, where)
    )
    layers: list[Layer] = []
    for call, weights in pairs:
        try:
            built = build_call(call, call.layer, weights, [None], False)
        except LayerConfigError as error:
            raise LoadError(f"{where}: layer {call.layer!r} ({call.class_name}): {error}") from None
        layers.extend(_unknown_attributes(layer) for layer in built.layers)
    note = Finding(
        severity="info",
        check="keras-weights-only",
        layer=None,
        message="weights-only file: layer classes are inferred from weight names and shapes; strides, padding, "
        "dilation, groups and tensor shapes are not recorded, so only parameter counts are verified",
        data={},
    )
    return Model(
        path=where,
        format="keras-h5" if keras_file.kind == "h5-weights" else "keras",
        producer=f"keras {keras_file.keras_version} (weights only)",
        inputs=(),
        outputs=(),
        layers=tuple(layers),
        notes=(note,),
        resources=(keras_file,),
    )


def _unknown_attributes(layer: Layer) -> Layer:
    """A weights-only layer: shapes are not in the file, nor are a conv's strides, dilations and pads (a
    separable conv's pointwise step is 1×1 by definition).  Groups are not recorded either: a conv shows the
    input channels its kernel holds, which is in/groups."""
    if not isinstance(layer, ConvLayer):
        return dataclasses.replace(layer, input_shape=None, output_shape=None)
    pointwise_step = layer.name.endswith("/pointwise")
    return dataclasses.replace(
        layer,
        input_shape=None,
        output_shape=None,
        strides=layer.strides if pointwise_step else None,
        dilations=layer.dilations if pointwise_step else None,
        pads=layer.pads if pointwise_step else None,
        output_padding=None,
    )
