"""How many threads NumPy's BLAS runs while the engine recomputes layers.

The engine's many mid-sized GEMMs run no faster on two OpenBLAS threads than on one, and much slower when the
machine is busy: each GEMM waits for its slowest thread (measured on ResNet-50 on 2 busy cores: 5.7–6.5 s of
validation with two threads, 3.3–3.5 s with one).  NumPy's wheels bundle OpenBLAS, whose own
``openblas_set_num_threads`` sets the count for the whole process; the library is found beside NumPy (its wheels'
``numpy.libs`` or ``.dylibs`` folder) under the symbol names its builds export.  With another BLAS (MKL,
Accelerate) nothing is changed.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np

_SUFFIXES = ("scipy_openblas_{}64_", "openblas_{}64_", "openblas_{}")
"""Symbol names of NumPy 2's scipy-openblas, NumPy 1's 64-bit OpenBLAS, and a plain OpenBLAS."""


@cache
def _openblas() -> tuple[ctypes._CFuncPtr, ctypes._CFuncPtr] | None:
    """OpenBLAS's ``(get_num_threads, set_num_threads)`` as NumPy loaded it, or ``None``."""
    root = Path(np.__file__).resolve().parent
    for folder in (root.parent / "numpy.libs", root / ".dylibs"):
        for path in sorted(folder.glob("*openblas*")) if folder.is_dir() else ():
            try:
                library = ctypes.CDLL(str(path))
            except OSError:
                continue
            for pattern in _SUFFIXES:
                get, put = (
                    getattr(library, pattern.format(verb), None) for verb in ("get_num_threads", "set_num_threads")
                )
                if get is not None and put is not None:
                    get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                    return get, put
    return None


def blas_threads_now() -> int | None:
    """The thread count of NumPy's OpenBLAS, or ``None`` when NumPy runs on another BLAS."""
    functions = _openblas()
    return None if functions is None else int(functions[0]())


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """NumPy's OpenBLAS on ``count`` threads inside the block, on as many as before after it."""
    functions = _openblas()
    if functions is None:
        yield
        return
    get, put = functions
    before = int(get())
    put(count)
    try:
        yield
    finally:
        put(before)
