"""The first bytes of the two containers Keras writes: HDF5 (``.h5``) and zip (``.keras``)."""

from __future__ import annotations

from pathlib import Path

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


def sniff(path: Path) -> str | None:
    """``"hdf5"``, ``"zip"`` or ``None``, from the file's first bytes."""
    with path.open("rb") as stream:
        head = stream.read(8)
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    return None
