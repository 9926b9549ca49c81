"""A check the HDF5 library lacks: every global heap collection's objects fit inside the collection.

HDF5 loops forever reading a variable-length string (every Keras attribute is one) from a global heap collection
in which it meets an object that does not advance its walk (free space of size 0), as one flipped bit in an object
size makes happen.  Collections are found by their signature
(``GCOL``, version 1, three zero bytes) and walked before h5py reads anything; HDF5 files that use 8-byte
lengths (every h5py file) are laid out as walked here.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_SIGNATURE = b"GCOL\x01\x00\x00\x00"
_HEADER = 16
"""Signature, version, three reserved bytes, collection size."""
_OBJECT_HEADER = 16
"""Object index, reference count, four reserved bytes, object size."""
CHUNK_BYTES = 8 * 2**20
"""Bytes of a file searched at a time."""


def broken_heap(data: bytes | mmap.mmap, start: int = 0, end: int | None = None) -> int | None:
    """The offset (from ``start``) of the first global heap collection in ``data[start:end]`` that HDF5 would
    loop on or read past, or ``None``."""
    end = len(data) if end is None else end
    at = data.find(_SIGNATURE, start, end)
    while at != -1:
        if not _fits(data, at, end):
            return at - start
        at = data.find(_SIGNATURE, at + 1, end)
    return None


def broken_heap_in_file(path: Path, start: int = 0, length: int | None = None) -> int | None:
    """``broken_heap`` over ``length`` bytes of a file from ``start`` (all of it by default).

    Signatures are searched a ``CHUNK_BYTES`` read at a time, and each collection found is walked in a memory map
    of the file, so the check holds a chunk and the pages of the collections it walks, whatever the file's size.
    """
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end = len(data) if length is None else min(start + length, len(data))
        for at in _signatures(stream, start, end):
            if not _fits(data, at, end):
                return at - start
    return None


def _signatures(stream: BinaryIO, start: int, end: int) -> Iterator[int]:
    """Offsets of every collection signature in the file's bytes ``start..end``, read a chunk at a time; chunks
    overlap by a signature's length less one, so each signature is found once."""
    position = start
    while position < end:
        stream.seek(position)
        chunk = stream.read(min(CHUNK_BYTES, end - position))
        at = chunk.find(_SIGNATURE)
        while at != -1:
            yield position + at
            at = chunk.find(_SIGNATURE, at + 1)
        if not chunk or position + len(chunk) >= end:
            return
        position += len(chunk) - (len(_SIGNATURE) - 1)


def _fits(data: bytes | mmap.mmap, at: int, end: int) -> bool:
    """Walk the collection as HDF5 does: an object's header then its aligned bytes, object 0 (free space) by its
    own size; an object that does not move the walk on (HDF5 would read it forever) or runs past the end fails."""
    if at + _HEADER > end:
        return False
    (size,) = struct.unpack_from("<Q", data, at + 8)
    limit = at + size
    if size < _HEADER or limit > end:
        return False
    position = at + _HEADER
    while position + _OBJECT_HEADER <= limit:
        (index,) = struct.unpack_from("<H", data, position)
        (object_size,) = struct.unpack_from("<Q", data, position + 8)
        need = _OBJECT_HEADER + (object_size + 7) // 8 * 8 if index else object_size
        if need == 0 or position + need > limit:
            return False
        position += need
    return True
