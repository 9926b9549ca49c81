"""Rebuilding layers from a weights-only Keras file, where weight shapes are all there is.

A Keras 2 ``save_weights`` file names each weight (``conv/kernel:0``), so roles and ranks tell the class: a
``depthwise_kernel`` with a ``pointwise_kernel`` is a SeparableConv, a 4-D ``kernel`` a Conv2D (a
Conv2DTranspose when its bias is as long as the kernel's input axis, or the layer has Keras' own name for one),
``gamma``/``moving_mean`` a BatchNormalization.  A Keras 3 ``.weights.h5`` keys each layer by its snake-cased class
(``conv2d_transpose_1``), which names the class.  Strides, padding, dilation and shapes are not recorded: the
layers leave them unknown (``None``), and only the parameter counts can be verified.
"""

from __future__ import annotations

import re

import h5py

from inspector.errors import LoadError
from inspector.model.budget import MAX_NESTING
from inspector.plugins.keras.archive import text
from inspector.plugins.keras.config import LayerCall
from inspector.plugins.keras.hdf5_access import attribute, child, has_attribute, member, names
from inspector.plugins.keras.weights import StoredWeight, legacy_table, numbered, snake_case, stored_weight, v3_roles

_CONV_CLASSES = [
    f"{base}{rank}D{tail}"
    for rank in (1, 2, 3)
    for base, tail in (("Conv", ""), ("DepthwiseConv", ""), ("SeparableConv", ""), ("Conv", "Transpose"))
]
KNOWN_CLASSES = {snake_case(name): name for name in (*_CONV_CLASSES, "Dense", "BatchNormalization")}


def _legacy_class(name: str, roles: dict[str, StoredWeight]) -> str:
    if "pointwise_kernel" in roles:
        return f"SeparableConv{roles['pointwise_kernel'].ndim - 2}D"
    if "depthwise_kernel" in roles:
        return f"DepthwiseConv{roles['depthwise_kernel'].ndim - 2}D"
    if "moving_mean" in roles or "gamma" in roles:
        return "BatchNormalization"
    kernel = roles.get("kernel")
    if kernel is not None and kernel.ndim == 2:
        return "Dense"
    if kernel is not None and 3 <= kernel.ndim <= 5:
        return f"Conv{kernel.ndim - 2}D{'Transpose' if _transposed(name, kernel, roles.get('bias')) else ''}"
    return "?"


def _transposed(name: str, kernel: StoredWeight, bias: StoredWeight | None) -> bool:
    """Whether a conv kernel is a transposed conv's, stored ``(*k, out, in)`` where a conv's is ``(*k, in, out)``:
    the bias holds one value per output channel, so its length tells them apart when the two axes differ;
    otherwise the layer's name does when Keras chose it (``conv2d_transpose``, ``conv2d_transpose_3``)."""
    if (
        bias is not None
        and bias.shape in ((kernel.shape[-1],), (kernel.shape[-2],))
        and kernel.shape[-1] != kernel.shape[-2]
    ):
        return bias.shape == (kernel.shape[-2],)
    return re.fullmatch(rf"conv{kernel.ndim - 2}d_transpose(_\d+)?", name) is not None


def _call(name: str, class_name: str, previous: str | None) -> LayerCall:
    return LayerCall(
        layer=name,
        path=(),
        class_name=class_name,
        config={},
        inputs=(previous,) if previous else (),
        outputs=(name,),
    )


def legacy_calls(root: h5py.Group, where: str) -> list[tuple[LayerCall, list[StoredWeight]]]:
    """Layers of a Keras 2 weights-only file in ``layer_names`` order, nested groups split by weight owner."""
    calls: list[tuple[LayerCall, list[StoredWeight]]] = []
    previous = None
    for group_name, entries in legacy_table(root, where).items():
        owners: dict[str, list[StoredWeight]] = {}
        for weight_name, weight in entries:
            parts = weight_name.split("/")
            owner = parts[-2] if len(parts) >= 2 and parts[-2] not in (group_name, "") else group_name
            if owner.startswith(f"{group_name}_") and re.fullmatch(r"\d+", owner[len(group_name) + 1 :]):
                owner = group_name
            owners.setdefault(owner, []).append(weight)
        for owner, weights in owners.items() or [(group_name, [])]:
            class_name = _legacy_class(owner, {w.role: w for w in weights}) if weights else "?"
            calls.append((_call(owner, class_name, previous), weights))
            previous = owner
    return calls


def v3_calls(root: h5py.Group, where: str) -> list[tuple[LayerCall, list[StoredWeight]]]:
    """Layers of a Keras 3 ``.weights.h5``: each ``layers/<key>`` (nested models recursed), in key order."""
    calls: list[tuple[LayerCall, list[StoredWeight]]] = []
    _walk(root, "", where, calls, depth=0)
    return calls


def _walk(
    container: h5py.Group, path: str, where: str, calls: list[tuple[LayerCall, list[StoredWeight]]], depth: int
) -> None:
    """Add the layers under ``container`` (at ``path`` in the file, ``""`` for the root) to ``calls``."""
    if depth > MAX_NESTING:
        raise LoadError(f"{where}: nests layer groups more than {MAX_NESTING} deep (a link cycle?)")
    layers_path = f"{path}/layers"
    layers = child(container, "layers", f"{where}: {layers_path}")
    if not isinstance(layers, h5py.Group):
        return
    for key in sorted(names(layers, f"{where}: {layers_path}"), key=_natural):
        group_path = f"{layers_path}/{key}"
        group = member(layers, key, f"{where}: {group_path}")
        if not isinstance(group, h5py.Group):
            raise LoadError(f"{where}: {group_path} is not a group")
        if isinstance(child(group, "layers", f"{where}: {group_path}/layers"), h5py.Group):
            _walk(group, group_path, where, calls, depth + 1)
            continue
        vars_path = f"{group_path}/vars"
        variables = child(group, "vars", f"{where}: {vars_path}")
        is_group = isinstance(variables, h5py.Group)
        keys = numbered(variables, f"{where}: {vars_path}") if is_group else []
        class_name = KNOWN_CLASSES.get(re.sub(r"_\d+$", "", key), "?")
        named = is_group and has_attribute(variables, "name", f"{where}: {vars_path}")
        name = text(attribute(variables, "name", f"{where}: {vars_path}")) if named else key
        roles = v3_roles(class_name, {}, len(keys))
        weights = []
        for role, k in zip(roles, keys, strict=True):
            label = f"{where}: weight {vars_path}/{k}"
            weights.append(stored_weight(role, member(variables, k, label), label))
        previous = calls[-1][0].layer if calls else None
        calls.append((_call(name, class_name, previous), weights))


def _natural(key: str) -> tuple[str, int]:
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", key)
    assert match is not None
    return match[1], int(match[2] or 0)
