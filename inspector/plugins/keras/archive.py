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

import contextlib
import io
import json
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from inspector.errors import LoadError
from inspector.plugins.keras.hdf5_access import attribute, child, external_link, has_attribute, open_file
from inspector.plugins.keras.hdf5_heaps import broken_heap, broken_heap_in_file
from inspector.plugins.keras.hdf5_superblock import HEAD_BYTES, refuse_truncated
from inspector.plugins.keras.signatures import ZIP_MAGIC, sniff

MAX_JSON_BYTES = 64 * 1024 * 1024
"""Largest ``config.json``/``metadata.json`` read from a zip (a real config is kilobytes)."""
MAX_INFLATED_WEIGHTS = 256 * 1024 * 1024
"""Largest compressed ``model.weights.h5`` inflated into memory (Keras itself stores it uncompressed)."""
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_ENCRYPTED, _UTF8_NAME = 0x1, 0x800
"""Zip general-purpose flag bits."""


@dataclass(frozen=True, slots=True)
class KerasFile:
    """An opened Keras file: its kind, config (``None`` for weights-only files) and HDF5 weights.

    The weights are read lazily, so the file stays open until ``close()`` (the model's ``close()`` calls it).
    """

    kind: str
    config: dict[str, Any] | None
    weights: h5py.Group
    keras_version: str
    files: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)
    """Closes the HDF5 file, then the stream it was read through."""

    def close(self) -> None:
        """Close the HDF5 file and anything it was read through (again: nothing happens)."""
        self.files.close()


def text(value: Any) -> str:
    """An HDF5 or JSON string attribute as ``str`` (h5py returns ``str``, ``bytes`` or ``numpy.bytes_``)."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return text(value[()])
    return str(value)


def string_list(node: h5py.Group, key: str, where: str) -> list[str]:
    """A list-of-strings attribute, joined from its chunked form ``key0``, ``key1``… when Keras split it."""
    if has_attribute(node, key, where):
        chunks = [attribute(node, key, where)]
    else:
        chunks = []
        while has_attribute(node, f"{key}{len(chunks)}", where):
            chunks.append(attribute(node, f"{key}{len(chunks)}", where))
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
    written = text(raw)
    try:
        document = json.loads(written)
    except (ValueError, RecursionError) as error:  # what json raises for text that is not JSON, or nests too deep
        raise LoadError(f"{what} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise LoadError(f"{what} is not a JSON object")
    return document


def _version(root: h5py.File, where: str) -> str:
    return text(attribute(root, "keras_version", where)) if has_attribute(root, "keras_version", where) else "unknown"


def open_keras(path: Path) -> KerasFile | None:
    """Open ``path`` if it is a Keras file; ``None`` when it is not one (raises ``LoadError`` when broken)."""
    kind = sniff(path)
    if kind == "zip":
        return _open_zip(path)
    if kind == "hdf5":
        return _open_hdf5(path)
    return None


def _refuse_external_links(root: h5py.File, where: str) -> None:
    """An external link would open another file, perhaps outside the model's folder: refuse the file."""
    name = external_link(root, where)
    if name is not None:
        raise LoadError(f"{where}: {name} is an external link to another file (never followed)")


def _refuse_broken_heap(offset: int | None, where: str) -> None:
    if offset is not None:
        raise LoadError(f"{where}: corrupt HDF5 global heap at byte {offset:,} (the HDF5 library would never finish)")


def _refuse_damaged(path: Path, where: str, start: int = 0, length: int | None = None) -> None:
    """Refuse the HDF5 file in ``length`` bytes of ``path`` from ``start`` (the rest of it by default) when it is
    cut short, then when a global heap would hang the HDF5 library (a cut leaves heaps running past the end)."""
    size = path.stat().st_size - start if length is None else length
    with path.open("rb") as stream:
        stream.seek(start)
        head = stream.read(min(HEAD_BYTES, size))
    refuse_truncated(head, size, where)
    _refuse_broken_heap(broken_heap_in_file(path, start, length), where)


def _open_hdf5(path: Path) -> KerasFile | None:
    where = str(path)
    _refuse_damaged(path, where)
    with contextlib.ExitStack() as files:
        root = open_file(path, where)
        files.callback(root.close)
        _refuse_external_links(root, where)
        if has_attribute(root, "model_config", where):
            config = _json(attribute(root, "model_config", where), f"{path}: root attribute model_config")
            weights = child(root, "model_weights", where)
            if weights is None:
                raise LoadError(f"{path}: has model_config but no model_weights group")
            if not isinstance(weights, h5py.Group):
                raise LoadError(f"{path}: model_weights is not a group")
            kind = "h5"
        elif has_attribute(root, "layer_names", where) or has_attribute(root, "layer_names0", where):
            config, weights, kind = None, root, "h5-weights"
        elif isinstance(child(root, "layers", where), h5py.Group):
            config, weights, kind = None, root, "weights-h5"
        else:
            return None
        version = "3" if kind == "weights-h5" else _version(root, where)
        return KerasFile(kind=kind, config=config, weights=weights, keras_version=version, files=files.pop_all())


def _open_zip(path: Path) -> KerasFile | None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise LoadError(f"{path}: not a readable zip file ({error})") from None
    with contextlib.ExitStack() as files:
        with archive:
            members = {info.filename: info for info in archive.infolist()}
            if "config.json" not in members:
                return None
            config = _json(_read_member(archive, members["config.json"], path, MAX_JSON_BYTES), f"{path}: config.json")
            metadata = (
                _json(_read_member(archive, members["metadata.json"], path, MAX_JSON_BYTES), f"{path}: metadata.json")
                if "metadata.json" in members
                else {}
            )
            if "model.weights.h5" not in members:
                raise LoadError(f"{path}: .keras file has no model.weights.h5")
            stream = files.enter_context(_member_stream(path, archive, members["model.weights.h5"]))
        where = f"{path}: model.weights.h5"
        weights = open_file(stream, where)
        files.callback(weights.close)
        _refuse_external_links(weights, where)
        version = text(metadata.get("keras_version", "unknown"))
        return KerasFile(kind="keras", config=config, weights=weights, keras_version=version, files=files.pop_all())


def _refuse_encrypted(info: zipfile.ZipInfo, path: Path) -> None:
    if info.flag_bits & _ENCRYPTED:
        raise LoadError(f"{path}: {info.filename} is encrypted")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, limit: int) -> bytes:
    """A member's bytes, refused when it declares or inflates past ``limit`` bytes, or cannot be read."""
    _refuse_encrypted(info, path)
    if info.file_size > limit:
        raise LoadError(f"{path}: {info.filename} declares {info.file_size:,} bytes (limit {limit:,})")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError) as error:
        raise LoadError(f"{path}: cannot read {info.filename} ({error})") from None
    if len(data) > limit:
        raise LoadError(f"{path}: {info.filename} inflates past {limit:,} bytes")
    return data


def _member_stream(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> io.RawIOBase | io.BytesIO:
    """A seekable stream of one member: a window onto the zip when stored, else inflated (bounded)."""
    where = f"{path}: {info.filename}"
    if info.compress_type != zipfile.ZIP_STORED:
        data = _read_member(archive, info, path, MAX_INFLATED_WEIGHTS)
        refuse_truncated(data[:HEAD_BYTES], len(data), where)
        _refuse_broken_heap(broken_heap(data), where)
        return io.BytesIO(data)
    _refuse_encrypted(info, path)
    total = path.stat().st_size
    with path.open("rb") as stream:
        stream.seek(info.header_offset)
        header = stream.read(_LOCAL_HEADER.size)
        name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:] if len(header) == _LOCAL_HEADER.size else (0, 0)
        name = stream.read(name_length)
    if len(header) < _LOCAL_HEADER.size or header[:4] != ZIP_MAGIC:
        raise LoadError(f"{path}: zip entry {info.filename} has no valid local header")
    if name != info.orig_filename.encode("utf-8" if info.flag_bits & _UTF8_NAME else "cp437"):
        raise LoadError(f"{path}: zip entry {info.filename} has the local header of another member ({name!r})")
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    if start + info.file_size > total:
        raise LoadError(
            f"{path}: {info.filename} declares {info.file_size:,} bytes but the file ends {total - start:,} bytes in"
        )
    _refuse_damaged(path, where, start, info.file_size)
    return _Window(path, start, info.file_size)


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
