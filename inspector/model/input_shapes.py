"""Model input shapes the file leaves open (-1, 0, symbolic or missing dims), and the ones a user gives.

A dim is *fixed* when the file says a positive size.  ``--input-shape NAME:DIMS`` (``input_shapes`` in the API)
may set any dim that is not fixed, and must repeat a fixed one.  Loaders apply given shapes before they work out
the layers' shapes, so the table's shapes and MACs follow them.  To run a model, an open batch dim (dim 0)
defaults to 1; any other open dim has no sensible default (a spatial size of 1 would run a detector on one
pixel), so it must be given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from inspector.errors import ValidationError
from inspector.model.common import Dim, Shape, TensorInfo

DEFAULT_BATCH = 1
OPEN_BATCH = "N"
"""The name an open batch dim (dim 0 written as -1, 0 or nothing) takes, so that it carries through the layers."""
_DIMS = re.compile(r"^\d+(x\d+)*$")


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``"image:1x3x224x224"`` → ``("image", (1, 3, 224, 224))``."""
    name, _, dims = text.rpartition(":")
    if not name or not _DIMS.match(dims) or any(int(d) < 1 for d in dims.split("x")):
        raise ValidationError(f"--input-shape {text!r}: expected NAME:DIMS with positive dims, e.g. image:1x3x224x224")
    return name, tuple(int(d) for d in dims.split("x"))


def is_fixed(dim: Dim) -> bool:
    """Whether the file fixes this dim to a size (a positive int)."""
    return isinstance(dim, int) and dim > 0


_SPATIAL_NAMES = {3: ("L",), 4: ("H", "W"), 5: ("D", "H", "W")}
"""Placeholder names of the spatial dims of channels-first inputs, by rank."""


def flag_example(tensor: TensorInfo) -> str:
    """``--input-shape x:1x3xHxW``: the flag that would fix ``tensor``'s open dims (named as the file names them,
    else ``H``, ``W``… by position)."""
    shape = tensor.shape or ()
    spatial = _SPATIAL_NAMES.get(len(shape), ())
    dims = []
    for axis, dim in enumerate(shape):
        if is_fixed(dim):
            dims.append(str(dim))
        elif axis == 0:
            dims.append(str(DEFAULT_BATCH))
        elif isinstance(dim, str) and dim.isidentifier():
            dims.append(dim.upper())
        else:
            position = axis - (len(shape) - len(spatial))
            dims.append(spatial[position] if 0 <= position < len(spatial) else f"D{axis}")
    return f"--input-shape {tensor.name}:{'x'.join(dims) or 'DIMS'}"


def checked_shape(name: str, declared: Shape | None, given: tuple[int, ...], origin: str) -> tuple[int, ...]:
    """``given`` for input ``name``, checked against the dims the model fixes (``origin`` names the source)."""
    if declared is not None:
        if len(declared) != len(given):
            raise ValidationError(f"{origin}: {len(given)} dims given, input {name!r} has {len(declared)}")
        for axis, (d, g) in enumerate(zip(declared, given, strict=True)):
            if is_fixed(d) and d != g:
                raise ValidationError(f"{origin}: dim {axis} of input {name!r} is fixed to {d}, {g} was given")
    return given


def bind_dim_names(names: dict[str, int], declared: Shape | None, sizes: tuple[int, ...], tensor: str) -> None:
    """Record in ``names`` the size ``sizes`` gives each named dim of ``declared`` (input ``tensor``'s shape).

    Raises ``ValidationError`` when a name already has another size: one name is one size in every input.
    """
    for axis, (dim, size) in enumerate(zip(declared or (), sizes, strict=False)):
        if isinstance(dim, str) and dim != "?" and names.setdefault(dim, size) != size:
            raise ValidationError(
                f"--input-shape: dim {dim!r} is {names[dim]} in one input and {size} in dim {axis} of {tensor!r}; "
                "the model gives both one size"
            )


def runnable_shape(tensor: TensorInfo, symbols: Mapping[str, int] | None = None) -> tuple[int, ...]:
    """The shape to run ``tensor`` at: its fixed dims, named dims sized in ``symbols``, batch 1 where dim 0 is
    open.

    Raises ``ValidationError`` naming the input, the dim and the flag when another dim is open.
    """
    if tensor.shape is None:
        raise ValidationError(f"input {tensor.name!r} has no shape in the model; give one with {flag_example(tensor)}")
    dims = []
    for axis, dim in enumerate(tensor.shape):
        if is_fixed(dim):
            dims.append(int(dim))
        elif isinstance(dim, str) and dim in (symbols or {}):
            dims.append((symbols or {})[dim])
        elif axis == 0:
            dims.append(DEFAULT_BATCH)
        else:
            raise ValidationError(
                f"input {tensor.name!r}: dim {axis} is not fixed ({dim!r} in the model), so its size cannot be known; "
                f"give it with {flag_example(tensor)}"
            )
    return tuple(dims)


def check_input_names(given: Mapping[str, object], inputs: tuple[TensorInfo, ...], path: str) -> None:
    """Raise ``ValidationError`` when ``given`` names a tensor that is not an input of the model at ``path``."""
    known = {t.name for t in inputs}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValidationError(
            f"--input-shape names {unknown[0]!r}, not an input of {path} (inputs: {', '.join(sorted(known)) or 'none'})"
        )
