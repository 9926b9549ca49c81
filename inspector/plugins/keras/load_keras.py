"""Built-in loader: Keras ``.h5`` (Keras 2 and 3, full or weights-only), ``.keras`` and ``.weights.h5`` files.

The file's first bytes decide whether it may be one; only then are the readers (and h5py) imported, so that
inspecting an ONNX file does not pay for them.
"""

from __future__ import annotations

from pathlib import Path

from inspector.errors import LoadError
from inspector.hookspecs import hookimpl
from inspector.model.common import Model
from inspector.options import Options
from inspector.plugins.keras.signatures import sniff

KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")


@hookimpl(trylast=True)
def load_model(path: Path, options: Options) -> Model | None:
    """Read ``path`` when it is a Keras file (recognised by content)."""
    model = None
    if sniff(path) is not None:
        from inspector.plugins.keras.read_keras import load_keras_file  # h5py only for HDF5 and zip files

        model = load_keras_file(path, options.input_shapes)
    if model is None and path.suffix.lower() in KERAS_SUFFIXES:
        raise LoadError(f"{path}: not a Keras file (neither a Keras HDF5 file nor a .keras zip)")
    return model
