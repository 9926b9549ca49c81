"""Every conv layer's canonical weight and bias in one ``.npz`` that plain NumPy reads.

Keys are ``<layer>/weight`` (canonical ``(O, I/g, *k)``, ``(I, O/g, *k)`` for a transposed conv) and
``<layer>/bias`` (``(O,)``), for each conv layer whose weight is stored; no pickled objects, so
``np.load(path, allow_pickle=False)`` reads it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from numpy.lib.format import write_array

from inspector.model.common import Model
from inspector.model.transient_reads import transient_reads
from inspector.report.atomic_file import atomic_file


def export_filters(model: Model, path: str | Path) -> int:
    """Write ``model``'s conv weights and biases to ``path`` (whole or not at all); returns the array count.

    Written as ``numpy.savez`` writes (an uncompressed zip of ``.npy`` members), one layer at a time: a layer's
    weights are dropped from memory once written, so a model of any size costs one layer's weights.
    """
    count = 0
    with (
        atomic_file(path, "wb") as stream,
        zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED, allowZip64=True) as archive,
    ):
        for layer in model.conv_layers:
            with transient_reads(layer):
                for part, weight in (("weight", layer.weight), ("bias", layer.bias)):
                    if weight is not None:
                        with archive.open(f"{layer.name}/{part}.npy", "w", force_zip64=True) as member:
                            write_array(member, weight.array, allow_pickle=False)
                        count += 1
    return count
