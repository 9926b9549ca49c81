"""Arrays that are windows of a memory-mapped file (ONNX external data): telling them apart from arrays in memory,
and letting the kernel drop their resident pages once read."""

from __future__ import annotations

import mmap

import numpy as np


def mapped_file(view: np.ndarray | None) -> bool:
    """Whether ``view`` is a window of a memory-mapped file (an ``np.memmap`` or a view of one), not an array in
    memory."""
    return _file_array(view) is not None


def _file_array(view: np.ndarray | None) -> np.ndarray | None:
    """The array right above the memory map ``view``'s memory belongs to, or ``None`` for an array in memory."""
    base = view
    while isinstance(base, np.ndarray) and not isinstance(base.base, mmap.mmap):
        base = base.base
    return base if isinstance(base, np.ndarray) else None


def drop_pages(view: np.ndarray) -> None:
    """Tell the kernel it may drop the resident pages of ``view`` when ``view`` is a contiguous window of a
    memory-mapped file (they are read from the file again if touched), so a pass over a mapped weight keeps a chunk
    resident, not the weight; a no-op for arrays in memory."""
    base = _file_array(view)
    if base is None or not view.flags.c_contiguous or not hasattr(mmap, "MADV_DONTNEED"):
        return
    mapping = base.base
    start = view.ctypes.data - np.frombuffer(mapping, np.uint8).ctypes.data
    low = start // mmap.PAGESIZE * mmap.PAGESIZE
    high = min(-(-(start + view.nbytes) // mmap.PAGESIZE) * mmap.PAGESIZE, len(mapping))
    if high > low:
        mapping.madvise(mmap.MADV_DONTNEED, low, high - low)
