"""Finding each Keras layer's stored weights through the file's own records, never by guessing a path.

* Legacy ``.h5`` (full or weights-only): ``layer_names`` lists the layer groups, each group's ``weight_names``
  lists its datasets (both possibly chunked as ``layer_names0``, ``layer_names1``…).  A nested model's group holds
  all its sublayers' weights; the owner of each is the part of the weight name before the role.
* Keras 3 weights (``.keras``, ``.weights.h5``): ``layers/<key>/vars/<n>``, where ``<key>`` is the snake-cased
  class name made unique in ``model.layers`` order (or named by the group's ``name`` attribute when Keras wrote
  one) and ``<n>`` sorts as a number.  Roles come from the layer class (kernel, bias, gamma…).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import h5py

from inspector.errors import LoadError
from inspector.plugins.keras.archive import string_list, text
from inspector.plugins.keras.config import LayerEntry
from inspector.plugins.keras.shapes import class_rank

MAX_COMPRESSION = 1024
"""Largest ratio of a dataset's declared bytes to its stored bytes that is believed (compressed weights)."""
NON_TRAINABLE_ROLES = frozenset({"moving_mean", "moving_variance"})


@dataclass(frozen=True, slots=True)
class StoredWeight:
    """One weight dataset: its role (``kernel``, ``bias``…), the dataset, and where it lives."""

    role: str
    dataset: h5py.Dataset
    source: str


LayerKey = tuple[str, ...]
"""Enclosing model names then the layer's own name."""


def checked_dataset(node: object, where: str) -> h5py.Dataset:
    """``node`` as a numeric dataset whose declared size the file can actually hold."""
    if not isinstance(node, h5py.Dataset):
        raise LoadError(f"{where}: is not a dataset")
    if node.dtype.kind not in "fiub":
        raise LoadError(f"{where}: has dtype {node.dtype}, not a number type")
    if node.is_virtual or node.external:
        kind = "a virtual dataset" if node.is_virtual else "a dataset with external storage"
        raise LoadError(f"{where}: is {kind}, whose bytes live in other files, never read")
    stored = node.id.get_storage_size()
    declared = node.size * node.dtype.itemsize
    limit = stored * (MAX_COMPRESSION if node.compression else 1)
    if declared > max(limit, 0) and declared > 0:
        raise LoadError(f"{where}: declares shape {node.shape} ({declared:,} bytes) but stores {stored:,} bytes")
    return node


def _role(weight_name: str) -> str:
    return weight_name.rsplit("/", 1)[-1].split(":", 1)[0]


def _owner(weight_name: str) -> str:
    parts = weight_name.split("/")
    return parts[-2] if len(parts) >= 2 else ""


def legacy_table(group: h5py.Group, where: str) -> dict[str, list[tuple[str, StoredWeight]]]:
    """Layer group name → ``(weight name, weight)`` in file order, through ``layer_names``/``weight_names``."""
    table: dict[str, list[tuple[str, StoredWeight]]] = {}
    for layer in string_list(group, "layer_names", where):
        layer_group = group.get(layer)
        if not isinstance(layer_group, h5py.Group):
            raise LoadError(f"{where}: layer_names lists {layer!r}, but there is no such group")
        entries = []
        for name in string_list(layer_group, "weight_names", f"{where}: layer {layer!r}"):
            node = layer_group.get(name)
            label = f"{where}: weight {layer}/{name}"
            if node is None:
                raise LoadError(f"{label} is listed in weight_names but missing")
            dataset = checked_dataset(node, label)
            entries.append((name, StoredWeight(role=_role(name), dataset=dataset, source=dataset.name)))
        table[layer] = entries
    return table


def legacy_weights(table: dict[str, list[tuple[str, StoredWeight]]], key: LayerKey) -> list[StoredWeight]:
    """The weights of one leaf layer: its group's, or its share of the enclosing nested model's group."""
    entries = table.get(key[0], [])
    if len(key) == 1:
        return [weight for _, weight in entries]
    return [weight for name, weight in entries if _owner(name) == key[-1]]


def snake_case(class_name: str) -> str:
    """Keras' ``to_snake_case`` of a class name: ``Conv2DTranspose`` → ``conv2d_transpose``."""
    name = re.sub(r"\W+", "", class_name.rsplit(">", 1)[-1])
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _numbered(group: h5py.Group) -> list[str]:
    keys = [key for key in group if key.isdigit()]
    return sorted(keys, key=int)


def v3_roles(class_name: str, config: dict, count: int, keras2: bool = False) -> list[str]:
    """Names of a Keras 3 layer's ``vars/0..n-1``, in the order Keras saves them."""
    ranked = class_rank(class_name)
    base = ranked[0] if ranked else class_name
    bias = ["bias"] if config.get("use_bias", True) else []
    if base == "SeparableConv":
        roles = ["depthwise_kernel", "pointwise_kernel", *bias]
    elif base == "DepthwiseConv":
        roles = ["depthwise_kernel" if keras2 else "kernel", *bias]
    elif base in ("Conv", "ConvTranspose") or class_name == "Dense":
        roles = ["kernel", *bias]
    elif class_name == "BatchNormalization" and not config and count == 3:
        roles = ["gamma_or_beta", "moving_mean", "moving_variance"]  # weights-only: scale or center is off
    elif class_name == "BatchNormalization":
        roles = [r for r, on in (("gamma", config.get("scale", True)), ("beta", config.get("center", True))) if on]
        roles += ["moving_mean", "moving_variance"]
    else:
        roles = []
    if "use_bias" not in config and roles[-1:] == ["bias"] and len(roles) == count + 1:
        roles.pop()
    return roles if len(roles) == count else [str(n) for n in range(count)]


def _vars(group: h5py.Group, entry: LayerEntry, where: str, keras2: bool) -> list[StoredWeight]:
    variables = group.get("vars")
    if variables is None:
        return []
    if not isinstance(variables, h5py.Group):
        raise LoadError(f"{where}: {group.name}/vars is not a group")
    keys = _numbered(variables)
    roles = v3_roles(entry.class_name, entry.config, len(keys), keras2)
    weights = []
    for role, key in zip(roles, keys, strict=True):
        dataset = checked_dataset(variables[key], f"{where}: weight {variables.name}/{key} of layer {entry.name!r}")
        weights.append(StoredWeight(role=role, dataset=dataset, source=dataset.name))
    return weights


def _group_names(container: h5py.Group) -> dict[str, str]:
    """Layer name → key, from the ``vars`` groups' ``name`` attributes (Keras ≥ 3.x writes them)."""
    names = {}
    for key, child in container.items():
        variables = child.get("vars") if isinstance(child, h5py.Group) else None
        if isinstance(variables, h5py.Group) and "name" in variables.attrs:
            names[text(variables.attrs["name"])] = key
    return names


def _children(entry: LayerEntry) -> Iterator[LayerEntry]:
    """``model.layers`` of a model entry: a Sequential leaves out its InputLayer, a Functional keeps it."""
    for child in entry.children:
        if entry.functional or child.class_name != "InputLayer":
            yield child


def v3_table(
    container: h5py.Group, model: LayerEntry, where: str, keras2: bool = False, path: LayerKey = ()
) -> dict[LayerKey, list[StoredWeight]]:
    """Leaf layer key → weights, walking the config's layer tree and the ``layers`` groups together."""
    layers = container.get("layers")
    if layers is None:
        return {}
    if not isinstance(layers, h5py.Group):
        raise LoadError(f"{where}: {container.name}/layers is not a group")
    named = _group_names(layers)
    counts: dict[str, int] = {}
    table: dict[LayerKey, list[StoredWeight]] = {}
    for child in _children(model):
        base = snake_case(child.class_name)
        count = counts.get(base, 0)
        counts[base] = count + 1
        key = named.get(child.name, base if count == 0 else f"{base}_{count}")
        group = layers.get(key)
        if group is None:
            continue
        if not isinstance(group, h5py.Group):
            raise LoadError(f"{where}: {layers.name}/{key} is not a group")
        if child.children:
            table.update(v3_table(group, child, where, keras2, (*path, child.name)))
        else:
            table[(*path, child.name)] = _vars(group, child, where, keras2)
    return table
