"""Per-thread scratch buffers that the NumPy convolution engine reuses from call to call.

A fresh multi-megabyte NumPy array costs a page fault per 4 KiB page on first touch, and glibc hands freed
heap tops back to the system, so every call of the engine used to fault its column buffer, padded input
and result blocks in again: about 950 faults, 1.5 ms of a 5 ms 3x3 convolution on the development machine.
Keeping one buffer per role and thread (up to ``CACHE_LIMIT_BYTES`` each) removes that cost; larger requests
are plain allocations.  :func:`release` frees the buffers of every thread.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

CACHE_LIMIT_BYTES = 8 << 20
"""Largest buffer kept between calls, per role and thread."""


class _Buffers:
    """One thread's buffers by role (an object, so that the registry can hold it weakly)."""

    def __init__(self) -> None:
        self.by_role: dict[str, np.ndarray] = {}


_local = threading.local()
_registry: weakref.WeakSet[_Buffers] = weakref.WeakSet()


def scratch(role: str, shape: Sequence[int], dtype: DTypeLike) -> np.ndarray:
    """An uninitialised array, backed by this thread's buffer for ``role`` when it is small enough.

    Arrays from the same role alias each other: a caller must be done with one before asking for the next.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > CACHE_LIMIT_BYTES:
        return np.empty(shape, dtype)
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = _Buffers()
        _registry.add(buffers)
    raw = buffers.by_role.get(role)
    if raw is None or raw.nbytes < nbytes:
        raw = buffers.by_role[role] = np.empty(nbytes, np.uint8)
    return raw[:nbytes].view(dtype).reshape(shape)


def release() -> None:
    """Free the scratch buffers of all threads (call it while no engine call is running)."""
    for buffers in list(_registry):
        buffers.by_role.clear()
