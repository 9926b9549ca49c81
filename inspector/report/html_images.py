"""Pictures of filters for the HTML report: the diverging colour scale and the filter grid as a PNG (Pillow).

A layer's grid has one row per output channel j and one tile per input map i: the kernel F_ij, one pixel per
weight, tiles one grey pixel apart (the page scales it up without smoothing).  Every tile of a layer shares one
scale, symmetric about 0: -limit is blue, 0 white, +limit red, NaN and Inf magenta.  A big layer shows its first
``MAX_OUTPUT_CHANNELS`` filters and, of each, the first ``MAX_INPUT_MAPS`` input maps it reads.  The PNG is a
palette image with no metadata (no time, no text chunks), so the same weights always give the same bytes.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

MAX_OUTPUT_CHANNELS = 64
MAX_INPUT_MAPS = 32
LEVELS = 253
"""Palette entries of the scale; the last palette entries are the gap and the non-finite colour."""
STOPS = ((-1.0, (33, 102, 172)), (0.0, (247, 247, 247)), (1.0, (178, 24, 43)))
"""The scale's anchors: a fraction of the limit and its colour (ColorBrewer's RdBu ends)."""
GAP = (150, 150, 150)
NON_FINITE = (230, 0, 230)
_GAP_INDEX, _NON_FINITE_INDEX = LEVELS, LEVELS + 1


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """``(33, 102, 172)`` as ``#2166ac``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _palette() -> list[int]:
    """The flat RGB palette: ``LEVELS`` colours from -limit to +limit, then the gap and the non-finite colour."""
    fractions = np.linspace(-1.0, 1.0, LEVELS)
    anchors = np.array([stop for stop, _ in STOPS])
    colours = np.array([colour for _, colour in STOPS], dtype=np.float64)
    channels = [np.interp(fractions, anchors, colours[:, c]) for c in range(3)]
    scale = np.rint(np.stack(channels, axis=1)).astype(np.uint8)
    return [*scale.ravel().tolist(), *GAP, *NON_FINITE]


_PALETTE = _palette()


def levels(values: np.ndarray, limit: float) -> np.ndarray:
    """Palette indices of ``values`` on the scale ``[-limit, limit]`` (non-finite values get their own colour)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    scaled = np.where(finite, values, 0.0) / limit if limit > 0 else np.zeros(values.shape)
    index = np.rint((np.clip(scaled, -1.0, 1.0) + 1.0) / 2.0 * (LEVELS - 1)).astype(np.uint8)
    return np.where(finite, index, np.uint8(_NON_FINITE_INDEX)).astype(np.uint8)


def flat_kernel(kernels: np.ndarray) -> np.ndarray:
    """Kernels ``(..., *k)`` of rank 1, 2 or 3 as 2-D pictures ``(..., h, w)``: a 1-D kernel is one row, a 3-D
    kernel's depth slices stand side by side."""
    rank = kernels.ndim - 2
    if rank == 1:
        return kernels[..., np.newaxis, :]
    if rank == 3:
        depth, height, width = kernels.shape[-3:]
        moved = np.moveaxis(kernels, -3, -2)  # (..., h, d, w)
        return moved.reshape(*kernels.shape[:-3], height, depth * width)
    return kernels


@dataclass(frozen=True, slots=True)
class Picture:
    """A PNG as a ``data:`` URI and its size in pixels."""

    uri: str
    width: int
    height: int


def png_uri(indices: np.ndarray) -> Picture:
    """A palette PNG of ``indices`` (rows × columns of palette entries), deterministic byte for byte."""
    image = Image.fromarray(np.ascontiguousarray(indices, dtype=np.uint8))  # mode L, a palette makes it P
    image.putpalette(_PALETTE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=9)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Picture(uri=f"data:image/png;base64,{encoded}", width=image.width, height=image.height)


def filter_grid(kernels: np.ndarray, limit: float) -> Picture:
    """The grid of ``kernels`` ``(rows, columns, *k)``: tile ``[j, i]`` is F_ij, one grey pixel between tiles."""
    tiles = levels(flat_kernel(kernels), limit)
    rows, columns, height, width = tiles.shape
    framed = np.full((rows, height + 1, columns, width + 1), _GAP_INDEX, dtype=np.uint8)
    framed[:, :height, :, :width] = tiles.transpose(0, 2, 1, 3)
    canvas = framed.reshape(rows * (height + 1), columns * (width + 1))
    return png_uri(np.pad(canvas, ((1, 0), (1, 0)), constant_values=_GAP_INDEX))


def zoom(picture: Picture, width: int = 480, height: int = 720, most: int = 8) -> int:
    """How many screen pixels a grid pixel takes: the largest whole number fitting ``width`` × ``height``."""
    return max(1, min(most, width // picture.width, height // picture.height))


def symmetric_limit(largest: float) -> float:
    """The scale's limit for a layer whose largest finite magnitude is ``largest`` (1 when it has none)."""
    return largest if math.isfinite(largest) and largest > 0 else 1.0
