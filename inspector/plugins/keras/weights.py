"""Finding each Keras layer's stored weights through the file's own records, never by guessing a path.

* Legacy ``.h5`` (full or weights-only): ``layer_names`` lists the layer groups, each group's ``weight_names``
  lists its datasets (both possibly chunked as ``layer_names0``, ``layer_names1``…).  A nested model's group holds
  all its sublayers' weights; the owner of each is the part of the weight name before the role.
* Keras 3 weights (``.keras``, ``.weights.h5``): ``layers/<key>/vars/<n>``, where ``<key>`` is the snake-cased
  class name made unique in ``model.layers`` order (or named by the group's ``name`` attribute when Keras wrote
  one) and ``<n>`` sorts as a number.  Roles come from the layer class (kernel, bias, gamma…).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

import h5py

from inspector.errors import LoadError
from inspector.model.budget import MIB, numpy_can_hold
from inspector.plugins.keras.archive import string_list, text
from inspector.plugins.keras.config import LayerEntry
from inspector.plugins.keras.hdf5_access import attribute, child, dataset_facts, has_attribute, member, names
from inspector.plugins.keras.shapes import class_rank

MAX_COMPRESSION = 64
"""Largest ratio of a compressed dataset's declared bytes to its stored bytes that is believed: a file may not
make the tool decode more than this many times its own bytes (a pruned layer compresses ~10×; Keras never
compresses)."""
SMALL_DECODE = 16 * MIB
"""A compressed dataset declaring at most this many bytes is believed whatever its ratio (an all-zero bias)."""
NON_TRAINABLE_ROLES = frozenset({"moving_mean", "moving_variance"})


@dataclass(frozen=True, slots=True)
class StoredWeight:
    """One weight dataset: its role (``kernel``, ``bias``…), the dataset, where it lives, and the shape and dtype
    its header declares (read when the file is opened, so building layers never touches the file)."""

    role: str
    dataset: h5py.Dataset
    source: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self.shape)


LayerKey = tuple[str, ...]
"""Enclosing model names then the layer's own name."""


def stored_weight(role: str, node: object, where: str) -> StoredWeight:
    """``node`` as the weight ``role``: a numeric dataset whose declared size the file can actually hold."""
    if not isinstance(node, h5py.Dataset):
        raise LoadError(f"{where}: is not a dataset")
    facts = dataset_facts(node, where)
    if facts.shape is None:
        raise LoadError(f"{where}: is an empty dataset (it has no shape)")
    if facts.dtype.kind not in "fiub":
        raise LoadError(f"{where}: has dtype {facts.dtype}, not a number type")
    if facts.virtual or facts.external:
        kind = "a virtual dataset" if facts.virtual else "a dataset with external storage"
        raise LoadError(f"{where}: is {kind}, whose bytes live in other files, never read")
    if not numpy_can_hold(facts.shape, facts.dtype.itemsize):
        raise LoadError(f"{where}: declares shape {facts.shape}, which no array can have (past NumPy's 2**63 bytes)")
    declared = math.prod(facts.shape) * facts.dtype.itemsize
    limit = max(facts.stored_bytes * MAX_COMPRESSION, SMALL_DECODE) if facts.compressed else facts.stored_bytes
    if declared > max(limit, 0) and declared > 0:
        believed = f" compressed (at most {MAX_COMPRESSION}× that, or 16 MiB, is decoded)" if facts.compressed else ""
        raise LoadError(
            f"{where}: declares shape {facts.shape} ({declared:,} bytes) but stores {facts.stored_bytes:,} "
            f"bytes{believed}"
        )
    return StoredWeight(role=role, dataset=node, source=facts.path, shape=facts.shape, dtype=str(facts.dtype))


def _role(weight_name: str) -> str:
    return weight_name.rsplit("/", 1)[-1].split(":", 1)[0]


def _owner(weight_name: str) -> str:
    parts = weight_name.split("/")
    return parts[-2] if len(parts) >= 2 else ""


def legacy_table(group: h5py.Group, where: str) -> dict[str, list[tuple[str, StoredWeight]]]:
    """Layer group name → ``(weight name, weight)`` in file order, through ``layer_names``/``weight_names``."""
    table: dict[str, list[tuple[str, StoredWeight]]] = {}
    for layer in string_list(group, "layer_names", where):
        layer_group = child(group, layer, f"{where}: layer {layer!r}")
        if not isinstance(layer_group, h5py.Group):
            raise LoadError(f"{where}: layer_names lists {layer!r}, but there is no such group")
        entries = []
        for name in string_list(layer_group, "weight_names", f"{where}: layer {layer!r}"):
            label = f"{where}: weight {layer}/{name}"
            node = child(layer_group, name, label)
            if node is None:
                raise LoadError(f"{label} is listed in weight_names but missing")
            entries.append((name, stored_weight(_role(name), node, label)))
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


def numbered(group: h5py.Group, where: str) -> list[str]:
    """The names of ``group``'s members that are numbers (``vars/0``, ``vars/1``…), in numeric order."""
    return sorted((key for key in names(group, where) if key.isascii() and key.isdigit()), key=int)


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


def _vars(group: h5py.Group, path: str, entry: LayerEntry, where: str, keras2: bool) -> list[StoredWeight]:
    variables = child(group, "vars", f"{where}: {path}/vars")
    if variables is None:
        return []
    if not isinstance(variables, h5py.Group):
        raise LoadError(f"{where}: {path}/vars is not a group")
    keys = numbered(variables, f"{where}: {path}/vars")
    roles = v3_roles(entry.class_name, entry.config, len(keys), keras2)
    weights = []
    for role, key in zip(roles, keys, strict=True):
        label = f"{where}: weight {path}/vars/{key} of layer {entry.name!r}"
        weights.append(stored_weight(role, member(variables, key, label), label))
    return weights


def _group_names(container: h5py.Group, path: str, where: str) -> dict[str, str]:
    """Layer name → key, from the ``vars`` groups' ``name`` attributes (Keras ≥ 3.x writes them)."""
    found = {}
    for key in names(container, f"{where}: {path}"):
        label = f"{where}: {path}/{key}"
        group = child(container, key, label)
        variables = child(group, "vars", f"{label}/vars") if isinstance(group, h5py.Group) else None
        if isinstance(variables, h5py.Group) and has_attribute(variables, "name", f"{label}/vars"):
            found[text(attribute(variables, "name", f"{label}/vars"))] = key
    return found


def _children(entry: LayerEntry) -> Iterator[LayerEntry]:
    """``model.layers`` of a model entry: a Sequential leaves out its InputLayer, a Functional keeps it."""
    for item in entry.children:
        if entry.functional or item.class_name != "InputLayer":
            yield item


def v3_table(
    container: h5py.Group,
    model: LayerEntry,
    where: str,
    keras2: bool = False,
    path: LayerKey = (),
    group_path: str = "",
) -> dict[LayerKey, list[StoredWeight]]:
    """Leaf layer key → weights, walking the config's layer tree and the ``layers`` groups together.

    ``group_path`` is ``container``'s path in the file (``""`` for the root), for messages.
    """
    layers_path = f"{group_path}/layers"
    layers = child(container, "layers", f"{where}: {layers_path}")
    if layers is None:
        return {}
    if not isinstance(layers, h5py.Group):
        raise LoadError(f"{where}: {layers_path} is not a group")
    named = _group_names(layers, layers_path, where)
    counts: dict[str, int] = {}
    table: dict[LayerKey, list[StoredWeight]] = {}
    for entry in _children(model):
        base = snake_case(entry.class_name)
        count = counts.get(base, 0)
        counts[base] = count + 1
        key = named.get(entry.name, base if count == 0 else f"{base}_{count}")
        key_path = f"{layers_path}/{key}"
        group = child(layers, key, f"{where}: {key_path}")
        if group is None:
            continue
        if not isinstance(group, h5py.Group):
            raise LoadError(f"{where}: {key_path} is not a group")
        if entry.children:
            table.update(v3_table(group, entry, where, keras2, (*path, entry.name), key_path))
        else:
            table[(*path, entry.name)] = _vars(group, key_path, entry, where, keras2)
    return table
