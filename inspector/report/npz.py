"""Every conv layer's canonical weight and bias in one ``.npz`` that plain NumPy reads.

Keys are ``<layer>/weight`` (canonical ``(O, I/g, *k)``, ``(I, O/g, *k)`` for a transposed conv) and
``<layer>/bias`` (``(O,)``), for each conv layer whose weight is stored; no pickled objects, so
``np.load(path, allow_pickle=False)`` reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inspector.model.common import Model
from inspector.report.atomic_file import atomic_file


def filter_arrays(model: Model) -> dict[str, np.ndarray]:
    """The arrays to export, keyed ``<layer>/weight`` and ``<layer>/bias``, in layer order."""
    arrays: dict[str, np.ndarray] = {}
    for layer in model.conv_layers:
        for part, weight in (("weight", layer.weight), ("bias", layer.bias)):
            if weight is not None:
                arrays[f"{layer.name}/{part}"] = weight.array
    return arrays


def export_filters(model: Model, path: str | Path) -> int:
    """Write ``model``'s conv weights and biases to ``path`` (whole or not at all); returns the array count."""
    arrays = filter_arrays(model)
    with atomic_file(path, "wb") as stream:
        np.savez(stream, **arrays)
    return len(arrays)
