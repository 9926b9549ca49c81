"""Every h5py call the Keras readers make, each turning what h5py raises for a damaged file into a ``LoadError``.

h5py reports a failure of the HDF5 library as a built-in exception chosen from the HDF5 error's class
(``h5py/_errors.pyx``): ``OSError`` (read, seek, truncation, not an HDF5 file, a missing filter), ``KeyError``
(object not found or not openable), ``ValueError`` (bad value, range or identifier), ``TypeError`` (a type it
cannot convert), ``NotImplementedError`` (an unsupported feature) and ``RuntimeError`` (any other class).  Those
are the types a bug raises too, so the conversion wraps the h5py call alone, never this package's own code: an
exception from the readers' logic propagates as the bug it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

from inspector.errors import LoadError

H5PY_ERRORS = (OSError, KeyError, ValueError, TypeError, NotImplementedError, RuntimeError)
"""What h5py raises when the HDF5 library fails (its error table's types; ``RuntimeError`` by default)."""

Node = h5py.Group | h5py.Dataset | h5py.Datatype


def _reason(error: BaseException) -> str:
    text = str(error.args[0] if error.args else error).strip()
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def _hdf5_call(where: str, problem: str = "corrupt HDF5 structure") -> Iterator[None]:
    """Around one h5py call: an error of the HDF5 library becomes a ``LoadError`` naming ``where``."""
    try:
        yield
    except H5PY_ERRORS as error:
        raise LoadError(f"{where}: {problem} ({_reason(error)})") from error


def open_file(source: Path | IO[bytes], where: str) -> h5py.File:
    """``source`` (a path or a seekable binary stream) opened read-only."""
    try:
        return h5py.File(source, "r")
    except OSError as error:
        raise LoadError(f"{where}: not a readable HDF5 file ({_reason(error)})") from error
    except H5PY_ERRORS as error:
        raise LoadError(f"{where}: corrupt HDF5 structure ({_reason(error)})") from error


def external_link(root: h5py.File, where: str) -> str | None:
    """The path of the first external link anywhere in the file, or ``None``."""

    def external(name: bytes, info: h5py.h5l.LinkInfo) -> bytes | None:
        return name if info.type == h5py.h5l.TYPE_EXTERNAL else None

    with _hdf5_call(where):
        found = root.id.links.visit(external, info=True)
    return None if found is None else found.decode(errors="replace")


def child(group: h5py.Group, name: str, where: str) -> Node | None:
    """The object at ``name`` under ``group``, or ``None`` when there is none (or it cannot be opened)."""
    with _hdf5_call(where):
        return group.get(name)


def member(group: h5py.Group, name: str, where: str) -> Node:
    """The object at ``name``, a name the group lists (so failing to open it means the file is damaged)."""
    with _hdf5_call(where):
        return group[name]


def names(group: h5py.Group, where: str) -> list[str]:
    """The names of the links in ``group``, in h5py's order."""
    with _hdf5_call(where):
        return list(group)


def has_attribute(node: Node, key: str, where: str) -> bool:
    """Whether ``node`` has attribute ``key``."""
    with _hdf5_call(where):
        return key in node.attrs


def attribute(node: Node, key: str, where: str) -> Any:
    """The value of attribute ``key`` of ``node`` (it must exist)."""
    with _hdf5_call(where):
        return node.attrs[key]


@dataclass(frozen=True, slots=True)
class DatasetFacts:
    """What a dataset's header says: shape (``None`` for an empty dataspace), dtype, where its bytes live and how
    many are stored."""

    path: str
    shape: tuple[int, ...] | None
    dtype: np.dtype
    virtual: bool
    external: bool
    stored_bytes: int
    compressed: bool


def dataset_facts(dataset: h5py.Dataset, where: str) -> DatasetFacts:
    """``dataset``'s header, read now (nothing of its data)."""
    with _hdf5_call(where):
        path = dataset.name
        shape = dataset.shape
        dtype = dataset.dtype
        virtual = dataset.is_virtual
        external = dataset.external
        stored = dataset.id.get_storage_size()
        compression = dataset.compression
    return DatasetFacts(
        path=str(path),
        shape=None if shape is None else tuple(int(d) for d in shape),
        dtype=dtype,
        virtual=bool(virtual),
        external=bool(external),
        stored_bytes=int(stored),
        compressed=compression is not None,
    )


def read_array(dataset: h5py.Dataset, where: str) -> np.ndarray:
    """All of ``dataset``'s values, in memory (so they outlive the file)."""
    with _hdf5_call(where, "cannot be read"):
        return np.asarray(dataset[()])
