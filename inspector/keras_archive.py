"""Opening Keras files by their content: which of the four kinds a file is, its config and its weights file.

==========================  =========================================================================
kind                        how it is recognised
==========================  =========================================================================
``keras``                   a zip holding ``config.json`` and ``model.weights.h5`` (Keras 3 ``.keras``)
``h5``                      HDF5 with root attribute ``model_config`` (``model.save("m.h5")``, Keras 2 and 3)
``h5-weights``              HDF5 with root attribute ``layer_names`` or ``layer_names0`` (Keras 2 ``save_weights``)
``weights-h5``              HDF5 with a ``layers`` group (Keras 3 ``save_weights``, ``*.weights.h5``)
==========================  =========================================================================

The weights file inside a ``.keras`` zip is stored uncompressed: it is opened in place through a window onto
the zip, so nothing is extracted and weights are still read lazily.  Member names are never used as paths.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from inspector.errors import LoadError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
MAX_JSON_BYTES = 64 * 1024 * 1024
"""Largest ``config.json``/``metadata.json`` read from a zip (a real config is kilobytes)."""
MAX_INFLATED_WEIGHTS = 256 * 1024 * 1024
"""Largest compressed ``model.weights.h5`` inflated into memory (Keras itself stores it uncompressed)."""
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


@dataclass(frozen=True, slots=True)
class KerasFile:
    """An opened Keras file: its kind, config (``None`` for weights-only files) and HDF5 weights."""

    kind: str
    config: dict[str, Any] | None
    weights: h5py.Group
    keras_version: str


def sniff(path: Path) -> str | None:
    """``"hdf5"``, ``"zip"`` or ``None``, from the file's first bytes."""
    with path.open("rb") as stream:
        head = stream.read(8)
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    return None


def text(value: Any) -> str:
    """An HDF5 or JSON string attribute as ``str`` (h5py returns ``str``, ``bytes`` or ``numpy.bytes_``)."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return text(value[()])
    return str(value)


def string_list(node: h5py.Group, key: str, where: str) -> list[str]:
    """A list-of-strings attribute, joined from its chunked form ``key0``, ``key1``… when Keras split it."""
    if key in node.attrs:
        chunks = [node.attrs[key]]
    else:
        chunks = []
        while f"{key}{len(chunks)}" in node.attrs:
            chunks.append(node.attrs[f"{key}{len(chunks)}"])
        if not chunks:
            raise LoadError(f"{where}: attribute {key!r} is missing")
    names: list[str] = []
    for chunk in chunks:
        array = np.asarray(chunk)
        if array.size == 0:
            continue
        if array.ndim != 1 or array.dtype.kind not in "OSU":
            raise LoadError(f"{where}: attribute {key!r} is not a list of strings ({array.dtype}, shape {array.shape})")
        names.extend(text(item) for item in array)
    return names


def _json(raw: Any, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text(raw))
    except (ValueError, RecursionError) as error:
        raise LoadError(f"{what} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise LoadError(f"{what} is not a JSON object")
    return document


def _version(attrs: h5py.AttributeManager | dict) -> str:
    return text(attrs["keras_version"]) if "keras_version" in attrs else "unknown"


def open_keras(path: Path) -> KerasFile | None:
    """Open ``path`` if it is a Keras file; ``None`` when it is not one (raises ``LoadError`` when broken)."""
    kind = sniff(path)
    if kind == "zip":
        return _open_zip(path)
    if kind == "hdf5":
        return _open_hdf5(path)
    return None


def _open_hdf5(path: Path) -> KerasFile | None:
    try:
        root = h5py.File(path, "r")
    except OSError as error:
        raise LoadError(f"{path}: not a readable HDF5 file ({error})") from None
    attrs = root.attrs
    if "model_config" in attrs:
        config = _json(attrs["model_config"], f"{path}: root attribute model_config")
        if "model_weights" not in root:
            raise LoadError(f"{path}: has model_config but no model_weights group")
        weights = root["model_weights"]
        if not isinstance(weights, h5py.Group):
            raise LoadError(f"{path}: model_weights is not a group")
        return KerasFile(kind="h5", config=config, weights=weights, keras_version=_version(attrs))
    if "layer_names" in attrs or "layer_names0" in attrs:
        return KerasFile(kind="h5-weights", config=None, weights=root, keras_version=_version(attrs))
    if isinstance(root.get("layers"), h5py.Group):
        return KerasFile(kind="weights-h5", config=None, weights=root, keras_version="3")
    root.close()
    return None


def _open_zip(path: Path) -> KerasFile | None:
    try:
        archive = zipfile.ZipFile(path)
        members = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise LoadError(f"{path}: not a readable zip file ({error})") from None
    if "config.json" not in members:
        return None
    config = _json(_read_small(archive, members["config.json"], path), f"{path}: config.json")
    metadata = (
        _json(_read_small(archive, members["metadata.json"], path), f"{path}: metadata.json")
        if "metadata.json" in members
        else {}
    )
    if "model.weights.h5" not in members:
        raise LoadError(f"{path}: .keras file has no model.weights.h5")
    stream = _member_stream(path, archive, members["model.weights.h5"])
    try:
        weights = h5py.File(stream, "r")
    except OSError as error:
        raise LoadError(f"{path}: model.weights.h5 is not a readable HDF5 file ({error})") from None
    version = text(metadata.get("keras_version", "unknown"))
    return KerasFile(kind="keras", config=config, weights=weights, keras_version=version)


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    if info.file_size > MAX_JSON_BYTES:
        raise LoadError(f"{path}: {info.filename} declares {info.file_size:,} bytes (limit {MAX_JSON_BYTES:,})")
    try:
        with archive.open(info) as member:
            data = member.read(MAX_JSON_BYTES + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise LoadError(f"{path}: cannot read {info.filename} ({error})") from None
    if len(data) > MAX_JSON_BYTES:
        raise LoadError(f"{path}: {info.filename} is larger than {MAX_JSON_BYTES:,} bytes")
    return data


def _member_stream(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> io.RawIOBase | io.BytesIO:
    """A seekable stream of one member: a window onto the zip when stored, else inflated (bounded)."""
    if info.compress_type != zipfile.ZIP_STORED:
        if info.file_size > MAX_INFLATED_WEIGHTS:
            raise LoadError(
                f"{path}: {info.filename} is compressed and declares {info.file_size:,} bytes "
                f"(limit {MAX_INFLATED_WEIGHTS:,})"
            )
        return io.BytesIO(_read_bounded(archive, info, path))
    total = path.stat().st_size
    with path.open("rb") as stream:
        stream.seek(info.header_offset)
        header = stream.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size or header[:4] != ZIP_MAGIC:
        raise LoadError(f"{path}: zip entry {info.filename} has no valid local header")
    name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:]
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    if start + info.file_size > total:
        raise LoadError(
            f"{path}: {info.filename} declares {info.file_size:,} bytes but the file ends {total - start:,} bytes in"
        )
    return _Window(path, start, info.file_size)


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    try:
        with archive.open(info) as member:
            data = member.read(MAX_INFLATED_WEIGHTS + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise LoadError(f"{path}: cannot read {info.filename} ({error})") from None
    if len(data) > MAX_INFLATED_WEIGHTS:
        raise LoadError(f"{path}: {info.filename} inflates past {MAX_INFLATED_WEIGHTS:,} bytes")
    return data


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes of a file starting at ``start``."""

    def __init__(self, path: Path, start: int, size: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._start, self._size, self._position = start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(min(len(view), self._size - self._position), 0)
        if count == 0:
            return 0
        self._file.seek(self._start + self._position)
        read = self._file.readinto(view[:count]) or 0
        self._position += read
        return read

    def close(self) -> None:
        self._file.close()
        super().close()
