"""Weight layouts: how each framework stores a kernel, and the conversion to the canonical (ONNX) layout.

A layout is a string of axis letters: ``O``/``I`` output/input channels, ``M`` depthwise multiplier, ``D``,
``H``, ``W`` spatial axes.  Canonical layouts (DESIGN.md):

===============  ==================  ==================  =========================================
kind             canonical           Keras native        conversion
===============  ==================  ==================  =========================================
conv             ``(O, I/g, *k)``    ``(*k, I/g, O)``    move last axis first, axis -2 second
depthwise        ``(I*m, 1, *k)``    ``(*k, I, m)``      output channel ``c*m + j``
conv_transpose   ``(I, O/g, *k)``    ``(*k, O/g, I)``    move last axis first, axis -2 second
dense            ``(out, in)``       ``(in, out)``       transpose
===============  ==================  ==================  =========================================

Layouts that start with ``O`` or ``I`` (ONNX's own, vectors ``O``/``C``) are already canonical, and so is
``""``, which means "kept as stored" (weights of layers the tool does not interpret).
"""

from __future__ import annotations

import numpy as np

SPATIAL = "DHW"


def _spatial_rank(layout: str) -> int:
    return sum(letter in SPATIAL for letter in layout)


def is_canonical(layout: str) -> bool:
    """Whether arrays in ``layout`` are already in the canonical layout."""
    return layout == "" or (layout[:1] in ("O", "I", "C") and layout != "IO")


def _keras_channels_last(layout: str) -> bool:
    """``(*k, A, B)`` layouts (conv ``IO``, transposed ``OI``): the two channel axes move to the front."""
    return _spatial_rank(layout) > 0 and layout.endswith(("IO", "OI"))


def canonical_shape(native_shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """The canonical shape of an array stored as ``native_shape`` in ``layout``."""
    if is_canonical(layout):
        return tuple(native_shape)
    if layout == "IO":
        return (native_shape[1], native_shape[0])
    if layout.endswith("IM"):
        *kernel, channels, multiplier = native_shape
        return (channels * multiplier, 1, *kernel)
    if _keras_channels_last(layout):
        *kernel, second, first = native_shape
        return (first, second, *kernel)
    raise ValueError(f"unknown weight layout {layout!r}")


def to_canonical(array: np.ndarray, layout: str) -> np.ndarray:
    """Convert ``array`` stored in ``layout`` to the canonical layout (a view where possible)."""
    if is_canonical(layout):
        return array
    if layout == "IO":
        return array.T
    if layout.endswith("IM"):
        rank = array.ndim - 2
        moved = np.moveaxis(array, (rank, rank + 1), (0, 1))
        return moved.reshape(canonical_shape(array.shape, layout))
    if _keras_channels_last(layout):
        return np.moveaxis(array, (-1, -2), (0, 1))
    raise ValueError(f"unknown weight layout {layout!r}")


def from_canonical(array: np.ndarray, layout: str, native_shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of ``to_canonical``: a canonical array back in ``layout`` with ``native_shape``."""
    if is_canonical(layout):
        return array
    if layout == "IO":
        return array.T
    if layout.endswith("IM"):
        *kernel, channels, multiplier = native_shape
        grouped = array.reshape(channels, multiplier, *kernel)
        return np.moveaxis(grouped, (0, 1), (len(kernel), len(kernel) + 1))
    if _keras_channels_last(layout):
        return np.moveaxis(array, (0, 1), (-1, -2))
    raise ValueError(f"unknown weight layout {layout!r}")


def onnx_conv_layout(rank: int, transposed: bool = False) -> str:
    """ONNX's layout name for a rank-``rank`` kernel: ``OIHW`` (``IOHW`` for ConvTranspose)."""
    return ("IO" if transposed else "OI") + SPATIAL[3 - rank :]


def keras_conv_layout(rank: int, kind: str = "conv") -> str:
    """Keras' layout name: ``HWIO`` for conv, ``HWIM`` for depthwise, ``HWOI`` for transposed conv."""
    channels = {"conv": "IO", "depthwise": "IM", "conv_transpose": "OI"}[kind]
    return SPATIAL[3 - rank :] + channels


Index = tuple[int | slice, ...]


def filter_selector(
    layout: str, o: int, *, transposed: bool, in_channels: int, out_channels: int, groups: int
) -> Index:
    """The index selecting, in an array stored in ``layout``, the filter that produces output channel ``o``.

    Driven by the axis letters alone: with ``g = o // (out/groups)`` and ``j = o % (out/groups)``, a conv's
    ``O`` axis takes ``o`` (its ``I`` axis, holding ``in/groups``, stays whole), a depthwise ``I``/``M`` pair takes
    ``g``/``j``, a transposed conv's ``O`` axis takes ``j`` and its ``I`` axis group ``g``'s input range (whole
    when ``groups == 1``).  Spatial axes stay whole.
    """
    per_group_out = out_channels // groups
    group, column = divmod(o, per_group_out)
    if transposed:
        per_group_in = in_channels // groups
        inputs: int | slice = slice(None) if groups == 1 else slice(group * per_group_in, (group + 1) * per_group_in)
        channel = {"O": column, "I": inputs}
    elif "M" in layout:
        channel = {"I": group, "M": column}
    else:
        channel = {"O": o, "I": slice(None)}
    return tuple(channel.get(letter, slice(None)) for letter in layout)


def _index_text(entry: int | slice) -> str:
    if isinstance(entry, int):
        return str(entry)
    return ":" if entry == slice(None) else f"{entry.start}:{entry.stop}"


def index_expression(name: str, index: Index, layout: str) -> str:
    """``index`` as NumPy code on an array called ``name``: ``W[5]``, ``W[0:4, 5]``, ``kernel[:, :, :, 5]``.

    Channels-first (ONNX) layouts drop trailing whole axes, as NumPy reads them; channels-last (Keras) layouts
    spell every axis, so the channel positions show.
    """
    entries = list(index)
    if layout[:1] in ("O", "I"):
        while entries and entries[-1] == slice(None):
            entries.pop()
    return f"{name}[{', '.join(_index_text(entry) for entry in entries)}]"
