"""An HDF5 file cut short, told from its superblock before anything else reads it.

The superblock at the start of every HDF5 file records the file's end-of-file address (the size the library
wrote, counted from the file's first byte even when a user block comes first).  A file shorter than that was cut
short: saying so is the one useful answer, where the structures running past the cut would otherwise be reported
as corrupt (the HDF5 library compares the same two numbers when it opens a file, but only after the global heap
check of ``hdf5_heaps.py`` has walked the file).  Superblock layouts by version
(HDF5 file format specification, "Superblock"):

=======  ==========================================================================================
version  bytes after the 8-byte signature, up to the end-of-file address
=======  ==========================================================================================
0, 1     versions (5 bytes), offset size, length size, reserved, two tree ranks (4 bytes), flags (4);
         version 1 then two more bytes of rank and two reserved; base, free-space and end-of-file addresses
2, 3     version, offset size, length size, flags; base, extension and end-of-file addresses
=======  ==========================================================================================
"""

from __future__ import annotations

from inspector.errors import LoadError
from inspector.plugins.keras.signatures import HDF5_MAGIC

HEAD_BYTES = 64
"""Bytes of a file's start that hold every superblock field read here (offsets of at most 8 bytes)."""
_ADDRESSES_AT = {0: 24, 1: 28, 2: 12, 3: 12}
"""Where the addresses start, by superblock version; the end-of-file address is the third (base, free space or
extension, end of file)."""
_OFFSET_SIZE_AT = {0: 13, 1: 13, 2: 9, 3: 9}


def declared_end(head: bytes) -> int | None:
    """The byte count the superblock at the start of ``head`` says its file has (its end-of-file address);
    ``None`` when ``head`` does not start with a superblock this reads, or the address is undefined."""
    if not head.startswith(HDF5_MAGIC) or len(head) <= len(HDF5_MAGIC):
        return None
    version = head[len(HDF5_MAGIC)]
    if version not in _ADDRESSES_AT or len(head) <= _OFFSET_SIZE_AT[version]:
        return None
    size = head[_OFFSET_SIZE_AT[version]]
    start = _ADDRESSES_AT[version]
    if size not in (2, 4, 8) or len(head) < start + 3 * size:
        return None
    end = int.from_bytes(head[start + 2 * size : start + 3 * size], "little")
    return None if end == (1 << (8 * size)) - 1 else end


def refuse_truncated(head: bytes, size: int, where: str) -> None:
    """Raise ``LoadError`` when the HDF5 file starting with ``head`` is ``size`` bytes, fewer than its superblock
    says it has."""
    end = declared_end(head)
    if end is not None and size < end:
        raise LoadError(f"{where}: truncated HDF5 file: its superblock says it has {end:,} bytes, it has {size:,}")
